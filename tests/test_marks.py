"""Signs between or before a number's digits (a point, a comma, a colon, a dash, a slash), which the
line reader reads past (a slash, as a 1): the number is read as before, "not sure"; the same digits
without the sign (or with a 1 for the slash) are sure."""

import numpy as np
import pytest

from digitlab.marks import marks_between_digits
from digitlab.predict import Reader
from tests.conftest import clean_scan, dev_face
from tests.scanmaker import glyph_from_font


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader.load()


def read_alike_only_the_sign_doubted(reader: Reader, face: str, written: str, digits: str) -> None:
    """`written`, with a sign, and `digits`, without it, set in a dev face: read alike, as `digits`,
    and only the first "not sure"."""
    font = dev_face(face)
    with_sign, without = (reader.read(clean_scan(glyph_from_font(text, font), side=800, fill=0.6))
                          for text in (written, digits))
    assert with_sign.text == without.text == digits
    assert with_sign.uncertain and not without.uncertain


@pytest.mark.parametrize("face", ["dkg", "Breip", "Humor-Sans"])
@pytest.mark.parametrize("written, digits", [("12:30", "1230"), ("-5", "5"), ("7-3", "73")])
def test_a_number_with_a_sign_in_it_is_read_not_sure(reader, face, written, digits):
    read_alike_only_the_sign_doubted(reader, face, written, digits)


def test_a_decimal_point_makes_a_price_not_sure(reader):
    font = dev_face("dkg")
    assert reader.read(clean_scan(glyph_from_font("12.50", font), side=800, fill=0.6)).uncertain


@pytest.mark.parametrize("face", ["DancingScript-Regular", "ComicNeue-Light", "kiloji_p"])
@pytest.mark.parametrize("written, digits", [("4,250", "4250"), ("12.50", "1250")])
def test_a_point_or_a_comma_on_the_lines_foot_is_seen(reader, face, written, digits):
    """A point or a comma sits under the line's middle band, which the reader's crop keeps to: the
    sign test looks at the line's ink with it."""
    read_alike_only_the_sign_doubted(reader, face, written, digits)


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


@pytest.mark.parametrize("face", ["dkg", "kiloji", "TomsonTalks"])
@pytest.mark.parametrize("written, with_one", [("12/05", "12105"), ("3/4", "314")])
def test_a_slash_in_a_date_or_a_fraction_is_no_1(reader, face, written, with_one):
    """The line reader reads a slash as 1, surely: the number is read the same with the face's own
    1 in its place, but only that one is sure."""
    read_alike_only_the_sign_doubted(reader, face, written, with_one)


def test_a_slash_is_straight_leaning_and_taller_than_the_digits_a_1_is_not():
    # Three upright digits 30 pixels tall (rows 15-44) and between them a straight stroke.
    def line(top: int, bottom: int, lean: float) -> np.ndarray:
        ink = np.zeros((64, 200), dtype=bool)
        for left in (20, 50, 140):
            ink[15:45, left:left + 6] = True
        rows, cols = np.mgrid[:64, :200]
        middle = (top + bottom) / 2
        ink |= (rows >= top) & (rows < bottom) & (np.abs(cols - 95 + lean * (rows - middle)) < 2.5)
        return ink

    assert marks_between_digits(line(8, 52, 0.45))      # a slash: over the tops, under the feet
    assert not marks_between_digits(line(15, 45, 0.45))  # as tall as the digits: a leaning 1
    assert not marks_between_digits(line(8, 52, 0.0))    # upright: a 1 written tall
    assert not marks_between_digits(line(8, 52, -0.45))  # leaning back
