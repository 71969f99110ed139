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


def test_a_hard_shadow_over_most_of_the_photo(trained_run, font_glyph):
    from PIL import Image

    from digitlab.preprocessing import find_ink, other_polarity

    glyph = font_glyph("3", "Humor-Sans")
    page = np.full((800, 800), 240.0)
    ink = np.asarray(Image.fromarray((glyph * 255).astype(np.uint8)).resize(
        (int(300 * glyph.shape[1] / glyph.shape[0]), 300)), dtype=np.float64) / 255
    top, left = 250, 400 - ink.shape[1] // 2
    page[top:top + 300, left:left + ink.shape[1]] = 240 * (1 - ink) + 20 * ink
    yy, xx = np.mgrid[:800, :800]
    page[xx + 0.5 * yy > 600] *= 0.45  # the shadow of a hand or a phone, over more than half the photo
    photo = Image.fromarray(page.astype(np.uint8))
    assert not find_ink(photo).inverted  # the whole picture alone suggests light ink on dark...
    assert other_polarity(photo) == "dark"  # ...but it is doubtful, so the other reading is tried
    assert Predictor.load(trained_run).predict([photo])[0].digit == 3
