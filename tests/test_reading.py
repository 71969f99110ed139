"""Reading whole numbers where the pieces alone are ambiguous: touching digits and wide digits."""

import numpy as np

from digitlab.predict import Predictor
from tests.conftest import clean_scan


def side_by_side(left: np.ndarray, right: np.ndarray, overlap: int) -> np.ndarray:
    """Two glyphs on one baseline, `overlap` columns of ink shared so the strokes touch."""
    height = max(left.shape[0], right.shape[0])
    out = np.zeros((height, left.shape[1] + right.shape[1] - overlap), dtype=np.float32)
    out[height - left.shape[0]:, :left.shape[1]] = left
    region = out[height - right.shape[0]:, left.shape[1] - overlap:]
    np.maximum(region, right, out=region)
    return out


def test_touching_digits_are_split_by_reading(trained_run, font_glyph):
    predictor = Predictor.load(trained_run)
    four, seven = font_glyph("4", "Humor-Sans"), font_glyph("7", "Humor-Sans")
    blob = side_by_side(four, seven, overlap=int(0.12 * four.shape[1]))
    reading = predictor.read(clean_scan(blob, fill=0.3, side=800))
    assert reading.text == "47"
    assert reading.digits[0]["box"][2] <= reading.digits[1]["box"][2]


def test_a_wide_single_digit_is_not_cut_in_two(trained_run, font_glyph):
    from PIL import Image

    predictor = Predictor.load(trained_run)
    zero = font_glyph("0", "Humor-Sans")
    wide = np.asarray(Image.fromarray(zero).resize((int(zero.shape[1] * 1.7), zero.shape[0])))
    assert wide.shape[1] > 1.1 * wide.shape[0]  # wider than tall: the width alone says "two digits"
    assert predictor.read(clean_scan(wide, fill=0.3, side=800)).text == "0"
