"""How far handwriting leans, measured so that a leaning line can be stood upright and read."""

import numpy as np
import pytest

from digitlab.slant import writing_slant
from tests.conftest import dev_face
from tests.scanmaker import glyph_from_font, leaning


@pytest.mark.parametrize("name", ["ComicNeue-Regular", "Humor-Sans", "dkg", "kiloji"])
def test_a_hand_made_to_lean_measures_that_much_more_slant(name):
    glyph = glyph_from_font("4718052", dev_face(name))
    upright = writing_slant(glyph > 0.5)
    assert abs(upright) < 0.3
    for lean in (-0.4, 0.4):
        # Measured on stroke edges within a window of the estimate, a lean comes out a little short.
        assert 0.25 <= (writing_slant(leaning(glyph, lean) > 0.5) - upright) / lean <= 1.3


def test_an_italic_face_leans_right_and_an_upright_one_does_not():
    assert writing_slant(glyph_from_font("4188290", dev_face("dkgBI")) > 0.5) > 0.4
    assert abs(writing_slant(glyph_from_font("4188290", dev_face("ComicNeue-Regular")) > 0.5)) < 0.1


def test_too_little_ink_or_no_upright_stroke_has_no_slant():
    assert writing_slant(np.zeros((64, 200), dtype=bool)) == 0.0
    dash = np.zeros((64, 200), dtype=bool)
    dash[30:34, 20:180] = True
    assert writing_slant(dash) == 0.0
