"""Cutting a line out of the photo for the line reader: its ink against its own paper."""

import math

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digitlab.ink import find_ink
from digitlab.linecrop import (
    THIN_PEN,
    _reduced_under,
    grid_lines,
    in_middle_band,
    ink_over_sloping_paper,
    line_crop,
    line_ink,
    pen_share,
)
from digitlab.linefinding import find_lines
from digitlab.reading import READ_SIDE
from tests.scanmaker import app_drawing


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


def cut(picture):
    """The first line's ink map, line, crop and coefficients, and the crop's step in the picture's pixels."""
    ink = find_ink(picture, work_side=READ_SIDE)
    line = find_lines(ink)[0]
    bright, coefficients = line_crop(ink, line)
    return ink, line, bright, coefficients, math.hypot(coefficients[0], coefficients[3])


def test_a_pens_share_of_a_crop_pixel_tells_a_hairline_from_a_pen():
    # Digits 400 pixels high are cut about 10 pixels to the crop's one: an app's 1-pixel pencil
    # fills a tenth of it, a 3-pixel pen a third (more where its strokes meet), a 14-pixel marker all of it.
    shares = []
    for pen in (1, 3, 14):
        ink, line, bright, coefficients, step = cut(app_drawing("747", 400, pen))
        shares.append(pen_share(ink.gray, ink, line, coefficients, bright.shape, step))
    assert shares[0] < 0.2 < shares[1] < THIN_PEN < 0.9 < shares[2]


@pytest.mark.parametrize("text, height", [("747", 120), ("2741", 120), ("66", 400)])
def test_a_hairline_number_is_cut_a_piece_to_a_digit(text, height):
    # The crop's samples fell between a 1-pixel pencil's strokes: "2741" came out in 9 pieces,
    # and those off the line's middle band were lost (it read "7141"); where a crop pixel spans
    # more, what they caught was too faint to count as ink (the "66": no digit found).
    _, _, bright, _, _ = cut(app_drawing(text, height))
    assert ndimage.label(in_middle_band(line_ink(bright)), structure=np.ones((3, 3)))[1] == len(text)


def test_the_leaning_columns_of_squared_paper_leave_a_crop_and_the_digits_they_cross_stay():
    # Squared paper photographed in perspective, or a crop sheared to stand a leaning hand upright:
    # the grid's columns cross the crop leaning, where the straight runs looked for upright did not
    # find them, and each read as a 1 ("613" read "7613").
    crop = np.zeros((64, 240), dtype=bool)
    digits = np.zeros_like(crop)
    digits[16:48, 40:46] = digits[16:48, 110:116] = True     # two bold strokes, as wide as the pen
    digits[16:21, 150:190] = digits[43:48, 150:190] = True   # and a bar over and under a third digit
    lines = np.zeros_like(crop)
    for top, lean in ((20, 0.12), (100, -0.1), (200, 0.0)):
        for y in range(64):
            lines[y, int(round(top + lean * y))] = True
    lines[4:12] = False                                      # broken where the print is faint
    lines[40] = False                                        # and where a row of the grid went
    ink = crop | digits | lines
    kept = ink & ~grid_lines(ink, slant=0.3)
    left = ndimage.find_objects(ndimage.label(kept & lines & ~digits)[0])
    assert all(rows.stop - rows.start <= 4 for rows, _ in left)  # at most the lines' ends above the gaps
    assert kept[digits].all()
    # A thin stroke that runs down half the crop from its top, alone, is no column: a digit's hairline.
    hairline = np.zeros_like(crop)
    hairline[0:30, 75] = True
    assert not grid_lines(digits | hairline)[hairline].any()


def test_a_crop_samples_the_same_pixels_from_the_part_reduced_under_it():
    # A large picture is box-reduced before a line's crop is sampled from it; only the part under
    # the crop is, on the whole picture's grid, with room for the bilinear samples (and crops that
    # run past the picture's edges).
    rng = np.random.default_rng(1)
    for _ in range(60):
        height, width = rng.integers(200, 900, 2)
        gray = rng.integers(0, 256, (height, width)).astype(np.uint8)
        k, angle, slant = rng.uniform(0.05, 0.3), rng.uniform(-1, 1), rng.uniform(-0.5, 0.5)
        cos, sin = math.cos(angle), math.sin(angle)
        coefficients = np.array([cos / k, -(sin + cos * slant) / k, rng.uniform(-100, width),
                                 sin / k, (cos - sin * slant) / k, rng.uniform(-100, height)])
        size, factor = (int(rng.integers(20, 300)), 64), max(2, int(1 / k // 1.5))
        whole = Image.fromarray(gray).reduce(factor).transform(
            size, Image.Transform.AFFINE, tuple(coefficients / factor), Image.Resampling.BILINEAR, fillcolor=77)
        part, sampling = _reduced_under(gray, coefficients, (size[1], size[0]), factor)
        under = part.transform(size, Image.Transform.AFFINE, sampling, Image.Resampling.BILINEAR, fillcolor=77)
        np.testing.assert_array_equal(np.asarray(under), np.asarray(whole))
