"""Things that reach into a photo from its edge over the paper and are no ink: the finger or thumb
holding the sheet, the end of a pen lying on it (`blobs_at_edge`), and a fingertip whose rim alone
was found as ink, come apart from the edge (`rims_apart_from_edge`). Part of the scan pipeline's
step 5 (see `ink`), beside `edges`."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from digitlab.edges import SOLID_AS_INK, at_edge
from digitlab.strokes import solidity, stroke_width, thickest

BROADER_THAN_WRITING = 3.0  # a piece at the edge this many times as thick as the writing's strokes may be no ink,
BROADER_AND_LIGHTER = 1.5   # ... or this many times, and ...
LIGHTER_THAN_WRITING = 0.75  # ... standing out from the paper at most this share as far as the writing...
SOLID = 0.8                 # ... when it is about as solid as its convex hull: a fingertip, a pen's end
WRITING_LENGTH = 0.3        # ... measured against the writing: pieces this share of its length or a tenth of its ink,
ROW_OF_DIGITS = 5           # ... or, when none is, so many pieces at least half as long as the longest inside
RIM_LIGHTER = 0.6           # a fingertip's rim inside the picture: at most this share of the writing's ink strength,
RIM_SOLID = 0.6             # ... about as solid as its convex hull (a digit, a frame round the writing: under 0.4),
RIM_WIDTH = 0.9             # ... its strokes as wide as the writing's (a digit in a shadow thresholds thinner),
RIM_BODY = 1 / 3            # ... and its finger, above this share of its own strength, reaching the picture's edge


def blobs_at_edge(labels: np.ndarray, boxes: list[tuple[slice, slice]], bright: np.ndarray) -> list[int]:
    """Labels (1-based) of the things that reach into a photo from its edge over the paper: the
    finger or thumb holding the sheet, the end of a pen lying on it. Pieces at the picture's
    edge, solid (about as much as their convex hull: no digit's shape is, but a blotched bold one
    cut by the edge nearly is: so more solid when as dark as the writing), and at their thickest
    three times as broad as the strokes written inside the picture, or half as broad again and
    clearly lighter than them (skin is; a blot or a bold digit cut by the edge is as thick and as
    dark as the pen that wrote the others); or the rim of such a thing, broader than the filter
    that finds ink (`ink.ink_strength` keeps only its rim): clearly lighter than the writing, open
    to the edge and, with what it holds, solid and broad (a fingertip's shaded sides round its
    light middle), or round a part as dark as the rim (a 0 cut by the edge holds paper).
    `bright`: the picture, ink made bright."""
    edge = [i for i, box in enumerate(boxes) if at_edge(box, labels.shape)]
    inside = [i for i, box in enumerate(boxes) if not at_edge(box, labels.shape)]
    if not edge or not inside:
        return []
    paper = float(np.median(bright[::3, ::3]))
    own = {i: labels[boxes[i]] == i + 1 for i in edge + inside}
    area = {i: np.count_nonzero(own[i]) for i in own}
    width = {i: stroke_width(own[i]) for i in inside}
    contrast = {i: float(np.median(bright[boxes[i]][own[i]])) - paper for i in own}
    length = {i: max(box[0].stop - box[0].start, box[1].stop - box[1].start) for i, box in enumerate(boxes)}
    blobs = []
    for i in edge:
        # The writing: what lies inside, but specks of dust (a 1 cropped tight is no finger). A
        # digit may be far smaller than a finger (a tenth of its ink), but is as long as a fair
        # share of it, where no speck is.
        writing = [j for j in inside if area[j] >= 0.1 * area[i] or length[j] >= WRITING_LENGTH * length[i]]
        if not writing:
            # A page's small writing beside a thumb: no digit is a fair share of it, but many are
            # alike, where a tight crop's specks are a few of any size.
            longest = max(length[j] for j in inside)
            writing = [j for j in inside if length[j] >= 0.5 * longest]
            if len(writing) < ROW_OF_DIGITS:
                continue
        stroke = float(np.median([width[j] for j in writing]))
        broad = thickest(own[i]) / stroke
        lighter = contrast[i] <= LIGHTER_THAN_WRITING * np.median([contrast[j] for j in writing])
        solid = solidity(own[i])
        if (broad >= BROADER_AND_LIGHTER and lighter and solid >= SOLID
                or broad >= BROADER_THAN_WRITING and solid >= SOLID_AS_INK):
            blobs.append(i + 1)
            continue
        held = _held_with_edge(own[i], boxes[i], labels.shape)
        filled = own[i] | held
        # The rim of something broad: lighter than the writing round paper-light skin (a
        # fingertip's shaded sides, open to the edge: a faint 8 cut by the edge holds its own
        # loops), or round a part as dark as itself (a thumb in shadow), or itself thrice as broad
        # as the writing and, with what it holds, solid (a fingertip in shadow, as dark as ink,
        # round its lit middle: read as a 0 of its own line).
        if (lighter and solidity(filled) >= SOLID
                and np.count_nonzero(ndimage.binary_fill_holes(own[i]) & ~own[i]) < 0.5 * np.count_nonzero(held)
                and thickest(filled) >= BROADER_AND_LIGHTER * stroke):
            blobs.append(i + 1)
        elif broad >= BROADER_THAN_WRITING and solidity(filled) >= SOLID_AS_INK:
            blobs.append(i + 1)
        elif np.count_nonzero(held) > area[i] and float(np.median(bright[boxes[i]][held])) - paper > 0.5 * contrast[i]:
            blobs.append(i + 1)
    return blobs


def rims_apart_from_edge(labels: np.ndarray, boxes: list[tuple[slice, slice]], strength: np.ndarray,
                         printed: np.ndarray | None = None) -> list[int]:
    """Labels (1-based) of the rims of fingertips come apart from the picture's edge: pieces inside
    it, of fair size and far lighter than the writing (RIM_LIGHTER of its median ink strength),
    that the fainter ink round them (over RIM_BODY of their own strength) joins to the edge. A
    finger broader than the ink filter's window shows only its shaded rim (`ink.ink_strength`),
    its tip's at full strength and the rest of it fainter, so that the tip's rim stood alone and
    was read as a 0 beside the number ("155" read "0155"). The rim is a crescent or a short arc,
    solid and as wide as the pen or wider (RIM_SOLID, RIM_WIDTH); a frame drawn round the writing in
    a finer pen, as light and as near the edge, is a ring, and a digit in a shadow that reaches
    the edge, as light, is neither solid nor as wide. `strength`: the ink strength thresholded;
    `printed`: the paper's ruled lines (`ink.InkMap.ruling`), along which a light 1 crossing one
    would reach the edge."""
    inside = [i for i, box in enumerate(boxes) if not at_edge(box, labels.shape)]
    if len(inside) < 2:
        return []
    own = {i: labels[boxes[i]] == i + 1 for i in inside}
    area = {i: np.count_nonzero(own[i]) for i in inside}
    fair = [i for i in inside if area[i] >= 0.1 * max(area.values())]  # specks are no measure
    level = {i: float(np.median(strength[boxes[i]][own[i]])) for i in fair}
    writing = float(np.median(list(level.values())))
    lighter = [i for i in fair if level[i] <= RIM_LIGHTER * writing]
    if not lighter:  # most pictures
        return []
    width = {i: stroke_width(own[i]) for i in fair}
    stroke = float(np.median(list(width.values())))
    rims = []
    for i in lighter:
        if width[i] < RIM_WIDTH * stroke or solidity(own[i]) < RIM_SOLID:
            continue
        faint = strength > RIM_BODY * level[i]
        body, _ = ndimage.label(faint if printed is None else faint & ~printed, structure=np.ones((3, 3)))
        rows, cols = np.nonzero(own[i])
        strongest = int(np.argmax(strength[boxes[i]][rows, cols]))
        joined = body == body[boxes[i][0].start + rows[strongest], boxes[i][1].start + cols[strongest]]
        if at_edge(ndimage.find_objects(joined.view(np.uint8))[0], labels.shape):
            rims.append(i + 1)
    return rims


def _held_with_edge(own: np.ndarray, box: tuple[slice, slice], shape: tuple[int, ...]) -> np.ndarray:
    """What a piece at the picture's edge (`own`, its mask in its `box`) holds, closed by the
    picture's edges it touches (bool, `own`'s shape)."""
    rows, cols = box
    closed = np.pad(own, 1)  # the picture's edges it touches drawn in
    closed[0, :] |= rows.start == 0
    closed[-1, :] |= rows.stop == shape[0]
    closed[:, 0] |= cols.start == 0
    closed[:, -1] |= cols.stop == shape[1]
    return (ndimage.binary_fill_holes(closed) & ~closed)[1:-1, 1:-1]
