"""A digit model's second opinion on the line reader's digits: each digit that stands alone in
its line and that the line reader doubts is also read by the digit model, and the two decide
together (`with_second_opinion`); a piece of ink the size of a digit that the line reader left
unread is read by the digit model alone (`with_unread_pieces`); and a line holding a doubted digit
that stands alone and that the digit model is sure is no digit (a letter or a sign beside a
number, which the line reader, knowing only digits, reads as one) is not sure (`surely_no_digit`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from digitlab.preprocessing import render_mnist

DigitOpinion = Callable[[np.ndarray], np.ndarray]  # uint8 MNIST-form (N, 28, 28) -> digit probabilities (N, 10)
# The line reader's own answer stands above this: chosen on the validation lines, where asking the
# digit model about every digit that stands alone read no more lines right than asking only below
# 0.99, which asks about a sixth as many digits.
SECOND_OPINION_BELOW = 0.99
# A digit standing alone that the digit model gives "not a digit" at least this is none. Chosen on
# the validation split's numbers: asking about every digit standing alone, 0.9 flagged twice as
# many of their correct readings as 0.97 (6 against 3 of 3,200: open 6s, slender 1s) and caught no
# more misreadings (6), 0.99 caught 3; asking only about those under SECOND_OPINION_BELOW (as
# shipped: it costs no more network runs), 0.9 and 0.97 flag the same.
SURELY_NO_DIGIT = 0.97
OWN_SHARE = 0.1  # a digit's pieces are a tenth of its largest's area or more


def spike_columns(decoded: list[tuple[int, float, int, int]], stride: int) -> list[float]:
    """The column of a line image at the middle of each read digit's CTC spike (`ctc_best_path`)."""
    return [(first + last + 1) / 2 * stride for _, _, first, last in decoded]


def line_pieces(image: np.ndarray) -> tuple[np.ndarray, list[tuple[slice, slice]], np.ndarray]:
    """The pieces of ink of a line image (8-connected): their labels (1, 2, ...), boxes and areas."""
    labels, count = ndimage.label(image > 0.5, structure=np.ones((3, 3)))
    return labels, ndimage.find_objects(labels), np.bincount(labels.ravel(), minlength=count + 1)[1:]


def standalone_digits(image: np.ndarray, decoded: list[tuple[int, float, int, int]],
                      stride: int) -> list[np.ndarray | None]:
    """The ink of each read digit that stands alone in a line image: the pieces whose middle lies
    between the digit's neighbours (halfway to their spikes) and that reach no other digit's
    spike; None for a digit joined to or overlapping another, which only the line reader can read."""
    labels, pieces, areas = line_pieces(image)
    if not pieces:
        return [None] * len(decoded)
    spans = [(cols.start, cols.stop) for _, cols in pieces]
    large = areas >= 0.03 * areas.max()  # specks and dust are no digit's
    centres = spike_columns(decoded, stride)
    edges = [0.0] + [(a + b) / 2 for a, b in zip(centres[:-1], centres[1:])] + [float(image.shape[1])]
    alone: list[np.ndarray | None] = []
    for k in range(len(decoded)):
        mine = [i for i, (c0, c1) in enumerate(spans)
                if large[i] and edges[k] <= (c0 + c1) / 2 < edges[k + 1]]
        # Nor is a speck beside a digit: it made the digit small and off-centre in MNIST form.
        mine = [i for i in mine if areas[i] >= OWN_SHARE * max(areas[j] for j in mine)]
        reaches_another = any(spans[i][0] <= centres[j] < spans[i][1] for i in mine for j in range(len(centres))
                              if j != k)
        alone.append(np.isin(labels, [i + 1 for i in mine]) if mine and not reaches_another else None)
    return alone


def with_second_opinion(probabilities: np.ndarray, decoded: list[tuple[int, float, int, int]], image: np.ndarray,
                        stride: int, opinion: DigitOpinion,
                        doubt_below: float = SECOND_OPINION_BELOW) -> list[tuple[int, float, int, int]]:
    """`decoded` with every digit that the line reader is less than `doubt_below` sure of and that
    stands alone (`standalone_digits`) decided by the line reader and the digit model together: the
    product of the line reader's probabilities at the digit's spike and the digit model's,
    normalised (a product of experts). The digit model has seen each digit of the training faces
    and styles alone, the line reader has seen them in lines; where one of them misreads an unseen
    hand the other is often sure of the right digit (BENCHMARKS.md)."""
    doubtful = [k for k, (_, confidence, _, _) in enumerate(decoded) if confidence < doubt_below]
    if not doubtful:
        return decoded
    alone = standalone_digits(image, decoded, stride)
    asked = [k for k in doubtful if alone[k] is not None]
    if not asked:
        return decoded
    answers = opinion(np.stack([render_mnist(alone[k]) for k in asked]))
    out = list(decoded)
    for k, answer in zip(asked, answers):
        digit, _, first, last = decoded[k]
        spike = first + int(np.argmax(probabilities[first:last + 1, digit + 1]))
        line_reader = probabilities[spike, 1:] / probabilities[spike, 1:].sum()
        both = (line_reader + 1e-9) * (answer[:10] / answer[:10].sum() + 1e-9)
        both /= both.sum()
        best = int(both.argmax())
        out[k] = (best, float(both[best]), first, last)
    return out


