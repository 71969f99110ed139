"""A form's row of boxes, written one digit to a box, in a line's crop: its top and bottom edges,
and the walls between its boxes, which read as 1s if they stay (`linecrop.line_ink` leaves them
out)."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from digitlab.strokes import stroke_width

WALL_SHEARS = np.linspace(-0.4, 0.4, 17)  # a box's walls lean as far as the writing's slant may
# The crop's line lies at the writing's angle, which the walls may pull off the box's by this much,
# and a photo in perspective tilts the box's top and bottom apart.
BOX_SLOPES = np.tan(np.radians(np.arange(-12.0, 12.5, 1.0)))
# The most that a box's walls lean apart (a shear), photographed askew: as far as the dev faces'
# boxes lean apart, 0.15, and a step more.
PARALLEL_WALLS = 0.2
EDGE_GAP = 5    # a box's thin top or bottom, thresholded in a line's crop, breaks: its columns may lie this far
THIN_EDGE = 2   # apart (4 lost); thin: this many rows at most (the outline over hollow lettering's tops is thicker)


def box_walls(mask: np.ndarray, ruled: np.ndarray | None = None, slant: float = 0.0) -> np.ndarray:
    """The ink of a form's row of boxes, one digit to a box, in a line crop's ink (bool): a straight
    line across the top of the writing (`box_edges`), one across its bottom, and three or more
    straight strokes from one to the other, upright or leaning, about evenly apart (the row's
    ends and the walls between its boxes). Cut free from the top and bottom as they were, each
    wall read as a 1 ("50651" read "510161511"), and a digit that touches a wall was one piece
    with it. On ruled paper (`ruled`: where its lines cross the crop) the box's top and bottom are
    looked for apart from the ruled lines, and along them where the box was drawn on one; a crop
    sheared by `slant` to stand its writing upright shears the walls as much. Bool, the mask's
    shape (nothing found: none)."""
    found = np.zeros_like(mask)
    height, width = mask.shape
    if height < 8 or not mask.any():
        return found
    clear = mask if ruled is None else mask & ~ruled
    top, bottom = box_edges(*np.nonzero(clear), mask.shape)
    if ruled is not None and (top is None or bottom is None):
        along = box_edges(*np.nonzero(mask), mask.shape, through=True)
        top, bottom = top or along[0], bottom or along[1]
    if top is None or bottom is None:
        return found
    shears = WALL_SHEARS + slant
    # For every column where a wall could leave the top and every lean, the share of the
    # segment down to the bottom that runs over ink.
    start = np.arange(width)[None, :, None]
    y0 = top[0] + top[1] * (start - width / 2)
    end = start + shears[:, None, None] * (bottom[0] + bottom[1] * (start - width / 2) - y0)
    y1 = bottom[0] + bottom[1] * (end - width / 2)
    steps = np.linspace(0.0, 1.0, max(4, int(bottom[0] - top[0]) + 1))[None, None, :]
    sample_x = np.rint(start + (end - start) * steps).astype(int)
    sample_y = np.rint(y0 + (y1 - y0) * steps).astype(int)
    near = ndimage.maximum_filter1d(mask.view(np.uint8), 3, axis=1) > 0
    inside = (sample_x >= 0) & (sample_x < width) & (sample_y >= 0) & (sample_y < height)
    cover = (near[np.clip(sample_y, 0, height - 1), np.clip(sample_x, 0, width - 1)] & inside).mean(axis=2)
    best = cover.max(axis=0)  # (columns,): at the best lean
    strong = np.flatnonzero(best >= 0.95)
    # Each wall: the middle of the columns where it is crossed best, and as wide as they are.
    walls, halves = [], []
    for run in np.split(strong, np.flatnonzero(np.diff(strong) > 1) + 1):
        if run.size:
            peak = run[best[run] >= best[run].max()]
            walls.append(int(round((peak[0] + peak[-1]) / 2)))
            halves.append((peak[-1] - peak[0]) / 2)
    walls, halves = evenly_apart(walls, halves, 0.4 * (bottom[0] - top[0]))
    if not walls:
        return found
    # Each wall's lean (the middle one of those that cross it best), and where it meets the bottom.
    best_leans = [np.flatnonzero(cover[:, x] >= cover[:, x].max()) for x in walls]
    leans = [int(found_leans[len(found_leans) // 2]) for found_leans in best_leans]
    feet = [end[k, x, 0] for x, k in zip(walls, leans)]
    # A form's boxes are drawn with a ruler or printed: their walls lie parallel, as the upright
    # strokes of writing that line up with a ruled line over and under it seldom do.
    if np.ptp(shears[leans]) > PARALLEL_WALLS:
        return found
    # Each wall from where it leaves the top to where it meets the bottom, and its shear.
    segments = [(x, y0[0, x, 0], foot, y1[k, x, 0], shears[k]) for x, k, foot in zip(walls, leans, feet)]
    # Squared paper's lines make rows of boxes too, but run on past the top and bottom.
    if walls_run_on(near, segments, (top[2], bottom[2])):
        return found
    # The top and bottom end at the row's ends, at one end at least: the lines of ruled paper run
    # on across the page (on ruled paper they are measured without its lines, and a box drawn
    # along one ends there; where the paper's ruling was not found, the line runs on one way).
    ends = [(walls[0], walls[-1]), (feet[0], feet[-1])]
    if ruled is not None:
        clear_ys, clear_xs = np.nonzero(clear)
        top, bottom = (edge[:3] + _ink_along(edge, clear_ys, clear_xs, width, *span)
                       for edge, span in zip((top, bottom), ends))
    reach = 2 * max(halves) + 3
    if any(edge[3] < first - reach and edge[4] > last + reach for edge, (first, last) in zip((top, bottom), ends)):
        return found
    pen = max(1.0, stroke_width(mask))
    # A box's top and bottom stand clear of the writing inside, but where a digit touches them:
    # the tops of bold digits that line up (hollow lettering closed at this size) have ink below
    # across every box. (Not across the row: bold digits fill two of three boxes to their tops.)
    inner = np.arange(walls[0], walls[-1] + 1)
    inner = inner[np.abs(inner[:, None] - np.array(walls)[None, :]).min(axis=1) > pen + 1]
    box_of = np.searchsorted(np.array(walls), inner)  # the box each of those columns lies in
    for (middle, slope, thickness, *_), inward in ((top, 1), (bottom, -1)):
        within = np.rint(middle + slope * (inner - width / 2) + inward * (thickness / 2 + 1.5)).astype(int)
        under = mask[np.clip(within, 0, height - 1), inner]
        if inner.size and min(under[box_of == k].mean() for k in np.unique(box_of)) > 0.5:
            return found
    rows, cols = np.mgrid[0:height, 0:width]
    for (x_top, y_top, _, y_foot, shear), half in zip(segments, halves):
        # Across the wall's lean, as far as it is wide (a pixel more each way).
        across = np.abs((cols - x_top) - shear * (rows - y_top)) / math.hypot(1.0, shear)
        found |= (across <= half + 1.5) & (rows >= min(y_top, y_foot) - pen) & (rows <= max(y_top, y_foot) + pen)
    # The top and bottom go with the walls: a box left whole is read as hollow lettering.
    for middle, slope, thickness, *_ in (top, bottom):
        along = (np.abs(rows - (middle + slope * (cols - width / 2))) <= thickness / 2 + 0.5)
        found |= along & (cols >= walls[0] - pen) & (cols <= walls[-1] + pen)
    found &= mask
    # Boxes hold digits (a form may leave some empty): half of them at least hold what is left of
    # the ink, a third of a box high, and the boxes are not most of the ink. Joined-up writing
    # that passed for boxes went nearly whole.
    left = mask & ~found
    middles = [(x + foot) / 2 for x, foot in zip(walls, feet)]
    tall = [np.flatnonzero(left[:, math.ceil(a):math.floor(b)].any(axis=1)) for a, b in zip(middles, middles[1:])]
    holding = [rows_held.size > 0 and np.ptp(rows_held) >= (bottom[0] - top[0]) / 3 for rows_held in tall]
    held = 2 * sum(holding) >= len(holding) and left.sum() >= 0.2 * mask.sum()
    return found if held else np.zeros_like(mask)


def walls_run_on(near: np.ndarray, walls: list[tuple], thickness: tuple[float, float]) -> bool:
    """Whether most `walls` (each its top's column and row, its foot's, and its shear) go on
    past the row's top and bottom edges (of `thickness` rows), in the ink `near` them, 2-5 pixels
    beyond each edge, as the lines of squared paper do; a form's walls end at its edges."""
    height, width = near.shape
    through = 0
    for x0, y0, x1, y1, shear in walls:
        beyond = []
        for (x, y), sign, thick in (((x0, y0), -1, thickness[0]), ((x1, y1), 1, thickness[1])):
            steps = thick / 2 + np.arange(2, 6)
            ys, xs = np.rint(y + sign * steps).astype(int), np.rint(x + sign * shear * steps).astype(int)
            inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
            beyond.append(bool(inside.all()) and int(near[ys, xs].sum()) >= 3)
        through += all(beyond)
    return 2 * through > len(walls)


