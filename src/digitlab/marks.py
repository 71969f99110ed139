"""Signs written between or before the digits of a number: a decimal point or a comma, a colon,
a dash (a minus sign, a range). The line reader knows only digits and reads past them: "12.50"
was read "1250", "12:30" "1230", "-5" "5", each surely. A line holding one is read as before, but
not sure (`reading.read_cut`): the number read is not the one written. Found in the line's ink as
it is cut from the picture, with the pieces on the line's foot that the reader does without
(`reading.cut_line`), among the pieces of ink too small to be digits."""

from __future__ import annotations

import numpy as np

from digitlab.second_opinion import line_pieces
from digitlab.strokes import stroke_width

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


def marks_between_digits(image: np.ndarray) -> bool:
    """Whether a line's ink (`cut_line`'s, or a line image: ink bright) holds a point, a comma, a
    colon or a dash between two digits, or a dash before the first: a piece of ink at most SIGN of
    the digits' height, beside the digits rather than under one's middle. Specks of dust (smaller
    than a pen's blot, or high on the digits) and the parts of a digit are no such signs."""
    _, boxes, areas = line_pieces(image)
    if len(boxes) < 2:
        return False
    least_blot = BLOT * stroke_width(image > 0.5) ** 2
    heights = np.array([rows.stop - rows.start for rows, _ in boxes])
    digits = [box for box, height in zip(boxes, heights) if height > SIGN * heights.max()]
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