def unread_pieces(image: np.ndarray, decoded: list[tuple[int, float, int, int]],
                  stride: int) -> list[tuple[int, int, np.ndarray]]:
    """The pieces of ink in a line image of a digit's size (a tenth of the largest piece's area or
    more, half the tallest piece's height or more) with no digit read on them or near them, each
    as (first column, last column + 1, mask): the line reader left them out (a bold 1 beside a 0,
    read "0"; an open-looped 9 beside a 0, read "0", surely)."""
    labels, pieces, areas = line_pieces(image)
    if not pieces or not decoded:
        return []
    heights = np.array([rows.stop - rows.start for rows, _ in pieces])
    centres = spike_columns(decoded, stride)
    unread = []
    for i, (_, cols) in enumerate(pieces):
        if areas[i] < 0.1 * areas.max() or heights[i] < 0.5 * heights.max():
            continue
        # A digit's spike may fall a little off its ink (a 1 read a frame or two beside it).
        gap = min(max(cols.start - centre, centre - cols.stop, 0.0) for centre in centres)
        if gap > max(2 * stride, 0.5 * (cols.stop - cols.start)):
            unread.append((cols.start, cols.stop, labels == i + 1))
    return unread


def with_unread_pieces(decoded: list[tuple[int, float, int, int]], image: np.ndarray, stride: int,
                       opinion: DigitOpinion | None) -> tuple[list[tuple[int, float, int, int]], bool]:
    """`decoded` with each piece the line reader left unread (`unread_pieces`) that the digit model
    reads as a digit (more likely than "not a digit") put in its place, at the digit model's
    confidence; and whether any such piece is left unread (without a digit model, any): then the
    line's reading is not sure, whatever its digits say."""
    unread = unread_pieces(image, decoded, stride)
    if not unread or opinion is None:
        return decoded, bool(unread)
    answers = opinion(np.stack([render_mnist(mask) for _, _, mask in unread]))
    out, left = list(decoded), False
    for (first, last, _), answer in zip(unread, answers):
        digit = int(np.argmax(answer[:10]))
        if len(answer) > 10 and answer[10] >= answer[digit]:
            left = True
            continue
        out.append((digit, float(answer[digit]), first // stride, max(first, last - 1) // stride))
    return sorted(out, key=lambda entry: entry[2]), left


def surely_no_digit(image: np.ndarray, decoded: list[tuple[int, float, int, int]], stride: int,
                    opinion: DigitOpinion, above: float = SURELY_NO_DIGIT,
                    doubt_below: float = SECOND_OPINION_BELOW) -> bool:
    """Whether a digit read in a line image, less than `doubt_below` surely, stands alone
    (`standalone_digits`) and the digit model gives "not a digit" `above` for it: "12 kg" is read
    "12169" by the line reader, which knows nothing but digits; the digit model has seen letters
    and signs. The digits asked about are those `with_second_opinion` asks about, so with a
    `remembering` opinion the question costs nothing more; and so is any piece no wider than tall
    that was read as several digits, one of them doubted (`read_as_several`)."""
    if all(confidence >= doubt_below for _, confidence, _, _ in decoded):
        return False  # nothing is asked about (most lines): no need to label the line's pieces
    alone = standalone_digits(image, decoded, stride)
    asked = [mask for mask, (_, confidence, _, _) in zip(alone, decoded)
             if mask is not None and confidence < doubt_below]
    asked += read_as_several(image, decoded, stride, doubt_below)
    if not asked:
        return False
    answers = opinion(np.stack([render_mnist(mask) for mask in asked]))
    return answers.shape[1] > 10 and bool((answers[:, 10] >= above).any())


def read_as_several(image: np.ndarray, decoded: list[tuple[int, float, int, int]], stride: int,
                    doubt_below: float = SECOND_OPINION_BELOW) -> list[np.ndarray]:
    """The pieces of ink in a line image, no wider than tall and of a digit's size (three tenths
    of the largest's area or more), on which the line reader read two digits or more, one of them
    less than `doubt_below` surely: "#" read "74", "N" read "11". Two digits side by side are
    wider than tall."""
    labels, pieces, areas = line_pieces(image)
    if not pieces or len(decoded) < 2:
        return []
    centres = spike_columns(decoded, stride)
    several = []
    for i, (rows, cols) in enumerate(pieces):
        on_it = [k for k, centre in enumerate(centres) if cols.start <= centre < cols.stop]
        if (areas[i] >= 0.3 * areas.max() and len(on_it) >= 2 and cols.stop - cols.start <= rows.stop - rows.start
                and min(decoded[k][1] for k in on_it) < doubt_below):
            several.append(labels == i + 1)
    return several


def remembering(opinion: DigitOpinion) -> DigitOpinion:
    """`opinion`, asked once about each picture: a line's digits are asked about twice, for
    their digit and whether they are digits at all (`surely_no_digit`)."""
    answers: dict[bytes, np.ndarray] = {}

    def ask(images: np.ndarray) -> np.ndarray:
        new = [image for image in images if image.tobytes() not in answers]
        if new:
            answers.update(zip((image.tobytes() for image in new), opinion(np.stack(new))))
        return np.stack([answers[image.tobytes()] for image in images])
    return ask
