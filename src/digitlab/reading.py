"""Reading numbers: the text lines of a photo or scan, straightened and read by the line reader.

A line is read whole by a CTC line reader (`models.LineReader`), without cutting it into digits
first, so joined, touching and slanted writing reads as well as neat digits. This module takes the
lines that `linefinding` finds (any angle, pages turned by 90 or 180 degrees), normalises each one
(`line_image`, also how every training line is made), decodes the reader's output into digits with
boxes and confidences, and reads a page turned by 180 degrees the right way up.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

from digitlab.decorations import detach_from_frames, without_frames
from digitlab.errors import NoDigitFound
from digitlab.images import ImageSource, describe
from digitlab.ink import Box, InkMap, find_ink, threshold_ink
from digitlab.linefinding import TextLine, find_lines
from digitlab.preprocessing import MNIST_STROKE, hole_elongations, looks_hollow, normalize_stroke, outline_inside
from digitlab.ruling import long_runs
from digitlab.second_opinion import DigitOpinion, with_second_opinion
from digitlab.slant import writing_slant

LINE_HEIGHT = 32   # the reader's input height
LINE_INK = 26      # the ink's height in it; the rest is margin
LINE_MARGIN = 4    # blank columns each side
MAX_LINE_WIDTH = 640
READ_SIDE = 384    # lines are found at this working resolution, then read from the original pixels
CROP_HEIGHT = 64   # a line is cut from the original at this height before its ink is thresholded
MARGIN_ACROSS = 0.25  # the crop's margin above and below the line's ink, in line heights
STRAY_WRITING = 0.2   # a crop's piece less of which is the line's own writing may be a frame (`without_stray_frames`)
LEAST_SLANT = 0.1  # writing leaning less than this is only read as it is
FAR_SLANT = 0.4    # the line reader learnt leans up to about this; past it a line is always read upright too
# Leaning less, a line read this surely (its digits' geometric mean confidence) is not read upright
# too. Chosen on the validation split's numbers: 600 second readings of 1,500 numbers instead of
# 1,056, and as many numbers read (without FAR_SLANT: 408, and one fewer).
SURE_AS_WRITTEN = math.log(0.999)


@dataclass(frozen=True)
class LineGeometry:
    """How `line_image` placed a mask: mask column = (line column - LINE_MARGIN) / scale + left."""

    left: int
    top: int
    scale: float
    width: int  # columns of the line image


def line_image(mask: np.ndarray) -> np.ndarray:
    """A text line's ink (bool, any size, written left to right) -> float32 (LINE_HEIGHT, W) in
    [0, 1]: cropped to the ink, scaled so the ink is LINE_INK pixels high, strokes brought near
    MNIST's width for that height, centred with a margin."""
    return placed_line(mask)[0]


def placed_line(mask: np.ndarray) -> tuple[np.ndarray, LineGeometry]:
    """`line_image`, and where it put the mask's columns (to map the reader's frames back)."""
    if not mask.any():
        return np.zeros((LINE_HEIGHT, 2 * LINE_MARGIN), dtype=np.float32), LineGeometry(0, 0, 1.0, 2 * LINE_MARGIN)
    rows, cols = np.nonzero(mask)
    top, left = int(rows.min()), int(cols.min())
    mask = mask[top:rows.max() + 1, left:cols.max() + 1]
    scale = LINE_INK / mask.shape[0]
    normalized = normalize_stroke(mask, MNIST_STROKE * 26 / 20 / scale)
    # A bolder pen grows the mask by the same margin on every side: cut it back to the ink's box.
    grown = (normalized.shape[0] - mask.shape[0]) // 2
    mask = normalized[grown:grown + mask.shape[0], grown:grown + mask.shape[1]]
    width = max(1, min(MAX_LINE_WIDTH - 2 * LINE_MARGIN, round(mask.shape[1] * scale)))
    line = Image.fromarray(mask.astype(np.uint8) * 255).resize(
        (width, LINE_INK), Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR)
    out = np.zeros((LINE_HEIGHT, width + 2 * LINE_MARGIN), dtype=np.float32)
    offset = (LINE_HEIGHT - LINE_INK) // 2
    out[offset:offset + LINE_INK, LINE_MARGIN:LINE_MARGIN + width] = np.asarray(line, dtype=np.float32) / 255
    return out, LineGeometry(left, top, width / mask.shape[1], out.shape[1])


