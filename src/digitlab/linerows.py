"""Which of a page's pieces of ink make one row of writing, across the direction the writing
runs: rows by where the pieces' middles lie, joined again where the digits of one line rise and
fall; and the measures of a row that the line finder shares: the digits' height, a straight
stroke, a stroke no hand writes as a 1 (a pen lying by the writing).
"""

from __future__ import annotations

import math
import statistics
from typing import NamedTuple

import numpy as np

from digitlab.strokes import principal_axes, principal_direction, stick_shaped, turned

# A written 1 alone on its line, beside other numbers, stands about as tall as their digits: a
# stroke half again as tall is no 1. One leaning far is a sheared hand's, no taller across the
# writing than its digits (a pen lying so measured 1.3 times), and one nearer flat than upright
# is none at all.
PEN_HEIGHT = 1.5
LEANING_PEN_HEIGHT = 1.25
SIGN_HEIGHT = 0.6  # a piece this share of the digits' height or less, within a row's band, is on that row
# Two rows of digits side by side (none over another) that share this share of the taller one's
# height are one line whose digits rise and fall (`staggered_rows_joined`).
STAGGER_SHARE = 0.4


class RowLayout(NamedTuple):
    """How a page's pieces lie at one angle: each one's rectangle in the frame of writing, the
    digits' height, the flat dashes, the pieces as tall as digits (by their centres across the
    writing), the rows they make, and whether two rows were joined as one line whose digits rise
    and fall, or two rows' bands overlap (the angle may be one digit's rise to the next)."""

    extent: dict[int, tuple[float, float, float, float]]
    typical: float
    dashes: set[int]
    big: list[int]
    rows: list[list[int]]
    staggered: bool
    pens: set[int]  # strokes no hand writes as a 1 (`no_written_one`): a pen lying by the writing

    @property
    def writing(self) -> list[list[int]]:
        """The rows without a pen in them."""
        return [row for row in self.rows if not self.pens.intersection(row)]


def rows_at(pixels: dict, keep: list[int], inner: set[int], angle: float, pens_in_one_row: bool = False
            ) -> RowLayout:
    """The rows of pieces (`keep`, less `inner` rings, which join the rows later as small pieces
    do) across the writing at `angle`: each piece as tall as a digit joins the first row whose
    middle lies within half a digit's height of its own (the rows joined again where their digits
    rise and fall, `staggered_rows_joined`). A lone row is looked at for pens only when
    `pens_in_one_row`: nothing is joined to it, and looking costs a third of a millisecond a
    picture."""
    extent = {i: turned_extent(pixels[i], angle) for i in keep}
    typical = typical_height(pixels, extent, [i for i in keep if i not in inner])
    # Flat dashes (a ruled line's remnant, an underline) are never digits.
    dashes = {i for i in keep if extent[i][3] - extent[i][2] < 0.3 * typical
              and extent[i][1] - extent[i][0] > 2 * typical}
    big = sorted((i for i in keep if i not in dashes and extent[i][3] - extent[i][2] >= 0.45 * typical
                  and i not in inner), key=lambda i: (extent[i][2] + extent[i][3]) / 2)
    rows: list[list[int]] = []
    for i in big:
        centre = (extent[i][2] + extent[i][3]) / 2
        for row in rows:
            row_centre = statistics.median((extent[j][2] + extent[j][3]) / 2 for j in row)
            if abs(centre - row_centre) < 0.5 * typical:
                row.append(i)
                break
        else:
            # A short piece by a row's band, as a small piece is (below), is a sign written on the
            # row (a comma's tail reaches down past the digits' foot), not a line of its own.
            held = by_band(rows, extent, typical, centre)
            if held and extent[i][3] - extent[i][2] < SIGN_HEIGHT * typical:
                held[0].append(i)
            else:
                rows.append([i])
    pens = {i for i in big if straight(pixels[i]) and no_written_one(pixels[i], extent[i], angle, typical)
            } if len(rows) > 1 or pens_in_one_row else set()
    joined = staggered_rows_joined(rows, extent, typical, pens)
    bands = [row_band(row, extent) for row in joined if not pens.intersection(row)]
    overlapping = any(min(a[1], b[1]) > max(a[0], b[0]) for k, a in enumerate(bands) for b in bands[k + 1:])
    return RowLayout(extent, typical, dashes, big, joined, overlapping or len(joined) < len(rows), pens)


def band_height(layout: RowLayout) -> float:
    """How far across the writing the digits of a layout's one row of writing reach."""
    top, foot = row_band(layout.writing[0], layout.extent)
    return foot - top


def row_band(row: list[int], extent: dict[int, tuple[float, float, float, float]]) -> tuple[float, float]:
    """How far across the writing a row's pieces reach: (top, foot)."""
    return min(extent[j][2] for j in row), max(extent[j][3] for j in row)


