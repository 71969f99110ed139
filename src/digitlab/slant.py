"""How far handwriting leans: measured on the edges of its upright strokes, so that a line written
in an italic or leaning hand can be stood upright before the line reader reads it.

A slant is a shear, in columns per row: positive when the writing's tops lean to the right, the
amount that a line's columns must be shifted, row by row, to stand its strokes upright.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Edges leaning within this of the current estimate of upright (about 27 degrees either side)
# are strokes' sides; flatter ones are bars and the curves of bowls.
LEAN_WINDOW = 0.5
MOST_SLANT = 1.0  # 45 degrees: past this the writing is lying down, and the line finder turns it


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def writing_slant(mask: np.ndarray, rounds: int = 4) -> float:
    """The slant of the writing in `mask` (bool, a line of it written left to right): the median
    lean of its upright strokes' edges, weighted by their contrast. Leaning edges only count as
    upright strokes once the estimate leans with them, so it is refined from upright in a few
    `rounds` (a shear adds the same to every edge's lean, so nothing is resampled). 0.0 when the
    mask holds too few upright edges to tell (a dash, a dot)."""
    if not mask.any():
        return 0.0
    smooth = ndimage.gaussian_filter(mask.astype(np.float32), 1.5)
    gy, gx = ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1)
    strength = np.hypot(gx, gy)
    edges = (strength > 0.1 * strength.max()) & (np.abs(gx) > np.abs(gy) / (MOST_SLANT + LEAN_WINDOW))
    lean, weight = gy[edges] / gx[edges], strength[edges]
    slant = 0.0
    for _ in range(rounds):
        near = np.abs(lean - slant) < LEAN_WINDOW
        if near.sum() < mask.shape[0]:  # fewer upright edge pixels than the mask has rows: no stroke to go by
            return 0.0
        estimate = float(np.clip(weighted_median(lean[near], weight[near]), -MOST_SLANT, MOST_SLANT))
        if abs(estimate - slant) < 0.02:
            return estimate
        slant = estimate
    return slant
