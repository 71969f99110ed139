"""Cutting a line out of the photo for the line reader: its ink against its own paper."""

import numpy as np
import pytest
from scipy import ndimage

from digitlab.linecrop import in_middle_band, ink_over_sloping_paper, line_ink


def faint_strokes_on(paper: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three faint upright strokes (a pencil's, 0.2 over the paper) across the middle of a 64-pixel
    line crop of `paper` (bright-ink levels), with a little noise: (crop, where the strokes are)."""
    strokes = np.zeros(paper.shape, dtype=bool)
    for column in (60, 120, 180):
        strokes[16:48, column:column + 5] = True
    noise = np.random.default_rng(seed).normal(0, 0.01, paper.shape)
    crop = paper + 0.2 * ndimage.gaussian_filter(strokes.astype(float), 0.7) + noise
    return crop.astype(np.float32), strokes


@pytest.mark.parametrize("level_for", [0, 26])
def test_faint_strokes_on_paper_lit_a_little_unevenly_are_found_whole_and_alone(level_for):
    # The light falls by 0.14 across the crop (after `level_for` columns at one level): under the
    # spread that counts as a shadow's edge, so the crop was thresholded against one level, and
    # the strokes came out broken, with the paper's noise beside them (4 and 7 pieces).
    paper = np.concatenate([np.full(level_for, 0.32), np.linspace(0.32, 0.18, 260 - level_for)])
    crop, strokes = faint_strokes_on(paper[None].repeat(64, axis=0))
    mask = in_middle_band(line_ink(crop))
    assert ndimage.label(mask)[1] == 3
    assert mask[strokes].mean() > 0.9


def test_on_evenly_lit_paper_the_ink_is_the_one_levels():
    # Told the paper spreads far (so the plane is fitted), it finds no slope and keeps the mask.
    crop, strokes = faint_strokes_on(np.full((64, 260), 0.25))
    mask = in_middle_band(line_ink(crop))
    assert ink_over_sloping_paper(crop, mask, 1.0) is mask
    assert mask[strokes].mean() > 0.9 and ndimage.label(mask)[1] == 3
