"""How wide the strokes of a mask are: the measure the scan pipeline, the reader's line images
and the generators bring strokes to MNIST's width by, and how broad a shape is at its broadest
(`thickest`); how solid a shape is (`solidity`) and
how nearly four-cornered (`quadrilateral_share`); and where a piece's pixels lie along and across
its length (`principal_axes`), and whether they make one straight stroke (`stick_shaped`)."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

STICK_WIDTH = 0.15  # straight: across its length, no wider than this share of it

def typical_stroke(labels: np.ndarray, count: int) -> float:
    """The typical stroke width of a mask's pieces (`labels`, `count` as `ndimage.label` gives
    them): their median, each piece voting by the square root of its area. A page's digits
    outvote the odd large blob (the desk in a corner of the photo), while a digit that fills the
    picture outvotes the specks of dust beside it (by count alone two specks outvoted it)."""
    if count == 0:
        return 0.0
    mask = labels > 0
    # `stroke_width` of every piece at once: pieces touch only diagonally, and an erosion looks
    # at the four direct neighbours, so one erosion of the whole mask finds each piece's boundary.
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    boundary = np.bincount(labels[mask & ~erode(mask)], minlength=count + 1)[1:]
    widths = 2 * areas / np.maximum(boundary, 1)
    kept = areas >= 0.01 * areas.max()
    widths, votes = widths[kept], np.sqrt(areas[kept])
    order = np.argsort(widths)
    tally = np.cumsum(votes[order])
    return float(widths[order][np.searchsorted(tally, tally[-1] / 2)])


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: area over half the boundary length."""
    area = mask.sum()
    boundary = (mask & ~erode(mask)).sum()
    return float(2 * area / max(boundary, 1))


def erode(mask: np.ndarray) -> np.ndarray:
    """`ndimage.binary_erosion(mask)` (the four-neighbour cross, outside the picture counting as
    background) in five array operations: five times faster on a working-size mask, and it runs
    on every picture."""
    padded = np.pad(mask.astype(bool, copy=False), 1)
    return (padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2]
            & padded[1:-1, 2:])


def principal_axes(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels' coordinates (`xs`, `ys`) along and across the principal axis of their second
    moments, from their centre: a straight stroke's length is the spread of the first, its width
    that of the second. The axis in closed form, as a 2x2 covariance allows."""
    return turned(xs - xs.mean(), ys - ys.mean(), principal_direction(xs, ys))


def turned(xs: np.ndarray, ys: np.ndarray, angle: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Image coordinates in the frame of writing at `angle`: (along, across). Angles as a column
    (shape (K, 1)) turn the points to all K frames at once."""
    cos, sin = np.cos(angle), np.sin(angle)
    return xs * cos + ys * sin, -xs * sin + ys * cos


def stick_shaped(along: np.ndarray, across: np.ndarray) -> bool:
    """Whether pixels, by their coordinates along and across their principal axis
    (`principal_axes`), make one straight stroke: no wider across than STICK_WIDTH of its length."""
    return bool(np.ptp(across) + 1 <= STICK_WIDTH * (np.ptp(along) + 1))


def principal_direction(xs: np.ndarray, ys: np.ndarray) -> float:
    """The direction (radians, axial) of the principal axis of pixels' second moments."""
    x, y = xs - xs.mean(), ys - ys.mean()
    return 0.5 * math.atan2(2 * float(x @ y), float(x @ x - y @ y))


def thickest(mask: np.ndarray) -> float:
    """The width of a mask's broadest part: twice the farthest any of its pixels lies from outside."""
    return 2 * float(ndimage.distance_transform_edt(np.pad(mask, 1)).max())


def solidity(region: np.ndarray) -> float:
    """A region's area over its convex hull's: 1 for a sheet of paper seen at any angle, far less
    for the shape of a digit."""
    hull = _hull(region)
    return 0.0 if hull is None else float(np.count_nonzero(region) / hull.volume)


def quadrilateral_share(region: np.ndarray) -> float:
    """How much of a region's convex hull the largest quadrilateral on the hull's corners covers:
    1 for a sheet of paper seen at any angle and in any perspective (and for a triangle), 2/pi
    for an ellipse."""
    hull = _hull(region)
    if hull is None:
        return 0.0
    corners = hull.points[hull.vertices].astype(np.float64)
    if len(corners) <= 4:
        return 1.0
    # Every diagonal i-k with the farthest corner on each side of it. Corners are tens; more are
    # thinned to 64 in order (the quadrilateral found can then only be smaller).
    corners = corners[np.linspace(0, len(corners), min(len(corners), 64), endpoint=False).astype(int)]
    offset = corners[None, :, :] - corners[:, None, :]  # [i, k]: from corner i to corner k
    cross = offset[:, :, None, 0] * offset[:, None, :, 1] - offset[:, :, None, 1] * offset[:, None, :, 0]  # [i, k, j]
    quadrilateral = (cross.max(axis=2) - cross.min(axis=2)).max() / 2
    return float(quadrilateral / hull.volume)


def _hull(region: np.ndarray):
    """The convex hull (`scipy.spatial.ConvexHull`) of a region's pixels' squares; None for an
    empty or flat region."""
    from scipy.spatial import ConvexHull, QhullError

    # The hull of the pixels' squares is that of each row's outer corners: a few hundred points
    # for Qhull instead of four per pixel (50 ms for a sheet that fills the picture).
    rows = np.flatnonzero(region.any(axis=1))
    if rows.size == 0:
        return None
    filled = region[rows]
    left = filled.argmax(axis=1)
    right = region.shape[1] - filled[:, ::-1].argmax(axis=1)
    points = np.stack([np.concatenate([left, left, right, right]),
                       np.concatenate([rows, rows + 1, rows, rows + 1])], 1)
    try:
        return ConvexHull(points)
    except QhullError:
        return None
