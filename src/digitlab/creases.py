"""A fold's crease: a fine straight line at any slope across a photographed page, which the digits
it crosses join into one piece with it at working resolution. Found by a Hough transform over that
piece (`strongest_line`), followed along the page where it fades, and taken out where it runs alone
or through the middle of the writing it crosses (`line_through`). Used by `edges.lines_across` at
working resolution, and in a line's crop, where a crease too faint to show there is found, by
`crease_across`."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

CREASE_SPAN = 0.3          # a fine line at any slope through the writing: this share of the picture's side long,
LINE_GAP = 5               # ... broken by gaps this long at most,
LINE_COVERED = 0.75        # ... and showing over this share of its length at least
ALONGSIDE = 0.15           # ink along one side of it, within this share of its length, half its length: no crease
CROSSING = 0.9             # in a line crop: from its border to its border, this share of its height long at least


def line_through(own: np.ndarray, box: tuple[slice, slice], faint: np.ndarray, shortest: float,
                 both_ends: bool = False, origin: np.ndarray | None = None) -> tuple[np.ndarray, float] | None:
    """A fine straight line at any slope, `shortest` pixels long or more, from the picture's edge
    (to its edge as well, with `both_ends`; or crossing `origin`, bool, the picture's shape:
    another crease), that runs through a piece (`own`, its mask in its `box`) holding more than
    it, and on through the rest of the `faint` ink: a fold's crease, or a line ruled across the
    page, that digits touch (faint, it may break in two). The line's pixels (bool, the picture's
    shape) and its length; None where the piece holds no such line."""
    height, width = faint.shape
    own_ys, own_xs = np.nonzero(own)
    own_ys, own_xs = own_ys + box[0].start, own_xs + box[1].start
    angle, offset = strongest_line(own_xs, own_ys, height + width)
    ys, xs = np.nonzero(faint)
    signed = xs * np.cos(angle) + ys * np.sin(angle) - offset
    along = -xs * np.sin(angle) + ys * np.cos(angle)
    away = np.abs(signed)
    band = away <= 1.5
    start = int(np.floor(along[band].min()))
    covered = np.zeros(int(np.ceil(along[band].max())) - start + 1, dtype=bool)
    covered[np.rint(along[band]).astype(np.int64) - start] = True
    # The run along the line through the piece, over gaps of a few pixels where it fades.
    labelled, _ = ndimage.label(ndimage.maximum_filter1d(covered, LINE_GAP))
    middle = int(np.rint(np.median(-own_xs * np.sin(angle) + own_ys * np.cos(angle)))) - start
    run = labelled == labelled[int(np.clip(middle, 0, covered.size - 1))]
    if not run.any() or covered[run].mean() < LINE_COVERED:
        return None
    first, last = np.flatnonzero(run)[[0, -1]] + start
    length = float(last - first + 1)
    if length < shortest:
        return None
    within = (along >= first - 1) & (along <= last + 1)
    # The votes' half-degree steps leave the line a pixel or two off at its ends: fit it.
    fitted = band & within
    residual = signed - np.polyval(np.polyfit(along[fitted], signed[fitted], 1), along)
    away = np.abs(residual)
    on = (away <= 2) & within
    ends = [(xs[on][k], ys[on][k]) for k in (int(np.argmin(along[on])), int(np.argmax(along[on])))]
    at_edge = [min(x, width - 1 - x) <= 0.03 * width or min(y, height - 1 - y) <= 0.03 * height for x, y in ends]
    crosses = origin is not None and bool(origin[ys[on], xs[on]].any())
    if not (all(at_edge) if both_ends else (any(at_edge) or crosses)):
        return None
    # Fine: beside the line, a little farther out, ink only where writing crosses it (a pen lying
    # on the paper is as broad all along).
    beside = (away > 2) & (away <= 5)
    crossed = np.unique(np.rint(along[beside]).astype(np.int64))
    if np.count_nonzero((crossed >= first) & (crossed <= last)) > 0.5 * length:
        return None
    # A crease crosses the writing; a line with ink along one side of it for half its length is
    # the edge of something: a box's top over the digits in it, a light pen's other side.
    spread = [np.unique(np.rint(along[side & within])).size / length
              for side in ((residual > 2) & (residual <= ALONGSIDE * length),
                           (residual < -2) & (residual >= -ALONGSIDE * length))]
    if max(spread) >= 0.5 and min(spread) < 0.5 * max(spread):
        return None
    # Where writing crosses it, the line's middle goes, and the writing keeps the rest. Further
    # along, where it faded out for a stretch, what shows of it goes where nothing crosses it.
    at_crossing = np.isin(np.rint(along).astype(np.int64), np.union1d(np.union1d(crossed - 1, crossed), crossed + 1))
    on = (away <= 2) & ~at_crossing | on & (away <= 1)
    line = np.zeros(faint.shape, dtype=bool)
    line[ys[on], xs[on]] = True
    return line, length


def creases_crossing(faint: np.ndarray, lines: list[tuple[np.ndarray, float]],
                     shortest: float) -> list[tuple[np.ndarray, float]]:
    """`lines` (`line_through`'s, in the `faint` ink) and the creases that cross them, `shortest`
    pixels long or more, fading out before the picture's edge: a sheet folded twice, the second
    crease running from the first into the writing, which kept it as a stroke ("40" read
    "1\n1\n40")."""
    found = np.any([line for line, _ in lines], axis=0)
    near = ndimage.binary_dilation(found, iterations=2)
    left = faint & ~found
    rest, _ = ndimage.label(left, structure=np.ones((3, 3)))
    more = []
    for i, box in enumerate(ndimage.find_objects(rest)):
        # Any piece from them: the second crease, faint, breaks into dashes as short as a digit.
        own = rest[box] == i + 1
        if not (own & near[box]).any():
            continue
        line = line_through(own, box, left, shortest, origin=near)
        if line is not None:
            more.append(line)
    return lines + more


def crease_across(mask: np.ndarray) -> np.ndarray:
    """The ink of a fine straight line that crosses a line crop (`mask`, bool) from its border to
    its border, at any slope, the crop's height long at least: a crease too faint to show at
    working resolution, which the crop's finer threshold finds, and which read as a 1 beside the
    digits or as a stroke of one it crosses ("463" read "468"). Digits keep their ink where it
    crosses them (`line_through`); the crop's margin keeps them clear of its border."""
    height, width = mask.shape
    found = np.zeros_like(mask)
    sides = [mask[0], mask[-1], mask[:, 0], mask[:, -1]]
    if sum(bool(side.any()) for side in sides) < 2:  # most crops: their ink clear of the border
        return found
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    for i, box in enumerate(ndimage.find_objects(labels)):
        rows, cols = box
        touching = (rows.start == 0) + (rows.stop == height) + (cols.start == 0) + (cols.stop == width)
        if touching < 2 or max(rows.stop - rows.start, cols.stop - cols.start) < CROSSING * height:
            continue
        line = line_through(labels[box] == i + 1, box, mask, CROSSING * height, both_ends=True)
        # Across the crop, not along it: a line along the writing is a ruled line's (`ruling`), and
        # hollow lettering, cut through, lost its insides with one.
        if line is not None and (line[0][:2].any() or line[0][-2:].any()):
            found |= line[0]
    return found


def strongest_line(xs: np.ndarray, ys: np.ndarray, reach: int) -> tuple[float, int]:
    """The straight line through most of the pixels (`xs`, `ys`, within `reach` of the origin), as
    a Hough transform finds it in half-degree steps: its normal's angle (radians, 0-pi) and its
    distance from the origin along it."""
    angles = np.radians(np.arange(0.0, 180.0, 0.5))
    offsets = np.rint(np.outer(xs, np.cos(angles)) + np.outer(ys, np.sin(angles))).astype(np.int64)
    span = reach + 1
    votes = np.bincount((offsets + span + np.arange(angles.size) * 2 * span).ravel(),
                        minlength=angles.size * 2 * span).reshape(angles.size, 2 * span)
    votes = votes[:, :-2] + votes[:, 1:-1] + votes[:, 2:]  # a line 2-3 pixels wide counts whole
    best, offset = np.unravel_index(int(np.argmax(votes)), votes.shape)
    return float(angles[best]), int(offset) + 1 - span
