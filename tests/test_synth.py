"""Training images beyond MNIST: rendered faces, styles drawn onto real strokes, tiny pictures,
non-digits. Each depends only on (seed, index) and comes out in MNIST form."""

import numpy as np
import pytest
from scipy import ndimage

from digitlab import synth
from digitlab.errors import DigitlabError
from digitlab.fonts import face_files
from digitlab.preprocessing import render_mnist


@pytest.fixture(scope="module")
def face():
    try:
        return face_files(["patrick-hand"])["patrick-hand"][0]
    except DigitlabError:
        pytest.skip("training faces not fetched (make test runs `digitlab fonts fetch`)")


def added_ink(plain: np.ndarray, styled: np.ndarray) -> np.ndarray:
    """What a style drew: the styled mask minus the plain one (the canvas only ever grows to the
    right and down when the glyph has room above and to the left)."""
    grown = np.zeros_like(styled)
    grown[:plain.shape[0], :plain.shape[1]] = plain
    return styled & ~grown


def test_a_one_gets_a_flag_and_a_foot(mnist5k):
    ones = mnist5k.train.images[mnist5k.train.labels == 1][:20].numpy()
    for i, image in enumerate(ones):
        plain = np.pad(synth.upscale_mnist(image) > 0.4, 40)
        added = added_ink(plain, synth.flag_and_foot(plain, np.random.default_rng(i)))
        assert added.sum() > 0.1 * plain.sum()  # strokes were drawn
        rows = np.flatnonzero(plain.any(axis=1))
        top, height = rows[0], np.ptp(rows)
        added_rows = np.nonzero(added)[0]
        # ...at the top (a flag) or at the base (a foot), not along the stem
        at_ends = (added_rows < top + 0.5 * height) | (added_rows > top + 0.85 * height)
        assert at_ends.mean() > 0.9


def test_a_seven_gets_a_crossbar_through_its_stem(mnist5k):
    sevens = mnist5k.train.images[mnist5k.train.labels == 7][:10].numpy()
    for i, image in enumerate(sevens):
        plain = np.pad(synth.upscale_mnist(image) > 0.4, 40)
        rows = np.flatnonzero(added_ink(plain, synth.crossbar(plain, np.random.default_rng(i))).any(axis=1))
        height = np.ptp(np.flatnonzero(plain.any(axis=1)))
        assert len(rows) and np.ptp(rows) < 0.3 * height  # one short, level bar
        top = np.flatnonzero(plain.any(axis=1))[0]
        assert 0.35 * height < rows.mean() - top < 0.75 * height  # halfway down, not at the top bar


def test_a_closed_four_encloses_a_hole(mnist5k):
    fours = mnist5k.train.images[mnist5k.train.labels == 4][:30].numpy()
    closed = 0
    for i, image in enumerate(fours):
        mask = synth.closed_top(synth.upscale_mnist(image) > 0.4, np.random.default_rng(i))
        closed += (ndimage.binary_fill_holes(mask) & ~mask).sum() > 20
    assert closed >= 25


def test_hollow_lettering_keeps_only_the_edge_of_a_bold_stroke(face):
    ink = synth.glyph_ink("3", face) > 0.5
    outline = synth.hollow(ink, np.random.default_rng(0))
    holes = ndimage.binary_fill_holes(outline) & ~outline
    assert holes.sum() > 0.3 * outline.sum()  # the stroke's inside is empty


def test_narrowed_writing_is_squeezed_sideways_with_the_pen_as_broad(face):
    from digitlab.strokes import stroke_width

    ink = synth.glyph_ink("0", face) > 0.5
    width = np.ptp(np.flatnonzero(ink.any(axis=0))) + 1
    for seed in range(5):
        narrow = synth.narrowed(ink, np.random.default_rng(seed))
        assert narrow.shape[0] == ink.shape[0]
        assert 0.35 * width < np.ptp(np.flatnonzero(narrow.any(axis=0))) + 1 < 0.85 * width
        assert 0.75 < stroke_width(narrow) / stroke_width(ink) < 1.3
        assert (ndimage.binary_fill_holes(narrow) & ~narrow).any()  # still a 0, not a bar


def test_rendered_digits_are_mnist_form_and_the_same_for_the_same_seed(face):
    images, labels = synth.font_digits([face], variants=3, seed=7)
    again, _ = synth.font_digits([face], variants=3, seed=7)
    other, _ = synth.font_digits([face], variants=3, seed=8)
    assert images.shape == (30, 28, 28) and images.dtype == np.uint8 and list(labels[:4]) == [0, 0, 0, 1]
    assert np.array_equal(images, again) and not np.array_equal(images, other)
    for image in images:
        rows, cols = np.nonzero(image > 40)
        assert max(np.ptp(rows), np.ptp(cols)) in range(17, 22)  # fit in 20x20, as MNIST
        cy, cx = ndimage.center_of_mass(image.astype(float))
        assert abs(cy - 14) < 1.5 and abs(cx - 14) < 1.5


def test_non_digits_leave_out_what_a_hand_writes_like_a_digit(face):
    for char in "OoIlSsZzBbgq|!/()":
        assert char not in synth.NOT_DIGIT_CHARS
    assert synth.has_glyphs(face, "A%#") and not synth.has_glyphs(face, "\u0416\u4e2d")
    images = synth.font_not_digits([face], variants=1, seed=0)
    assert len(images) >= 40 and images.dtype == np.uint8


def test_drawn_non_digits_and_tiny_pictures(mnist5k, face):
    drawn = synth.drawn_not_digits(12, seed=0)
    assert drawn.shape == (12, 28, 28) and (drawn.reshape(12, -1).max(axis=1) > 200).all()
    images, labels = synth.tiny_digits(mnist5k.train.images[:20].numpy(), mnist5k.train.labels[:20].numpy(),
                                       [face], font_variants=1, seed=0)
    assert len(images) >= 27 and len(images) == len(labels)  # a few tiny pictures may have no findable ink
    picture = synth.tiny_picture(synth.glyph_ink("5", face), np.random.default_rng(3))
    assert picture.dtype == np.uint8 and picture.shape[0] == picture.shape[1] <= 28


def test_elastic_distortion_moves_strokes_smoothly():
    ink = np.zeros((96, 96), np.float32)
    ink[20:76, 44:52] = 1  # a "1"
    bent = synth.elastic(ink, np.random.default_rng(0), amount=3.0, scale=24.0)
    assert abs(bent.sum() - ink.sum()) < 0.15 * ink.sum()  # moved, not erased
    assert not np.allclose(bent, ink)
    assert np.corrcoef(render_mnist(bent > 0.5).ravel(), render_mnist(ink > 0.5).ravel())[0, 1] > 0.6
