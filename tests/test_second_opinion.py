"""The digit model's second opinion on the line reader's digits: which digits it is asked about,
and how the two readings decide together."""

import dataclasses

import numpy as np
import pytest

from digitlab.errors import DigitlabError
from digitlab.reading import ctc_best_path, placed_line
from digitlab.second_opinion import (
    read_as_several,
    remembering,
    standalone_digits,
    surely_no_digit,
    unread_pieces,
    with_second_opinion,
    with_unread_pieces,
)


def mnist_line(mnist5k, gaps: list[int]) -> tuple[np.ndarray, list[tuple[int, float, int, int]], list[int]]:
    """Real MNIST test digits 3, 5, 1, 7 set side by side with `gaps` (columns, negative: overlap)
    as a line image; the spikes a line reader would place at their middles; their digits' columns."""
    from digitlab.textlines import LINE_HEIGHT

    images, labels = mnist5k.test.images.numpy(), mnist5k.test.labels.numpy()
    digits = [3, 5, 1, 7]
    glyphs = [images[np.flatnonzero(labels == d)[0]] > 100 for d in digits]
    glyphs = [g[:, np.flatnonzero(g.any(axis=0))] for g in glyphs]
    width = sum(g.shape[1] for g in glyphs) + sum(max(0, gap) for gap in gaps) + 8
    mask, x, middles = np.zeros((28, width), bool), 2, []
    for k, glyph in enumerate(glyphs):
        mask[:, x:x + glyph.shape[1]] |= glyph
        middles.append(x + glyph.shape[1] / 2)
        x += glyph.shape[1] + (gaps[k] if k < len(gaps) else 0)
    image, geometry = placed_line(mask)
    assert image.shape[0] == LINE_HEIGHT
    frames = [int(((m - geometry.left) * geometry.scale + 4) // 4) for m in middles]
    return image, [(d, 0.9, f, f) for d, f in zip(digits, frames)], digits


def test_digits_that_stand_alone_are_cut_out_and_joined_ones_are_not(mnist5k):
    image, decoded, _ = mnist_line(mnist5k, gaps=[6, 6, -5])  # 3, 5 apart; the 1 overlaps the 7
    alone = standalone_digits(image, decoded, stride=4)
    assert alone[0] is not None and alone[1] is not None
    assert alone[2] is None and alone[3] is None
    # Each cut-out digit is its own ink: the 3 lies left of the 5, and together they are all of it.
    assert np.flatnonzero(alone[0].any(axis=0)).max() < np.flatnonzero(alone[1].any(axis=0)).min()
    left_part = image[:, :np.flatnonzero(alone[1].any(axis=0)).max() + 1] > 0.5
    assert (alone[0] | alone[1])[:, :left_part.shape[1]].sum() == left_part.sum()


def test_the_digit_model_settles_a_digit_the_line_reader_doubts(mnist5k):
    image, decoded, digits = mnist_line(mnist5k, gaps=[6, 6, -5])
    assert digits == [3, 5, 1, 7]
    frames = max(f for _, _, f, _ in decoded) + 3
    probabilities = np.full((frames, 11), 1e-4)
    probabilities[:, 0] = 1.0
    for digit, _, frame, _ in decoded:
        probabilities[frame] = 1e-4
        probabilities[frame, digit + 1] = 0.6
    probabilities[decoded[0][2], 9] = 0.3    # the 3 might be an 8, says the line reader
    probabilities[decoded[1][2], 4] = 0.4    # the 5 might be a 3
    probabilities[decoded[3][2], 2] = 0.4    # the 7 might be a 1
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    line_reader = ctc_best_path(probabilities)
    asked = []

    def opinion(images: np.ndarray) -> np.ndarray:  # a digit model sure that every digit is a 3
        asked.append(images)
        answer = np.full((len(images), 10), 0.01)
        answer[:, 3] = 0.91
        return answer

    decided = with_second_opinion(probabilities, line_reader, image, 4, opinion)
    # The doubted 5 is settled; the 1 is sure and the 7 is joined to it: neither is asked about.
    assert [d for d, _, _, _ in decided] == [3, 3, 1, 7]
    assert len(asked) == 1 and asked[0].shape == (2, 28, 28) and asked[0].dtype == np.uint8
    assert decided[0][1] > 0.99 > line_reader[0][1]             # agreeing: surer than either
    assert 0.5 < decided[1][1] < 0.99                             # overruling: less sure than the digit model
    assert decided[2:] == line_reader[2:]
    assert [d[2:] for d in decided] == [d[2:] for d in line_reader]  # the same frames, so the same boxes
    # Sure enough of every digit, the line reader asks nobody.
    assert with_second_opinion(probabilities, line_reader, image, 4, opinion, doubt_below=0.5) == line_reader
    assert len(asked) == 1


def test_a_digit_the_line_reader_left_unread_is_read_by_the_digit_model(mnist5k):
    from digitlab.predict import Predictor

    image, decoded, _ = mnist_line(mnist5k, gaps=[6, 6, -5])  # 3, 5 apart; the 1 overlaps the 7
    # The line reader read "17": the 3 and the 5 lie unread, each a piece of a digit's size.
    read = decoded[2:]
    unread = unread_pieces(image, read, stride=4)
    assert len(unread) == 2 and unread[0][1] <= unread[1][0]
    assert unread_pieces(image, decoded, stride=4) == []  # a spike on every digit
    digits, left = with_unread_pieces(read, image, 4, Predictor.load().scan_probabilities)
    assert [d for d, _, _, _ in digits] == [3, 5, 1, 7] and not left
    assert digits[2:] == read and all(0.5 < confidence <= 1 for _, confidence, _, _ in digits[:2])
    # Where the digit model says "not a digit" (or there is none to ask), the line is not sure.
    not_a_digit = lambda images: np.tile(np.eye(11)[10], (len(images), 1))  # noqa: E731
    assert with_unread_pieces(read, image, 4, not_a_digit) == (read, True)
    assert with_unread_pieces(read, image, 4, None) == (read, True)
    assert with_unread_pieces(decoded, image, 4, None) == (decoded, False)


def test_a_piece_standing_alone_that_the_digit_model_is_sure_is_no_digit_is_found(mnist5k):
    from digitlab.predict import Predictor

    image, decoded, _ = mnist_line(mnist5k, gaps=[6, 6, -5])  # 3, 5 apart; the 1 overlaps the 7
    assert not surely_no_digit(image, decoded, 4, Predictor.load().scan_probabilities)
    asked = []

    def not_a_digit(share: float):
        def opinion(images: np.ndarray) -> np.ndarray:
            asked.append(len(images))
            answer = np.full((len(images), 11), (1 - share) / 10)
            answer[-1, 10] = share  # of the 5: "not a digit"
            return answer
        return opinion

    assert surely_no_digit(image, decoded, 4, not_a_digit(0.99))
    assert not surely_no_digit(image, decoded, 4, not_a_digit(0.9))
    assert asked == [2, 2]  # only the 3 and the 5 stand alone
    # Digits the line reader is sure of are not asked about.
    assert not surely_no_digit(image, decoded, 4, not_a_digit(0.99), doubt_below=0.9)
    assert asked == [2, 2]
    ten_classes = lambda images: np.full((len(images), 10), 0.1)  # noqa: E731
    assert not surely_no_digit(image, decoded, 4, ten_classes)


def test_a_piece_no_wider_than_tall_read_as_two_digits_is_asked_about():
    from digitlab.textlines import LINE_HEIGHT

    image = np.zeros((LINE_HEIGHT, 60), np.float32)
    image[4:28, 6:10] = image[4:28, 22:26] = 1.0       # an N: two uprights
    image[4:28, 10:22] = np.eye(24, 12, dtype=bool)[:, ::-1][::-1]  # and its diagonal, joining them
    image[4:28, 40:44] = 1.0                           # a 1 beside it
    decoded = [(1, 0.9, 2, 2), (1, 0.999, 5, 5), (1, 0.999, 10, 10)]  # spikes at columns 10, 22 and 42
    several = read_as_several(image, decoded, stride=4)
    assert len(several) == 1 and several[0][:, 6:26].any() and not several[0][:, 40:].any()
    sure = [(1, 0.999, 2, 2), (1, 0.999, 5, 5), (1, 0.999, 10, 10)]
    assert read_as_several(image, sure, stride=4) == []
    wide = np.zeros((LINE_HEIGHT, 60), np.float32)
    wide[4:28, 6:40] = 1.0  # two digits joined side by side: wider than tall
    assert read_as_several(wide, decoded, stride=4) == []


def test_a_speck_beside_a_digit_is_not_its_ink(mnist5k):
    image, decoded, _ = mnist_line(mnist5k, gaps=[6, 6, -5])
    alone = standalone_digits(image, decoded, stride=4)
    specked = image.copy()
    columns, rows = np.flatnonzero(alone[0].any(axis=0)), np.flatnonzero(alone[0].any(axis=1))
    assert rows.min() >= 4
    specked[0:3, columns.min() + 2:columns.min() + 6] = 1.0  # dust over the 3, not touching it
    assert (specked > 0.5).sum() == (image > 0.5).sum() + 12
    assert np.array_equal(standalone_digits(specked, decoded, stride=4)[0], alone[0])


def test_a_remembering_opinion_is_asked_once_about_each_picture():
    asked = []

    def opinion(images: np.ndarray) -> np.ndarray:
        asked.append(len(images))
        return images.reshape(len(images), -1)[:, :11].astype(float)

    pictures = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    ask = remembering(opinion)
    first = ask(pictures[:2])
    again = ask(pictures[[1, 2, 0]])
    assert asked == [2, 1]
    assert np.array_equal(again, opinion(pictures[[1, 2, 0]]))
    assert np.array_equal(first, again[[2, 0]])


def test_a_model_of_other_classes_cannot_be_the_second_opinion():
    from digitlab.predict import Predictor, Reader

    clothes = Predictor(lambda batch: np.zeros((len(batch), 10)), ["T-shirt/top", "Trouser", "Pullover", "Dress",
                        "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"], {"model": "fashion"})
    with pytest.raises(DigitlabError, match="not the digits 0-9"):
        Reader(lambda batch: np.zeros((1, 4, 11)), {"model": "lines"}, second_opinion=clothes)


def test_the_reader_flags_with_the_threshold_calibrated_for_how_it_reads():
    """Alone, the line reader's own "not sure" threshold; asking a digit model, the one calibrated
    for the pair (the second opinion changes the confidences it is asked about)."""
    from digitlab.predict import Predictor, Reader
    from tests.conftest import REPO

    number = REPO / "examples" / "number-2026.jpg"
    shipped = Reader.load(second_opinion=False)
    # The shipped file holds both (which is higher depends on the digit model asked).
    assert 0 < shipped.uncertain_below < 1 and 0 < shipped.asking_below < 1
    assert shipped.asking_below != shipped.uncertain_below
    never_alone = Reader(shipped._run_batch, shipped.info, shipped.stride, uncertain_below=0.0, asking_below=1.01)
    assert not never_alone.read(number).uncertain
    assert never_alone.asking(Predictor.load()).read(number).uncertain


def lone_seven(seed: int):
    """A dev face's plain 7 (ComicNeue-Light), alone on a photo, that the line reader surely reads
    as "1" and `predict` reads as 7 (a case of the benchmark's kind, from a scratch probe)."""
    from tests.conftest import dev_face
    from tests.scanmaker import ScanStyle, draw_scan, glyph_from_font

    style = ScanStyle(side=1130, fill=0.22, angle=3.65, shear=-0.127, noise=0.03, jpeg_quality=90, gradient=0.14,
                      tint=(228, 247, 254), ink=(16, 10, 46))
    return draw_scan(glyph_from_font("7", dev_face("ComicNeue-Light")), style, np.random.default_rng(seed))


def test_a_lone_digit_is_read_as_the_digit_model_surely_reads_it():
    from digitlab.predict import Reader

    alone = Reader.load(second_opinion=False)
    asking = Reader.load()
    for seed in range(3):
        photo = lone_seven(seed)
        by_lines = alone.read(photo)
        assert by_lines.text == "1" and not by_lines.uncertain  # the line reader's own misreading
        read = asking.read(photo)
        assert read.text == "7" and not read.uncertain
        assert read.digits[0]["box"] == by_lines.digits[0]["box"]  # where the line reader found it
        assert read.lines[0]["text"] == "7" and read.lines[0]["digits"] == read.digits


def test_a_lone_digit_the_digit_model_doubts_or_a_doubted_line_is_not_taken_surely(monkeypatch):
    """The digit model's digit is taken only where it is sure; a line doubted for more than its
    confidence (which way up, a sign beside it) stays "not sure" with the digit model's digit."""
    from digitlab import reading
    from digitlab.predict import Reader

    reader = Reader.load()
    photo = lone_seven(0)
    sure = reader.second_opinion.predict([photo])[0]
    monkeypatch.setattr(reader.second_opinion, "predict",
                        lambda sources, names=None: [dataclasses.replace(sure, uncertain=True)])
    assert reader.read(photo).text == "1"
    monkeypatch.setattr(reader.second_opinion, "predict", lambda sources, names=None: [sure])
    assert reader.read(photo).text == "7"
    read_cut = reading.read_cut
    monkeypatch.setattr(reading, "read_cut", lambda *args: read_cut(*args).doubted())
    doubted = reader.read(photo)
    assert doubted.text == "7" and doubted.uncertain


@pytest.mark.parametrize("face, written", [("BecauseWeCreate-Regular", "+5"), ("ComicNeue-Regular", "+5"),
                                           ("kiloji_d", "#7")])
def test_a_sign_the_digit_model_is_sure_is_no_digit_in_either_view_of_a_line_leaves_it_not_sure(face, written):
    """A leaning line is read as written and stood upright, and the surer reading kept; where the
    digit model is sure, in the other view, that a piece the line reader read as a digit is no
    digit, the line is not sure either, as with a sign (`marks`). These read "75", "75" and "747",
    surely, before."""
    from digitlab.predict import Reader
    from tests.conftest import clean_scan, dev_face
    from tests.scanmaker import glyph_from_font

    assert Reader.load().read(clean_scan(glyph_from_font(written, dev_face(face)), side=800, fill=0.6)).uncertain