def evenly_apart(walls: list[int], halves: list[float], narrowest: float) -> tuple[list[int], list[float]]:
    """Of the straight strokes from a box's top to its bottom (`walls`, left to right, with their
    half widths), those that divide it into two or more boxes about as wide as each other, and
    none narrower than `narrowest`: the most boxes for which a stroke stands within a sixth of a
    box's width of each place that a wall should. A digit's stroke from top to bottom (a 1 that
    touches both, a 4's stem) stands between; the outlines of hollow lettering whose tops line up
    have walls a stroke's width apart. None found: ([], [])."""
    if len(walls) < 3:
        return [], []
    first, last = walls[0], walls[-1]
    for boxes in range(len(walls) - 1, 1, -1):
        width = (last - first) / boxes
        if width < narrowest:
            continue
        places = first + width * np.arange(boxes + 1)
        nearest = np.abs(np.array(walls)[None, :] - places[:, None]).argmin(axis=1)
        if (np.abs(np.array(walls)[nearest] - places) <= width / 6).all():
            return [walls[k] for k in nearest], [halves[k] for k in nearest]
    return [], []


def box_edges(ys: np.ndarray, xs: np.ndarray, shape: tuple[int, ...], through: bool = False) -> list[tuple | None]:
    """The straight lines across most of a crop's ink (`ys`, `xs`) in its upper and its lower
    two-fifths, at any of BOX_SLOPES: each line's row at the crop's middle column, its slope, its
    thickness in rows and its first and last column; None where no line of one slope and row
    holds ink unbroken (but for a pixel or two) over 70% of the ink's columns, and ends in the
    crop (or, `through`, may run across it: a box drawn along a ruled line)."""
    height, width = shape
    if xs.size == 0:
        return [None, None]
    least = 0.7 * (np.ptp(xs) + 1)
    # A line's columns are columns of ink: where no run of those (but for the gaps that break a
    # thin line, EDGE_GAP) is long enough, neither is a line (most numbers: the gaps between
    # digits break the run).
    if _longest_run(np.unique(xs), EDGE_GAP)[0] < least:
        return [None, None]
    lean = np.rint(BOX_SLOPES[:, None] * (xs - width / 2)).astype(int)
    offset = int(np.abs(lean).max())
    rows = ys[None, :] - lean + offset  # at one slope and row, one pixel per column at most
    span = int(rows.max()) + 1
    counts = np.bincount((rows + span * np.arange(len(BOX_SLOPES))[:, None]).ravel(),
                         minlength=span * len(BOX_SLOPES)).reshape(len(BOX_SLOPES), span)
    middle = np.arange(span) - offset
    edges: list[tuple | None] = []
    for allowed in (middle < 0.4 * height, middle > 0.6 * height):
        here = np.where(allowed[None, :], counts, 0)
        edge = None
        for slope, row in zip(*np.unravel_index(np.argsort(here, axis=None)[::-1][:8], here.shape)):
            # A line at a slope between two of BOX_SLOPES spreads over the rows beside its own.
            if here[slope, max(0, row - 1):row + 2].sum() < least:
                continue
            # Its middle and thickness: the rows about it that hold half as much ink or more.
            near = np.arange(max(0, row - 3), min(span, row + 4))
            thick = near[here[slope, near] >= 0.5 * here[slope, row]]
            # Unbroken, as the tops of digits that line up along a slope are not (but for gaps of
            # a pixel or two; a thin line, which thresholding breaks, for up to EDGE_GAP); ending
            # in the crop, as a ruled line under or over the row (removed later) does not.
            gap = EDGE_GAP if thick.size <= THIN_EDGE else 3
            count, first, last = _longest_run(np.unique(xs[np.abs(rows[slope] - row) <= 1]), gap)
            if count < least or (first <= 2 and last >= width - 3 and not through):
                continue
            edge = (float(middle[thick].mean()), float(BOX_SLOPES[slope]), float(thick.size), first, last)
            break
        edges.append(edge)
    return edges


