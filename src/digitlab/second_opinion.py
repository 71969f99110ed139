"""A digit model's second opinion on the line reader's digits: each digit that stands alone in
its line and that the line reader doubts is also read by the digit model, and the two decide
together (`with_second_opinion`)."""

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


def standalone_digits(image: np.ndarray, decoded: list[tuple[int, float, int, int]],
                      stride: int) -> list[np.ndarray | None]:
    """The ink of each read digit that stands alone in a line image: the pieces whose middle lies
    between the digit's neighbours (halfway to their spikes) and that reach no other digit's
    spike; None for a digit joined to or overlapping another, which only the line reader can read."""
    mask = image > 0.5
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count == 0:
        return [None] * len(decoded)
    spans = [(piece[1].start, piece[1].stop) for piece in ndimage.find_objects(labels)]
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    large = areas >= 0.03 * areas.max()  # specks and dust are no digit's
    centres = [(first + last + 1) / 2 * stride for _, _, first, last in decoded]
    edges = [0.0] + [(a + b) / 2 for a, b in zip(centres[:-1], centres[1:])] + [float(mask.shape[1])]
    alone: list[np.ndarray | None] = []
    for k in range(len(decoded)):
        mine = [i for i, (c0, c1) in enumerate(spans)
                if large[i] and edges[k] <= (c0 + c1) / 2 < edges[k + 1]]
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
