"""Signs written between or before the digits of a number: a decimal point or a comma, a colon,
a dash (a minus sign, a range), a slash (a date, a fraction). The line reader knows only digits
and reads past them, or reads a slash as a 1: "12.50" was read "1250", "12:30" "1230", "-5" "5",
"12/05" "12105", each surely. A line holding one is read as before, but not sure
(`reading.read_cut`): the number read is not the one written. Found in the line's ink as it is cut
from the picture, with the pieces on the line's foot that the reader does without
(`reading.cut_line`), among the pieces of ink too small to be digits; a slash, among those taller
than the digits."""

from __future__ import annotations

import numpy as np

from digitlab.second_opinion import line_pieces
from digitlab.strokes import principal_direction, stroke_width, turned

# A point or a comma (its tail makes it taller) is at most SIGN of the digits' height either way,
# no flatter than FLAT (a ruled line's remnant under the writing is), and its middle lies LOW
# down the digits' band or further: on the line's foot; of a colon, its lower point.
SIGN = 0.55
FLAT = 3.0
LOW = 0.6
DASH = 1.8   # a dash is this many times as long as it is thick, or more
# A point made by the pen is a blot about the stroke's width across (a disc's area is 0.79 of its
# width squared); a speck of dust is less. On the validation faces' numbers, the specks that had
# passed for points were 0.13-0.61 of the stroke's width squared, the dev faces' points 0.68-1.4
# (measured in the line image the reader is shown, where the test looked until 2026-12-06).
BLOT = 0.5
# A slash is a straight stroke (its spread across under SLASH_STRAIGHT of its spread along) that
# leans to the right (SLASH_LEAN columns a row or more) and stands SLASH_TALL times as tall as the
# digits beside it, over their tops and down to their feet at least; a 1 is as tall as its
# neighbours. Chosen on the validation faces: 131 of 200 slashes in dates and fractions seen, no
# number of their plain, leaning, joined, set or hollow rows (1,000) taken for one; at 1.05
# times as tall, two of the leaning row's 1s were.
SLASH_STRAIGHT = 0.15
SLASH_LEAN = 0.1
SLASH_TALL = 1.1


def marks_between_digits(image: np.ndarray) -> bool:
    """Whether a line's ink (`cut_line`'s, or a line image: ink bright) holds a point, a comma, a
    colon or a dash between two digits, or a dash before the first: a piece of ink at most SIGN of
    the digits' height, beside the digits rather than under one's middle; or a slash
    (`has_slash`). Specks of dust (smaller than a pen's blot, or high on the digits) and the parts
    of a digit are no such signs."""
    labels, boxes, areas = line_pieces(image)
    if len(boxes) < 2:
        return False
    heights = np.array([rows.stop - rows.start for rows, _ in boxes])
    digit_pieces = [k for k, height in enumerate(heights) if height > SIGN * heights.max()]
    if has_slash(labels, boxes, heights, digit_pieces):
        return True
    least_blot = BLOT * stroke_width(image > 0.5) ** 2
    digits = [boxes[k] for k in digit_pieces]
    top = float(np.median([rows.start for rows, _ in digits]))
    tall = float(np.median([rows.stop for rows, _ in digits])) - top
    first = min(cols.start for _, cols in digits)
    last = max(cols.stop for _, cols in digits)
    for (rows, cols), area in zip(boxes, areas):
        high, wide = rows.stop - rows.start, cols.stop - cols.start
        centre = (cols.start + cols.stop) / 2
        # A digit's own piece (a 7's crossbar, a 1's foot) lies under its middle; a sign set
        # close may reach under a digit's edge (an italic 2's foot runs on under a colon).
        own = any(c.start + 0.2 * (c.stop - c.start) <= centre <= c.stop - 0.2 * (c.stop - c.start) for _, c in digits)
        if high > SIGN * tall or own or cols.stop > last:
            continue
        middle = ((rows.start + rows.stop) / 2 - top) / tall
        dash = wide >= DASH * high and 0.2 * tall <= wide <= tall and 0.3 <= middle <= 0.75
        blot = wide <= SIGN * tall and wide <= FLAT * high and area >= least_blot and middle >= LOW
        if dash or (blot and cols.start > first):
            return True
    return False


def has_slash(labels: np.ndarray, boxes: list[tuple[slice, slice]], heights: np.ndarray, tall: list[int]) -> bool:
    """Whether one of a line's pieces of ink (`line_pieces`: `labels`, `boxes`; their `heights`)
    among the `tall` ones (a digit's height) is a slash: straight, leaning to the right and taller
    than the other digits, reaching over their tops and down to their feet (SLASH_STRAIGHT,
    SLASH_LEAN, SLASH_TALL)."""
    if len(tall) < 2:  # a slash is told by the digits beside it
        return False
    for k in tall:
        others = [j for j in tall if j != k]
        usual = float(np.median(heights[others]))
        rows, cols = boxes[k]
        if (heights[k] < SLASH_TALL * usual or rows.start > np.median([boxes[j][0].start for j in others])
                or rows.stop < np.median([boxes[j][0].stop for j in others]) - 0.05 * usual):
            continue
        ys, xs = (values.astype(np.float64) for values in np.nonzero(labels[rows, cols] == k + 1))
        angle = principal_direction(xs, ys)
        along, across = turned(xs - xs.mean(), ys - ys.mean(), angle)
        # Columns a row, positive when the top leans right (rows count down the picture).
        lean = -np.cos(angle) / np.sin(angle) if abs(np.sin(angle)) > 1e-6 else np.inf
        if across.std() <= SLASH_STRAIGHT * along.std() and lean >= SLASH_LEAN:
            return True
    return False