def ctc_best_path(probabilities: np.ndarray) -> list[tuple[int, float, int, int]]:
    """Greedy CTC decoding of one line's per-frame probabilities `(T, 11)` (class 0 is the blank,
    1-10 the digits 0-9): the most likely class per frame, runs of one class merged, blanks
    dropped. Each digit comes with its confidence (its highest probability over its run) and its
    first and last frame."""
    best = probabilities.argmax(axis=1)
    digits = []
    start = 0
    for t in range(1, len(best) + 1):
        if t == len(best) or best[t] != best[start]:
            if best[start] != 0:
                run = probabilities[start:t, best[start]]
                digits.append((int(best[start]) - 1, float(run.max()), start, t - 1))
            start = t
    return digits


# ---------------------------------------------------------------- reading a line


def line_crop(ink: InkMap, line: TextLine, flip: bool = False, height: int = CROP_HEIGHT,
              slant: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The line cut from the original pixels, turned upright (and by 180 degrees with `flip`),
    `height` pixels across its ink band, with margins, and its writing stood upright by undoing
    its `slant` (`slant.writing_slant` of the crop without it): (bright-ink float image, affine
    coefficients mapping its pixels to the original's, as Pillow's `Image.transform` takes)."""
    margin_v, margin_u = MARGIN_ACROSS * line.height, 0.6 * line.height
    u0, u1, v0, v1 = line.u0 - margin_u, line.u1 + margin_u, line.v0 - margin_v, line.v1 + margin_v
    k = height / (v1 - v0)  # crop pixels per working pixel
    lean = math.ceil(abs(slant) * height / 2)  # the columns a row's shift can add at either end
    size = (max(1, int(round((u1 - u0) * k)) + 2 * lean), height)
    angle = line.angle + (math.pi if flip else 0.0)
    cos, sin = math.cos(angle), math.sin(angle)
    if flip:
        u0, u1, v0, v1 = -u1, -u0, -v1, -v0
    # Crop pixel (x, y) lies on the line at u = u0 + (x - lean - slant * (y - height / 2)) / k, v = v0 + y / k.
    u0 -= (lean - slant * height / 2) / k
    to_gray = 1.0 / ink.scale
    coefficients = np.array([cos / k, -(sin + cos * slant) / k, cos * u0 - sin * v0,
                             sin / k, (cos - sin * slant) / k, sin * u0 + cos * v0]) * to_gray
    gray = ink.gray if ink.gray.dtype == np.uint8 else (np.clip(ink.gray, 0, 1) * 255).astype(np.uint8)
    image, shrunk = Image.fromarray(gray), 1
    step = 1.0 / (k * ink.scale)  # original pixels per crop pixel
    if step >= 3:  # shrink first: an affine resampling does not average, and would alias
        shrunk = int(step // 1.5)
        image = image.reduce(shrunk)
    crop = image.transform(size, Image.Transform.AFFINE, tuple(coefficients / shrunk), Image.Resampling.BILINEAR,
                           fillcolor=int(np.median(gray[::7, ::7])))
    bright = np.asarray(crop, dtype=np.float32) / 255
    bright = 1.0 - bright if ink.inverted else bright
    if ink.sheet is not None:
        # The desk round a photographed sheet is darker than any ink: where the crop reaches past
        # the sheet's edge (a line near it, a crop's margins), it would read as a 1. The line's
        # own writing stays, however near the edge (the sheet's outline is coarse).
        window, grow = _working_window(ink, coefficients, bright.shape)
        own = ndimage.binary_dilation(np.isin(ink.labels[window], np.asarray(line.components) + 1), iterations=grow)
        off = _in_crop(~ink.sheet[window] & ~own, window, coefficients, ink.scale, bright.shape)
        if off.any() and not off.all():
            bright = np.where(off, np.median(bright[~off]), bright).astype(np.float32)
    return bright, coefficients


def foreign_ink(ink: InkMap, line: TextLine, coefficients: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Where, in a line crop of `shape` cut with `coefficients` (`line_crop`), lies ink that the
    line finder set apart from the line's writing (`TextLine.foreign`: a box or an oval round it,
    a line under it, the digits of the lines next to it), or took for ruled lines under it (at
    whatever slope). Bool, the crop's shape. The line's own ink, grown by a working pixel, stays
    where the two touch."""
    if not line.foreign and ink.ruling is None:  # most lines: a number alone on plain paper
        return np.zeros(shape, dtype=bool)
    window, grow = _working_window(ink, coefficients, shape)
    labels = ink.labels[window]
    own = np.isin(labels, np.asarray(line.components) + 1)
    other = np.isin(labels, np.asarray(line.foreign, dtype=np.int64) + 1)
    if ink.ruling is not None:
        other |= ink.ruling[window]
    if not other.any():
        return np.zeros(shape, dtype=bool)
    other = ndimage.binary_dilation(other, iterations=grow) & ~ndimage.binary_dilation(own)
    return _in_crop(other, window, coefficients, ink.scale, shape)


def own_ink(ink: InkMap, line: TextLine, coefficients: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Where, in a line crop of `shape` cut with `coefficients` (`line_crop`), lies the line's own
    writing as the line finder found it at working resolution. Bool, the crop's shape."""
    window, _ = _working_window(ink, coefficients, shape)
    own = np.isin(ink.labels[window], np.asarray(line.components) + 1)
    return _in_crop(own, window, coefficients, ink.scale, shape)


def _working_window(ink: InkMap, coefficients: np.ndarray, shape: tuple[int, ...]) -> tuple[tuple[slice, slice], int]:
    """The working image's window under a crop, with room to grow its ink by as many working
    pixels as a crop's pixel spans (at least one): a crop of a large line is coarser than the
    working image, and its samples would miss a thin line between them."""
    a, b, c, d, e, f = np.asarray(coefficients) * ink.scale
    grow = max(1, math.ceil(math.hypot(a, d)))
    xs = [a * x + b * y + c for x in (0, shape[1]) for y in (0, shape[0])]
    ys = [d * x + e * y + f for x in (0, shape[1]) for y in (0, shape[0])]
    x0, y0 = max(0, int(min(xs)) - grow - 1), max(0, int(min(ys)) - grow - 1)
    return (slice(y0, int(max(ys)) + grow + 2), slice(x0, int(max(xs)) + grow + 2)), grow


def _in_crop(working: np.ndarray, window: tuple[slice, slice], coefficients: np.ndarray, scale: float,
             shape: tuple[int, ...]) -> np.ndarray:
    """A bool mask of the working image's `window` as the crop of `shape` sees it."""
    to_window = tuple(np.asarray(coefficients) * scale - np.array([0, 0, window[1].start, 0, 0, window[0].start]))
    placed = Image.fromarray(working.astype(np.uint8) * 255).transform(
        (shape[1], shape[0]), Image.Transform.AFFINE, to_window, Image.Resampling.NEAREST, fillcolor=0)
    return np.asarray(placed) > 127


def without_stray_frames(mask: np.ndarray, own: Callable[[], np.ndarray]) -> np.ndarray:
    """`mask` (a line crop's ink, `line_mask`) less the pieces that are mostly not the line's own
    writing (`own()`, asked only when there are such pieces), lie at either end of it or round it,
    and together, in the same columns, reach past the line's ink both above and below: a box or an
    oval drawn round the number, or its sides, too faint or thin for the working mask to hold
    them, so that the line finder could not set them apart, and that would read as 1s. A frame
    touching the writing is one piece with it, and stays."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    height = mask.shape[0]
    # The line's ink lies between these rows, give or take a twentieth of its height.
    above = height * (MARGIN_ACROSS - 0.05) / (1 + 2 * MARGIN_ACROSS)
    below = height * (1 + MARGIN_ACROSS + 0.05) / (1 + 2 * MARGIN_ACROSS)
    boxes = ndimage.find_objects(labels)
    outside = [k for k, (rows, _) in enumerate(boxes) if rows.start < above or rows.stop > below]
    if not outside:
        return mask
    index = np.arange(1, count + 1)
    share = ndimage.sum_labels(own(), labels, index) / ndimage.sum_labels(mask, labels, index)
    writing = [k for k in range(count) if share[k] >= STRAY_WRITING]
    if not writing:
        return mask
    slack = 0.05 * height
    first = min(boxes[k][1].start for k in writing) + slack
    last = max(boxes[k][1].stop for k in writing) - slack
    # Round the writing: a frame, or a side at either end (a hairline of a digit, which the working
    # mask lost, lies among the digits).
    not_writing = [k for k in outside if share[k] < STRAY_WRITING
                   and (boxes[k][1].start <= first or boxes[k][1].stop >= last)]
    # A thin side broken in two is two pieces in about the same columns: their rows together count.
    stray = []
    for k in not_writing:
        same = [j for j in not_writing
                if boxes[j][1].start < boxes[k][1].stop + slack and boxes[k][1].start < boxes[j][1].stop + slack]
        if min(boxes[j][0].start for j in same) < above and max(boxes[j][0].stop for j in same) > below:
            stray.append(k + 1)
    return mask & ~np.isin(labels, stray) if stray else mask


def line_mask(bright: np.ndarray, foreign: np.ndarray | None = None) -> np.ndarray:
    """The ink of a line crop, thresholded against the crop's own paper (its light is even over
    so small a piece), less the `foreign` ink, and kept to the components that reach the line's
    middle band, so the edges of the lines above and below stay out."""
    border = np.concatenate([bright[0], bright[-1], bright[:, 0], bright[:, -1]])
    mask = threshold_ink(np.clip(bright - np.median(border), 0.0, None))
    if mask is None:
        return np.zeros(bright.shape, dtype=bool)
    if foreign is not None:
        mask &= ~foreign
    # A straight run of ink across most of the crop is no digit (the crop has a margin round the
    # line's ink): a frame's side, the lines of squared paper. Digits touching them keep their ink.
    height, width = mask.shape
    for axis, length in ((0, int(0.8 * height)), (1, int(0.8 * width))):
        if length >= 8:
            mask = mask & ~long_runs(mask, length, axis)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    band = labels[int(0.3 * height):int(0.7 * height)]
    return np.isin(labels, np.setdiff1d(np.unique(band), [0]))


def might_be_outlines(mask: np.ndarray) -> bool:
    """Whether a line crop's ink may be hollow lettering: it looks it, or it has three or more
    small holes, as a thin face's outline shows at CROP_HEIGHT, its inside closed here and there
    (4% of the lines of ordinary numbers on the validation faces have such holes, 8% on the dev
    faces, and are cut twice)."""
    _, elongation, areas = hole_elongations(mask)
    if looks_hollow(elongation):
        return True
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return False
    return int(((elongation > 0) & (areas < 0.02 * (rows[-1] - rows[0] + 1) ** 2)).sum()) >= 3


@dataclass
class ReadLine:
    text: str
    confidence: float
    corners: list[list[float]]
    digits: list[dict]
    image: np.ndarray | None = field(repr=False, default=None)

    def to_json(self) -> dict:
        return {"text": self.text, "box": self.corners, "confidence": round(self.confidence, 6),
                "digits": self.digits}


LineReaderFn = Callable[[list[np.ndarray]], list[np.ndarray]]  # line images -> per-frame probabilities
TurnedFn = Callable[[list[np.ndarray], list[int]], list[float]]  # line images, digits read -> log-odds turned
# How much the line reader's gain from reading a line turned weighs beside the orientation model's
# log-odds: chosen on the validation split's numbers, upright and turned (2, 5 and 10 read alike).
READER_GAIN_WEIGHT = 5.0
# Most photos are taken the right way up: a picture is believed turned only against these prior
# odds (1 in 10). Chosen on the validation split's numbers with the calibrated orientation model:
# the largest round prior that turns no upright number there or on the dev faces (at 1 in 6 the
# dev faces lose one; short lines, such as "61" and "19", are digits either way up).
TURNED_PRIOR_LOG_ODDS = math.log(1 / 9)


def read_line(ink: InkMap, line: TextLine, reader: LineReaderFn, stride: int, uncertain_below: float,
              flip: bool = False, opinion: DigitOpinion | None = None) -> ReadLine:
    """One line read as it is written and, when its writing leans (`slant.writing_slant`) far or
    that reading is not sure, also stood upright; the surer of the two readings is kept. The line
    reader learnt lines leaning up to about 0.4 either way, and reads a hand leaning further (an
    italic face) far better stood upright; but some lines it reads better as they lean, joined-up
    writing most."""
    mask, coefficients = cut_line(ink, line, flip)
    read = read_cut(mask, coefficients, ink.zoom, reader, stride, uncertain_below, opinion)
    slant = writing_slant(mask)
    if abs(slant) < LEAST_SLANT or (abs(slant) < FAR_SLANT and certainty([read]) >= SURE_AS_WRITTEN):
        return read
    upright = read_cut(*cut_line(ink, line, flip, slant), ink.zoom, reader, stride, uncertain_below, opinion)
    return upright if certainty([upright]) > certainty([read]) else read


def cut_line(ink: InkMap, line: TextLine, flip: bool = False, slant: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A line's ink, cut from the original pixels (`line_crop`, `line_mask`), less any frame drawn
    round it that the line finder could not set apart (`without_stray_frames`, `without_frames`),
    and the affine coefficients that map the cut's pixels to the original's. Hollow lettering is
    cut at twice the height, and its ink is the inside of the outlines."""
    def ink_of(bright: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
        mask = line_mask(bright, foreign_ink(ink, line, coefficients, bright.shape))
        return without_frames(without_stray_frames(mask, lambda: own_ink(ink, line, coefficients, bright.shape)))

    bright, coefficients = line_crop(ink, line, flip, slant=slant)
    mask = ink_of(bright, coefficients)
    if might_be_outlines(mask):
        # Look at twice the height, where the inside of a thin face's outline is still one hole.
        fine_bright, fine_coefficients = line_crop(ink, line, flip, 2 * CROP_HEIGHT, slant)
        fine = ink_of(fine_bright, fine_coefficients)
        inside = outline_inside(fine)
        if inside is not fine:
            return inside, fine_coefficients
    return mask, coefficients


def read_cut(mask: np.ndarray, coefficients: np.ndarray, zoom: float, reader: LineReaderFn, stride: int,
             uncertain_below: float, opinion: DigitOpinion | None) -> ReadLine:
    """The digits of a line's ink (`cut_line`), with their boxes and confidences in the original
    picture (`zoom`: `InkMap.zoom`)."""
    image, geometry = placed_line(mask)
    probabilities = reader([image])[0]
    decoded = ctc_best_path(probabilities)
    if opinion is not None:
        decoded = with_second_opinion(probabilities, decoded, image, stride, opinion)

    def to_original(x: float, y: float) -> list[float]:
        a, b, c, d, e, f = coefficients
        return [round((a * x + b * y + c) / zoom, 1), round((d * x + e * y + f) / zoom, 1)]

    def rectangle(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
        return [to_original(x0, y0), to_original(x1, y0), to_original(x1, y1), to_original(x0, y1)]

    # A digit's columns: from halfway to the previous digit's spike to halfway to the next one,
    # narrowed to the ink found there.
    centres = [(first + last + 1) / 2 * stride for _, _, first, last in decoded]
    edges = [0.0] + [(a + b) / 2 for a, b in zip(centres[:-1], centres[1:])] + [float(geometry.width)]
    digits = []
    for (digit, confidence, _, _), x0, x1 in zip(decoded, edges[:-1], edges[1:]):
        c0 = max(0, int((x0 - LINE_MARGIN) / geometry.scale) + geometry.left)
        c1 = max(c0 + 1, int(math.ceil((x1 - LINE_MARGIN) / geometry.scale)) + geometry.left)
        rows, cols = np.nonzero(mask[:, c0:c1])
        corners = (rectangle(c0 + cols.min(), rows.min(), c0 + cols.max() + 1, rows.max() + 1) if len(rows)
                   else rectangle(c0, 0, c1, mask.shape[0]))
        digits.append({"digit": digit, "confidence": round(confidence, 6), "box": bounding_box(corners).as_list(),
                       "uncertain": bool(confidence < uncertain_below)})
    rows, cols = np.nonzero(mask)
    corners = (rectangle(cols.min(), rows.min(), cols.max() + 1, rows.max() + 1) if len(rows)
               else rectangle(0, 0, mask.shape[1], mask.shape[0]))
    text = "".join(str(d["digit"]) for d in digits)
    return ReadLine(text, min((d["confidence"] for d in digits), default=0.0), corners, digits, image)


def bounding_box(points: list[list[float]]) -> Box:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return Box(int(min(xs)), int(min(ys)), int(math.ceil(max(xs))), int(math.ceil(max(ys))))


@dataclass
class PageReading:
    lines: list[ReadLine]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def digits(self) -> list[dict]:
        return [digit for line in self.lines for digit in line.digits]


def read_page(source: ImageSource, reader: LineReaderFn, stride: int, uncertain_below: float,
              name: str | None = None, opinion: DigitOpinion | None = None,
              turned: TurnedFn | None = None) -> PageReading:
    """Every line of digits on a photo or scan, top to bottom, each read whole (with `opinion`,
    the digits that stand alone also by a digit model: `with_second_opinion`). A page turned
    upside down is read the right way up (`upside_down`, asking `turned`, an orientation model,
    where there is one)."""
    ink = detach_from_frames(find_ink(source, name, work_side=READ_SIDE))
    lines = find_lines(ink)
    if not lines:
        raise NoDigitFound(f"{describe(source, name)}: no digit found (the image is blank or too faint).")
    chosen = [read_line(ink, line, reader, stride, uncertain_below, opinion=opinion) for line in lines]
    odds = turned([line.image for line in chosen], [len(line.text) for line in chosen]) if turned is not None else None
    if odds is not None:
        try_turned = could_be_upside_down(chosen, odds)
    else:  # one line read surely could not turn; the lines of a page vote however surely each reads
        try_turned = len(chosen) > 1 or certainty(chosen) < math.log(0.98)
    if try_turned:
        flipped = [read_line(ink, line, reader, stride, uncertain_below, flip=True, opinion=opinion)
                   for line in reversed(lines)]
        if upside_down(chosen, flipped[::-1], odds):
            chosen = flipped
    found = [line for line in chosen if line.text]
    if not found:
        raise NoDigitFound(f"{describe(source, name)}: no digit found (the ink there does not read as digits).")
    return PageReading(found)


def upside_down(upright: list[ReadLine], flipped: list[ReadLine], odds: list[float] | None = None) -> bool:
    """Whether the lines are turned by 180 degrees. With an orientation model's log-odds that each
    line is turned (`odds`): when those, the line reader's gain in mean log-confidence from reading
    each line turned (weighted by READER_GAIN_WEIGHT) and the prior odds of a turned picture
    (TURNED_PRIOR_LOG_ODDS) add up above 0.

    Without one, only from the line reader's gains. Many digits read as digits upside down too (0,
    1, 8, 6 and 9 at once, and a 2 or a 7 passably), so one line decides only when it reads far
    better turned. On a page each line's gain is small (a turned line still reads passably) but
    its sign is consistent, so a page turns when most of its lines, and the lines on average, read
    better turned."""
    gains = np.array([certainty([b]) - certainty([a]) for a, b in zip(upright, flipped)])
    if odds is not None:
        return turned_evidence(odds, float(np.sum(gains))) > 0
    if len(gains) == 1:
        return bool(gains[0] > 0.6)
    return bool(np.mean(gains > 0) > 0.5 and np.median(gains) > 0 and np.mean(gains) > 0)


def could_be_upside_down(upright: list[ReadLine], odds: list[float]) -> bool:
    """Whether `upside_down` could find these lines turned, however well they read turned: a
    line's turned reading gains at most what its upright one lacks of certainty. When not, the
    lines need not be read turned at all (most upright pictures)."""
    return turned_evidence(odds, -sum(certainty([line]) for line in upright)) > 0


def turned_evidence(odds: list[float], gain: float) -> float:
    """The log-odds that a picture is turned: the prior, the orientation model's log-odds of its
    lines, and the line reader's total gain in mean log-confidence from reading them turned."""
    return TURNED_PRIOR_LOG_ODDS + float(np.sum(odds)) + READER_GAIN_WEIGHT * gain


def certainty(lines: list[ReadLine]) -> float:
    """How sure the reader is of a reading: the mean log-confidence of its digits."""
    confidences = [d["confidence"] for line in lines for d in line.digits]
    return float(np.mean(np.log(np.clip(confidences, 1e-6, 1.0)))) if confidences else -14.0
