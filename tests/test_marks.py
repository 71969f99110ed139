"""Signs between or before a number's digits (a point, a comma, a colon, a dash), which the line
reader reads past: the number is read as before, "not sure"; the same digits without the sign are
sure."""

import numpy as np
import pytest

from digitlab.marks import marks_between_digits
from digitlab.predict import Reader
from tests.conftest import clean_scan, dev_face
from tests.scanmaker import glyph_from_font


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader.load()


@pytest.mark.parametrize("face", ["dkg", "Breip", "Humor-Sans"])
@pytest.mark.parametrize("written, digits", [("12:30", "1230"), ("-5", "5"), ("7-3", "73")])
def test_a_number_with_a_sign_in_it_is_read_not_sure(reader, face, written, digits):
    font = dev_face(face)
    with_sign = reader.read(clean_scan(glyph_from_font(written, font), side=800, fill=0.6))
    without = reader.read(clean_scan(glyph_from_font(digits, font), side=800, fill=0.6))
    assert with_sign.text == without.text == digits
    assert with_sign.uncertain and not without.uncertain


def test_a_decimal_point_makes_a_price_not_sure(reader):
    font = dev_face("dkg")
    assert reader.read(clean_scan(glyph_from_font("12.50", font), side=800, fill=0.6)).uncertain


@pytest.mark.parametrize("face", ["DancingScript-Regular", "ComicNeue-Light", "kiloji_p"])
@pytest.mark.parametrize("written, digits", [("4,250", "4250"), ("12.50", "1250")])
def test_a_point_or_a_comma_on_the_lines_foot_is_seen(reader, face, written, digits):
    """A point or a comma sits under the line's middle band, which the reader's crop keeps to: the
    sign test looks at the line's ink with it."""
    font = dev_face(face)
    with_sign = reader.read(clean_scan(glyph_from_font(written, font), side=800, fill=0.6))
    without = reader.read(clean_scan(glyph_from_font(digits, font), side=800, fill=0.6))
    assert with_sign.text == without.text == digits
    assert with_sign.uncertain and not without.uncertain


def test_a_comma_half_as_tall_as_the_digits_is_a_sign_not_a_digit():
    # Four digits 33 pixels tall, as `cut_line` cuts them, and between two of them on the line's
    # foot a comma 18 pixels tall: half the digits' height once counted it among the digits, and
    # a digit's own piece is no sign.
    ink = np.zeros((64, 180), dtype=bool)
    for left in (20, 50, 110, 140):
        ink[11:44, left:left + 6] = True
    rows, cols = np.mgrid[:64, :180]
    ink |= ((rows - 45.5) / 9.2) ** 2 + ((cols - 84 + 0.4 * (rows - 45.5)) / 4) ** 2 <= 1
    assert marks_between_digits(ink)
    assert not marks_between_digits(ink & (cols < 70) | ink & (cols >= 100))
