"""The component reader digitlab used before the line reader (kept here only so that the reading
benchmark can compare the two on the same images): ink components grouped left to right into
digits, doubtful joins and splits decided by the digit classifier, each digit read alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from digitlab.images import ImageSource
from digitlab.ink import Box, InkMap, find_ink
from digitlab.predict import Predictor
from digitlab.preprocessing import _union, box_in_original, component_mask, digit_mask, render_mnist


def component_read(predictor: Predictor, source: ImageSource) -> str:
    """The number on one line, as the component reader read it."""
    crops = segment_digits(source, score=lambda images: predictor.scan_probabilities(images).max(axis=1))
    if not crops:
        return ""
    probabilities = predictor.scan_probabilities(np.stack([c.image for c in crops]))
    return "".join(str(int(p[:10].argmax())) for p in probabilities)


@dataclass(frozen=True)
class DigitCrop:
    box: Box
    image: np.ndarray  # uint8 28x28


Scorer = Callable[[np.ndarray], np.ndarray]  # uint8 (N, 28, 28) -> confidence (N,)


def segment_digits(source: ImageSource, name: str | None = None, deskew: bool = False,
                   score: Scorer | None = None) -> list[DigitCrop]:
    """The digits of a number written on one line, left to right, each in MNIST form.

    With `score` (a classifier's confidence), doubtful cases are decided by reading, as a person
    would: two close pieces (a "0" whose thin top broke, or a "1" written tight against a "6") are
    joined only where reading them together clearly beats reading them apart, and a blob wider
    than a digit is cut only where its parts read clearly better than the whole (`split_touching`)."""
    ink = find_ink(source, name)
    width_of = {i: ink.boxes[i][1].stop - ink.boxes[i][1].start for i in range(len(ink.boxes))}
    height_of = {i: ink.boxes[i][0].stop - ink.boxes[i][0].start for i in range(len(ink.boxes))}
    keep = [int(i) for i in np.flatnonzero(ink.areas >= 0.02 * ink.areas.max())]
    # The text line: components whose vertical centre lies within the band of the tallest ones.
    tallest = max(height_of[i] for i in keep)
    tall = [i for i in keep if height_of[i] >= 0.5 * tallest]
    line_y = float(np.median([(ink.boxes[i][0].start + ink.boxes[i][0].stop) / 2 for i in tall]))
    line_h = float(np.median([height_of[i] for i in tall]))
    keep = [i for i in keep if abs((ink.boxes[i][0].start + ink.boxes[i][0].stop) / 2 - line_y) < 0.75 * line_h
            # a flat dash is a leftover of a ruled line or an underline, never a digit
            and not (height_of[i] < 0.3 * line_h and width_of[i] > 2 * height_of[i])]
    if not keep:  # flat dashes only (a number on its side, all 1s): nothing this reader takes for a digit
        return []
    typical_area = float(np.median([ink.areas[i] for i in keep]))
    pieces = sorted((i for i in keep if ink.areas[i] >= 0.2 * typical_area), key=lambda i: ink.boxes[i][1].start)
    fragments = [i for i in keep if ink.areas[i] < 0.2 * typical_area]

    def span(group: list[int]) -> tuple[int, int]:
        return min(ink.boxes[j][1].start for j in group), max(ink.boxes[j][1].stop for j in group)

    def rows_of(group: list[int]) -> tuple[int, int]:
        return min(ink.boxes[j][0].start for j in group), max(ink.boxes[j][0].stop for j in group)

    # Pieces stacked above each other (sharing columns, not rows: the bar of a 5) are one digit.
    # Slanted neighbours also share columns, but side by side; the reading below decides those.
    groups: list[list[int]] = []
    for i in pieces:
        rows, cols = ink.boxes[i]
        if groups:
            (g_x0, g_x1), (g_y0, g_y1) = span(groups[-1]), rows_of(groups[-1])
            shared_cols = min(g_x1, cols.stop) - max(g_x0, cols.start)
            shared_rows = min(g_y1, rows.stop) - max(g_y0, rows.start)
            if (shared_cols > 0.4 * min(g_x1 - g_x0, width_of[i])
                    and shared_rows < 0.5 * min(g_y1 - g_y0, height_of[i])):
                groups[-1].append(i)
                continue
        groups.append([i])
    # Small fragments (a detached bar, a dot of a broken stroke) join the nearest digit.
    for i in fragments:
        centre = (ink.boxes[i][1].start + ink.boxes[i][1].stop) / 2
        if groups:
            min(groups, key=lambda g: max(0.0, span(g)[0] - centre, centre - span(g)[1])).append(i)

    def render(group: list[int]) -> DigitCrop:
        box = box_in_original(ink, group)
        return DigitCrop(box, render_mnist(digit_mask(ink, group, box), deskew=deskew))

    # Close neighbours that together would still be digit-sized: one digit or two?
    merged: list[list[int]] = []
    for group in groups:
        if merged:
            (a0, a1), (b0, b1) = span(merged[-1]), span(group)
            if b0 - a1 < 0.12 * line_h and b1 - a0 <= 0.95 * line_h:
                together = merged[-1] + group
                if score is None:
                    join = True
                else:
                    left, right, both = score(np.stack([render(g).image for g in (merged[-1], group, together)]))
                    # Pieces with a visible gap are two digits unless reading them together halves
                    # the doubt of the better one: the arcs of a broken "0" read poorly alone, but a
                    # "4" alone reads well, and must not swallow the "1" beside it.
                    join = 1 - both < 0.5 * (1 - max(left, right))
                if join:
                    merged[-1] = together
                    continue
        merged.append(group)

    crops = []
    for group in merged:
        parts = split_touching(ink, group, line_h, deskew, score)
        crops += parts if parts is not None else [render(group)]
    return crops


def cut_positions(profile: np.ndarray, parts: int) -> list[int]:
    """Where to cut a run of ink into `parts` digits: the thinnest column near each even split."""
    width = len(profile)
    cuts = []
    for k in range(1, parts):
        centre = int(k * width / parts)
        reach = int(0.25 * width / parts)
        lo, hi = max(1, centre - reach), min(width - 1, centre + reach + 1)
        cuts.append(lo + int(np.argmin(profile[lo:hi])))
    return cuts


# A reading of a blob as several digits must beat reading it as one by this factor per extra
# digit: halves of a wide "2" or "0" are often confidently something, so splitting needs a clear win.
SPLIT_PRIOR = 4.0


def split_touching(ink: InkMap, group: list[int], line_h: float, deskew: bool = False,
                   score: Scorer | None = None) -> list[DigitCrop] | None:
    """Cut a group wider than one digit into the likely number of digits at its thinnest columns;
    None when it reads best as a single digit.

    With `score`, each count from one to the most that fit is rendered and read, and the count
    whose digits are read most confidently (joint probability, with `SPLIT_PRIOR` against extra
    digits) wins. Without it, the count is guessed from the width alone."""
    y0, x0, y1, x1 = _union([ink.boxes[i] for i in group])
    width, height = x1 - x0, max(y1 - y0, line_h)
    most = min(6, int(width / (0.4 * height)))
    if most < 2 or width < 0.9 * height:
        return None
    mask = np.isin(ink.labels[y0:y1, x0:x1], np.asarray(group) + 1)
    profile = ndimage.uniform_filter1d(mask.sum(axis=0).astype(float), size=3)
    to_orig = 1.0 / ink.scale

    def crops_for(parts: int) -> list[DigitCrop]:
        edges = [0, *cut_positions(profile, parts), width]
        boxes = [Box(int((x0 + a) * to_orig), int(y0 * to_orig), int(np.ceil((x0 + b) * to_orig)),
                     int(np.ceil(y1 * to_orig))) for a, b in zip(edges[:-1], edges[1:])]
        return [DigitCrop(box, render_mnist(component_mask(ink, group, box), deskew=deskew)) for box in boxes]

    if score is None:
        parts = int(round(width / (0.75 * height)))
        return crops_for(parts) if parts >= 2 and width >= 1.05 * height else None
    box = box_in_original(ink, group)
    hypotheses = [[DigitCrop(box, render_mnist(digit_mask(ink, group, box), deskew=deskew))]]
    hypotheses += [crops_for(parts) for parts in range(2, most + 1)]
    confidences = score(np.stack([c.image for h in hypotheses for c in h]))
    log_p = np.log(np.clip(confidences, 1e-9, 1.0))
    totals, start = [], 0
    for h in hypotheses:
        totals.append(log_p[start:start + len(h)].sum() - (len(h) - 1) * np.log(SPLIT_PRIOR))
        start += len(h)
    best = int(np.argmax(totals))
    return None if best == 0 else hypotheses[best]