def _ink_along(edge: tuple, ys: np.ndarray, xs: np.ndarray, width: int, left: float, right: float) -> tuple[int, int]:
    """The first and last column of the ink (`ys`, `xs`) on a line found by `box_edges` where it
    runs on (through gaps of a few pixels) from the columns `left` to `right`; those columns
    where no ink on the line reaches them."""
    middle, slope, thickness = edge[:3]
    columns = np.unique(xs[np.abs(ys - (middle + slope * (xs - width / 2))) <= thickness / 2 + 1])
    runs = [run for run in _runs(columns) if run.size and run[-1] >= left and run[0] <= right]
    return (int(runs[0][0]), int(runs[-1][-1])) if runs else (int(left), int(right))


def _runs(columns: np.ndarray, gap: int = 3) -> list[np.ndarray]:
    """Sorted, distinct `columns` split where a gap of more than `gap` breaks them."""
    return np.split(columns, np.flatnonzero(np.diff(columns) > gap) + 1)


def _longest_run(columns: np.ndarray, gap: int = 3) -> tuple[int, int, int]:
    """Of sorted, distinct, non-empty `columns`, the longest run that no gap of more than `gap`
    breaks (the first of the longest): how many columns it holds, its first and its last."""
    longest = max(_runs(columns, gap), key=len)
    return int(longest.size), int(longest[0]), int(longest[-1])