def by_band(rows: list[list[int]], extent: dict[int, tuple[float, float, float, float]], typical: float,
            centre: float) -> list[list[int]]:
    """The rows whose band (a fifth of the digits' height wider each way) holds `centre`."""
    return [row for row in rows if (band := row_band(row, extent))[0] - 0.2 * typical <= centre
            <= band[1] + 0.2 * typical]


def turned_extent(piece: tuple[np.ndarray, np.ndarray], angle: float) -> tuple[float, float, float, float]:
    """A piece's rectangle (u0, u1, v0, v1) in the frame of writing at `angle`."""
    u, v = turned(*piece, angle)
    return float(u.min()), float(u.max()) + 1, float(v.min()), float(v.max()) + 1


def staggered_rows_joined(rows: list[list[int]], extent: dict[int, tuple[float, float, float, float]],
                          typical: float, pens: set[int]) -> list[list[int]]:
    """`rows` with any two that make one line of digits rising and falling joined. Old-style
    figures (a 6 or an 8 rising over the rest, a 3, 4, 5, 7 or 9 hanging below their foot) and a
    hand whose digits bounce off the line put the digits of one number at heights further apart
    than half theirs, and the row finder made two lines of them, read apart and out of order. Two
    rows are one when their bands share over STAGGER_SHARE of the taller one's height and their
    digits stand side by side, within a digit's height of each other and none over another (two
    lines of writing stand one over the other), and neither holds one of `pens`."""
    rows = [list(row) for row in rows]

    def side_by_side(a: list[int], b: list[int]) -> bool:
        for i in a:
            for j in b:
                overlap = min(extent[i][1], extent[j][1]) - max(extent[i][0], extent[j][0])
                if overlap > 0.3 * min(extent[i][1] - extent[i][0], extent[j][1] - extent[j][0]):
                    return False
        gaps = [max(extent[i][0] - extent[j][1], extent[j][0] - extent[i][1]) for i in a for j in b]
        return min(gaps) < typical

    def one_line(a: list[int], b: list[int]) -> bool:
        if pens.intersection(a + b):
            return False
        (top_a, foot_a), (top_b, foot_b) = row_band(a, extent), row_band(b, extent)
        shared = min(foot_a, foot_b) - max(top_a, top_b)
        return shared > STAGGER_SHARE * max(foot_a - top_a, foot_b - top_b) and side_by_side(a, b)

    joined = True
    while joined:
        joined = False
        pairs = [(a, b) for a in range(len(rows)) for b in range(a + 1, len(rows))]
        for a, b in pairs:
            if one_line(rows[a], rows[b]):
                rows[a] += rows.pop(b)
                joined = True
                break
    return rows


def along_centres(pixels: dict, pieces: list[int], angle: float) -> float:
    """The direction of a line of digits that rise and fall, for which the neighbours' directions
    (`writing_angle`) run up and down from one digit to the next, and `refined_angle` lines up
    neighbours that do not line up: the principal axis of the digits' centres, in the sense
    nearer `angle`."""
    centres = np.array([(pixels[j][0].mean(), pixels[j][1].mean()) for j in pieces])
    along = principal_direction(centres[:, 0], centres[:, 1])
    return along + math.pi * round((angle - along) / math.pi)


def straight(piece: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether a piece's (xs, ys) make one straight stroke (a pen, a 1, a ruled line's stub)."""
    return stick_shaped(*principal_axes(*piece))


def typical_height(pixels: dict, extent: dict[int, tuple[float, float, float, float]], pieces: list[int]) -> float:
    """The digits' height: the median of the pieces of fair size beside the tallest. The tallest
    is no measure when it is a straight stick over twice as tall as the next (a pen lying by the
    number: its digits were all small pieces, and the number read as the pen alone, "1")."""
    heights = np.array([extent[i][3] - extent[i][2] for i in pieces])
    order = np.argsort(heights)
    tallest = float(heights[order[-1]])
    if len(pieces) > 1 and tallest > 2 * heights[order[-2]] and straight(pixels[pieces[order[-1]]]):
        tallest = float(heights[order[-2]])
    return float(np.median(heights[heights >= 0.4 * tallest]))


def no_written_one(piece: tuple[np.ndarray, np.ndarray], extent: tuple[float, float, float, float], angle: float,
                   usual: float) -> bool:
    """Whether a straight stroke (`piece`, its `extent` across the writing at `angle`) is one no
    hand writes as a 1 beside digits `usual` tall: nearer flat than upright, leaning far and
    taller than them, or half again as tall."""
    # How far the stroke leans from upright across the writing (axial: 0 to 90 degrees).
    lean = abs((principal_direction(*piece) - angle) % math.pi - math.pi / 2)
    tall_for = PEN_HEIGHT if lean < math.radians(25) else LEANING_PEN_HEIGHT if lean < math.pi / 4 else 0.0
    return extent[3] - extent[2] >= tall_for * usual
