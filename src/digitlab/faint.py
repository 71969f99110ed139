"""Writing fainter than the rest of a picture's ink: a number in pencil on a page written in pen,
and the writing on the back of thin paper showing through. The ink's threshold is set from the
strongest ink, and a pencil a third as dark as the pen fell under it: its line was lost, the
page's other lines read and no doubt said. Found apart from the writing (`threshold.fainter_writing`),
fainter ink is writing where it makes lines of its own (`writing_apart`): not the paper's printed
lines, its grain, a frame drawn round the writing or a margin's line broken into pieces. The back's
writing showing through is faint too, mirrored and blurred by the paper; found as ink it was read
as lines of their own (a page's "39 / 254200 / 25091 / 8235" came out with "58078" and "88018" read
off the back). In the original pixels a pencil stands out of the paper a quarter as far as the pen
or more, what shows through less (`show_through`); at working resolution the two cannot be compared,
a broad ghost beside fine writing being averaged down less than the writing. Part of the scan
pipeline's step 5 (see `ink`), beside `edges` and `fingers`."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from digitlab.edges import at_edge
from digitlab.images import as_float
from digitlab.strokes import principal_axes, principal_direction, stick_shaped
from digitlab.threshold import binomial_blur

FAINT_HERE = 0.6  # at working resolution, pieces at most this share of the strongest's strength are looked at
FAINTER = 0.25    # the back's writing stands out of the paper at most this share as far as the clearest writing
CLEAR = 0.7       # the clear writing: pieces at least this share of the strongest's strength at working resolution
MOST_CLEAR = 8    # the clear pieces measured, the largest first; the clearest standing out at least ...
CLEAREST = 0.05   # ... this far (of the grey scale) in the original pixels
SMALLEST = 3      # pieces this many working pixels across or fewer are dust, not judged, ...
DIGIT_SIZED = 0.3  # ... nor faint ones shorter than this share of the clear writing's height
MANY = 2.0        # fainter pieces more than this many times as many as the writing's are the paper's, ...
FEW = 16          # ... counting the writing's pieces as at least this many
NEAR = 0.5        # fainter pieces within this share of the writing's height of it are no line of their own
ALIGNED = 0.998   # two straight strokes in line lie within 3.6 degrees of each other's direction ...
IN_LINE = 2.0     # ... and this many pixels of each other's line


def writing_apart(fainter: np.ndarray, printed: np.ndarray | None, mask: np.ndarray) -> np.ndarray:
    """The pieces of `fainter` (faint ink apart from the writing, `threshold.fainter_writing`) that
    may be writing: a line of its own, so none near the writing (`mask`: a frame drawn round it,
    a stroke's faint rim), none that touches the printed lines found (`printed`: a grid's lines
    broken into pieces where they are faintest) or the picture's edge (a binding's wires), no
    straight stroke in line with another (a margin's line broken apart), and none at all when they
    are many times as many as the writing's pieces (the paper's grain, a grid its ruling did not
    find)."""
    labels, count = ndimage.label(fainter, structure=np.ones((3, 3)))
    keep = np.ones(count + 1, dtype=bool)
    keep[0] = False
    if printed is not None:
        keep[np.unique(labels[ndimage.binary_dilation(printed, iterations=2)])] = False
    boxes = ndimage.find_objects(labels)
    for label, box in enumerate(boxes, start=1):
        keep[label] &= not at_edge(box, labels.shape)
    writing, pieces = ndimage.label(mask, structure=np.ones((3, 3)))
    if np.count_nonzero(keep) > MANY * max(pieces, FEW):
        return np.zeros_like(fainter)
    heights = [box[0].stop - box[0].start for box in ndimage.find_objects(writing)]
    high = float(np.median(heights)) if heights else 0.0
    # Every straight piece is matched against every other, those at the edge or by the writing
    # too: a ruled line broken apart shows a piece at each.
    strokes = {}
    for label, box in enumerate(boxes, start=1):
        ys, xs = np.nonzero(labels[box] == label)
        xs, ys = (xs + box[1].start).astype(np.float64), (ys + box[0].start).astype(np.float64)
        if len(xs) >= 3 and stick_shaped(*principal_axes(xs, ys)):
            angle = principal_direction(xs, ys)
            strokes[label] = (np.array([xs.mean(), ys.mean()]), np.array([np.cos(angle), np.sin(angle)]))
    near = ndimage.binary_dilation(mask, iterations=max(1, round(NEAR * high)))
    keep[np.unique(labels[near])] = False
    for label, (centre, direction) in strokes.items():
        for other, (other_centre, other_direction) in strokes.items():
            offset = other_centre - centre
            if other != label and abs(float(direction @ other_direction)) > ALIGNED \
                    and abs(float(offset @ np.array([-direction[1], direction[0]]))) <= IN_LINE:
                keep[label] = keep[other] = False
    return keep[labels]


def show_through(labels: np.ndarray, boxes: list[tuple[slice, slice]], strength: np.ndarray, gray: np.ndarray,
                 scale: float, inverted: bool) -> list[int]:
    """Labels (1-based) of the pieces that are the back's writing showing through: standing out of
    the paper at most `FAINTER` as far as the clearest writing, in the original pixels (`gray`,
    `scale` working pixels to one of them; dark ink on light paper when `inverted`). At working
    resolution a broad ghost beside fine writing can be as strong as the writing, averaged down
    less: `strength`, the ink's strength there, only picks the pieces to measure, digit-sized ones
    (`DIGIT_SIZED`) at most `FAINT_HERE` as strong as the strongest."""
    sized = [i for i, (rows, cols) in enumerate(boxes)
             if max(rows.stop - rows.start, cols.stop - cols.start) > SMALLEST]
    if len(sized) < 2:
        return []
    peaks = {i: float(strength[boxes[i]][labels[boxes[i]] == i + 1].max()) for i in sized}
    strongest = max(peaks.values())
    clear = sorted((i for i in sized if peaks[i] >= CLEAR * strongest),
                   key=lambda i: -np.count_nonzero(labels[boxes[i]] == i + 1))[:MOST_CLEAR]
    # The back's writing is digits as large as the front's: a speck of dust is left as it is.
    high = float(np.median([boxes[i][0].stop - boxes[i][0].start for i in clear]))
    faint = [i for i in sized if peaks[i] <= FAINT_HERE * strongest
             and max(boxes[i][0].stop - boxes[i][0].start, boxes[i][1].stop - boxes[i][1].start) >= DIGIT_SIZED * high]
    if not faint:
        return []
    clearest = max(rise(labels, boxes[i], i + 1, gray, scale, inverted) for i in clear)
    if clearest < CLEAREST:  # nothing to judge by
        return []
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
    # The strongest pixel, the noise smoothed first: a paint app's 1-pixel pencil on a large canvas
    # fills too few of the pixels its piece covers at working resolution for any share of them.
    return float(binomial_blur(bright)[own].max()) - paper
