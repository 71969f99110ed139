"""The writing on the back of a sheet showing through the paper: its ghost is mirrored, fainter
than the writing on the front and, since the paper scatters the light that carries it, blurred.
At working resolution a ghost clear of the writing is a piece like any other, and the line finder
read it as a line of its own (a page's "39 / 254200 / 25091 / 8235" came out with two lines more,
"58078" and "88018", read off the back). Faintness alone cannot tell it: a number in pencil beside
one in pen is as faint. Its edges can: measured in the original pixels, the writing's rise from the
paper in a pixel or two, at any strength, the ghost's over several. Part of the scan pipeline's step
5 (see `ink`), beside `edges` and `fingers`."""

from __future__ import annotations

import numpy as np

from digitlab.images import as_float

FAINT_HERE = 0.6  # at working resolution, pieces at most this share of the strongest's strength are looked at
FAINTER = 0.25    # the back's writing stands out of the paper at most this share as far as the clearest writing
CLEAR = 0.7       # the clear writing: pieces at least this share of the strongest's strength at working resolution
MOST_CLEAR = 8    # the clear pieces measured, the largest first
SMALLEST = 3      # pieces this many working pixels across or fewer are dust, not judged


def show_through(labels: np.ndarray, boxes: list[tuple[slice, slice]], strength: np.ndarray, gray: np.ndarray,
                 scale: float, inverted: bool) -> list[int]:
    """Labels (1-based) of the pieces that are the back's writing showing through: standing out of
    the paper at most `FAINTER` as far as the clearest writing, in the original pixels (`gray`,
    `scale` working pixels to one of them; dark ink on light paper when `inverted`). At working
    resolution a broad ghost beside fine writing can be as strong as the writing, averaged down
    alike: `strength`, the ink's strength there, only picks the pieces to measure."""
    sized = [i for i, (rows, cols) in enumerate(boxes)
             if max(rows.stop - rows.start, cols.stop - cols.start) > SMALLEST]
    if len(sized) < 2:
        return []
    peaks = {i: float(strength[boxes[i]][labels[boxes[i]] == i + 1].max()) for i in sized}
    strongest = max(peaks.values())
    faint = [i for i in sized if peaks[i] <= FAINT_HERE * strongest]
    if not faint:
        return []
    clear = sorted((i for i in sized if peaks[i] >= CLEAR * strongest),
                   key=lambda i: -np.count_nonzero(labels[boxes[i]] == i + 1))[:MOST_CLEAR]
    clearest = max(rise(labels, boxes[i], i + 1, gray, scale, inverted) for i in clear)
    return [i + 1 for i in faint if rise(labels, boxes[i], i + 1, gray, scale, inverted) <= FAINTER * clearest]


def rise(labels: np.ndarray, box: tuple[slice, slice], label: int, gray: np.ndarray, scale: float,
         inverted: bool) -> float:
    """How far a piece's strongest ink stands out of the paper round it, in the original pixels."""
    rows, cols = box
    r0, r1 = max(0, int(rows.start / scale)), min(gray.shape[0], int(rows.stop / scale) + 1)
    c0, c1 = max(0, int(cols.start / scale)), min(gray.shape[1], int(cols.stop / scale) + 1)
    crop = as_float(gray[r0:r1, c0:c1])
    bright = 1.0 - crop if inverted else crop
    ys = np.minimum((np.arange(r0, r1) * scale).astype(int), labels.shape[0] - 1)
    xs = np.minimum((np.arange(c0, c1) * scale).astype(int), labels.shape[1] - 1)
    own = labels[np.ix_(ys, xs)] == label
    paper = float(np.median(bright[~own])) if np.count_nonzero(~own) > 10 else float(np.percentile(bright, 10))
    return float(np.percentile(bright[own], 95)) - paper
