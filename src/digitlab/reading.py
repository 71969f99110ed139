"""Reading numbers: the text lines of a photo or scan, straightened and read by the line reader.

A line is read whole by a CTC line reader (`models.LineReader`), without cutting it into digits
first, so joined, touching and slanted writing reads as well as neat digits. This module finds the
lines (any angle, pages turned by 90 or 180 degrees), normalises each one (`line_image`, also how
every training line is made), decodes the reader's output into digits with boxes and confidences.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

from digitlab.errors import NoDigitFound
from digitlab.images import ImageSource, describe
from digitlab.ink import Box, InkMap, find_ink, threshold_ink
from digitlab.preprocessing import MNIST_STROKE, hole_elongations, normalize_stroke, outline_inside
from digitlab.second_opinion import DigitOpinion, with_second_opinion
from digitlab.strokes import stroke_width

LINE_HEIGHT = 32   # the reader's input height
LINE_INK = 26      # the ink's height in it; the rest is margin
LINE_MARGIN = 4    # blank columns each side
MAX_LINE_WIDTH = 640
READ_SIDE = 384    # lines are found at this working resolution, then read from the original pixels
CROP_HEIGHT = 64   # a line is cut from the original at this height before its ink is thresholded


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


# ---------------------------------------------------------------- finding the lines of a page


@dataclass
class TextLine:
    """A line of writing found at working resolution: its components and its rectangle in the
    frame turned by `angle` (u along the line, v across it)."""

    components: list[int]
    angle: float                  # radians: the writing runs along (cos, sin) in image x, y
    u0: float
    u1: float
    v0: float
    v1: float

    @property
    def height(self) -> float:
        return self.v1 - self.v0


def turned(xs: np.ndarray, ys: np.ndarray, angle: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Image coordinates in the frame of writing at `angle`: (along, across). Angles as a column
    (shape (K, 1)) turn the points to all K frames at once."""
    cos, sin = np.cos(angle), np.sin(angle)
    return xs * cos + ys * sin, -xs * sin + ys * cos


def component_pixels(ink: InkMap, index: int, most: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """(xs, ys) of a component's pixels at working resolution, at most `most` of them."""
    rows, cols = ink.boxes[index]
    ys, xs = np.nonzero(ink.labels[rows, cols] == index + 1)
    step = max(1, len(xs) // most)
    return (xs[::step] + cols.start).astype(np.float64), (ys[::step] + rows.start).astype(np.float64)


def writing_angle(pieces: list[tuple[np.ndarray, np.ndarray]], stroke: float) -> float:
    """The direction of the writing, in radians, from its pieces' (xs, ys): the docstrum idea
    (O'Gorman, 1993). Digits of one number stand closer together than lines do, so the direction
    to each piece's nearest neighbours votes for the writing's direction; a piece much longer than
    it is thick, and thicker than a stroke (a number written joined up), votes along its length.
    No vote (a single digit): horizontal."""
    centres = np.array([(xs.mean(), ys.mean()) for xs, ys in pieces])
    votes, weights = [], []
    if len(pieces) >= 2:
        distance = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(distance, np.inf)
        for i in range(len(pieces)):
            for j in np.argsort(distance[i])[:2]:
                if np.isfinite(distance[i, j]):
                    dx, dy = centres[j] - centres[i]
                    votes.append(math.atan2(dy, dx))
                    weights.append(1.0)
    for xs, ys in pieces:
        if len(xs) < 3:
            continue
        # The principal axes of the pieces' covariance, in closed form for 2x2 (np.cov and eigh
        # cost more than the rest of the vote).
        dx, dy = xs - xs.mean(), ys - ys.mean()
        a, b, c = float(dx @ dx), float(dx @ dy), float(dy @ dy)
        half_sum, root = (a + c) / 2, math.hypot((a - c) / 2, b)
        major = math.sqrt(max((half_sum + root) / (len(xs) - 1), 1e-9))
        minor = math.sqrt(max((half_sum - root) / (len(xs) - 1), 1e-9))
        if major > 2.5 * minor and minor > 1.5 * stroke:
            votes.append(0.5 * math.atan2(2 * b, a - c))
            weights.append(major / minor)
    if not votes:
        return 0.0
    # Directions are axial (a vector and its opposite are one direction): double, average, halve.
    doubled = 2 * np.array(votes)
    histogram = np.zeros(72)
    np.add.at(histogram, (((doubled % (2 * math.pi)) / (2 * math.pi)) * 72).astype(int) % 72, weights)
    smooth = np.convolve(np.concatenate([histogram[-2:], histogram, histogram[:2]]), [1, 2, 3, 2, 1], "valid")
    peak = (np.argmax(smooth) + 0.5) / 72 * 2 * math.pi
    near = np.abs(np.angle(np.exp(1j * (doubled - peak)))) < math.radians(30)
    mean = np.angle(np.sum(np.array(weights)[near] * np.exp(1j * doubled[near])))
    angle = mean / 2
    # Within the axial direction, the one nearer left-to-right; a page upside down is found later.
    return float(angle - math.pi if angle > math.pi / 2 else angle + math.pi if angle <= -math.pi / 2 else angle)


def refined_angle(pixels: dict, pieces: list[int], angle: float, bin_width: float) -> float:
    """The angle within 12 degrees of `angle` across which the ink falls into the narrowest bands
    (the projection profile, Postl's method): centres of neighbours alone tilt a short line by how
    its digits are shaped."""
    xs = np.concatenate([pixels[i][0] for i in pieces])
    ys = np.concatenate([pixels[i][1] for i in pieces])
    candidates = angle + np.radians(np.arange(-12.0, 12.01, 1.0))
    # All candidates at once, each one's bands numbered apart from the others' in one bincount.
    _, v = turned(xs, ys, candidates[:, None])
    bands = ((v - v.min(axis=1, keepdims=True)) / bin_width).astype(np.int64)
    width = int(bands.max()) + 1
    counts = np.bincount((bands + width * np.arange(len(candidates))[:, None]).ravel(),
                         minlength=width * len(candidates)).astype(np.float64)
    return float(candidates[np.argmax((counts.reshape(len(candidates), width) ** 2).sum(axis=1))])


def enclosed_pieces(ink: InkMap, pieces: list[int]) -> set[int]:
    """The pieces that lie in a hole of another piece: the inner rings of outlined digits."""
    if len(pieces) < 2:
        return set()
    box = np.array([[ink.boxes[i][0].start, ink.boxes[i][0].stop, ink.boxes[i][1].start, ink.boxes[i][1].stop]
                    for i in pieces])
    within = ((box[:, None, 0] >= box[None, :, 0]) & (box[:, None, 1] <= box[None, :, 1])
              & (box[:, None, 2] >= box[None, :, 2]) & (box[:, None, 3] <= box[None, :, 3]))
    np.fill_diagonal(within, False)
    found: set[int] = set()
    filled: dict[int, np.ndarray] = {}
    for a, b in zip(*np.nonzero(within)):  # rare outside outlined writing: boxes seldom nest
        inner, outer = pieces[a], pieces[b]
        if inner in found:
            continue
        if outer not in filled:
            filled[outer] = ndimage.binary_fill_holes(ink.labels[ink.boxes[outer]] == outer + 1)
        rows, cols = ink.boxes[inner]
        ys, xs = np.nonzero(ink.labels[rows, cols] == inner + 1)
        outer_rows, outer_cols = ink.boxes[outer]
        if filled[outer][ys[0] + rows.start - outer_rows.start, xs[0] + cols.start - outer_cols.start]:
            found.add(inner)
    return found


def find_lines(ink: InkMap) -> list[TextLine]:
    """The lines of writing on a page, top to bottom and left to right within a row: components
    grouped by where they lie across the writing's direction, split where a gap along it is wider
    than a few digits."""
    keep = [int(i) for i in np.flatnonzero(ink.areas >= max(4.0, 0.01 * ink.areas.max()))]
    if not keep:
        return []
    pixels = {i: component_pixels(ink, i) for i in keep}
    large = float(np.median(np.sort(ink.areas[keep])[-12:]))
    # The inner rings of outlined digits lie in their outer rings: their neighbours' directions say
    # nothing of the writing's, and they join the line around them as small pieces do.
    inner = enclosed_pieces(ink, keep)
    significant = [i for i in keep if ink.areas[i] >= 0.15 * large and i not in inner] or keep
    angle = writing_angle([pixels[i] for i in significant], max(1.0, stroke_width(ink.mask)))
    sizes = [max(ink.boxes[i][0].stop - ink.boxes[i][0].start, ink.boxes[i][1].stop - ink.boxes[i][1].start)
             for i in significant]
    angle = refined_angle(pixels, significant, angle, max(1.0, 0.25 * float(np.median(sizes))))
    extent = {}
    for i in keep:
        u, v = turned(*pixels[i], angle)
        extent[i] = (float(u.min()), float(u.max()) + 1, float(v.min()), float(v.max()) + 1)
    heights = np.array([extent[i][3] - extent[i][2] for i in keep if i not in inner])
    typical = float(np.median(heights[heights >= 0.4 * heights.max()]))
    # Flat dashes (a ruled line's remnant, an underline) are never digits.
    keep = [i for i in keep if not (extent[i][3] - extent[i][2] < 0.3 * typical
                                    and extent[i][1] - extent[i][0] > 2 * typical)]
    big = sorted((i for i in keep if extent[i][3] - extent[i][2] >= 0.45 * typical and i not in inner),
                 key=lambda i: (extent[i][2] + extent[i][3]) / 2)
    rows: list[list[int]] = []
    for i in big:
        centre = (extent[i][2] + extent[i][3]) / 2
        for row in rows:
            row_centre = statistics.median((extent[j][2] + extent[j][3]) / 2 for j in row)
            if abs(centre - row_centre) < 0.5 * typical:
                row.append(i)
                break
        else:
            rows.append([i])
    # Small pieces (a dot, a detached bar) join the row whose band holds them.
    for i in set(keep) - set(big):
        centre = (extent[i][2] + extent[i][3]) / 2
        near = [row for row in rows if min(extent[j][2] for j in row) - 0.2 * typical <= centre
                <= max(extent[j][3] for j in row) + 0.2 * typical]
        if near:
            near[0].append(i)
    lines = []
    # Top to bottom by rows, left to right within one: two numbers on a row (a table, a date and
    # an amount) are read in that order even where the right one sits a little higher.
    rows.sort(key=lambda row: statistics.median((extent[j][2] + extent[j][3]) / 2 for j in row))
    for row in rows:
        row.sort(key=lambda j: extent[j][0])
        start = 0
        for k in range(1, len(row) + 1):
            gap = extent[row[k]][0] - max(extent[j][1] for j in row[start:k]) if k < len(row) else None
            if gap is None or gap > 2.5 * typical:
                members = row[start:k]
                lines.append(TextLine(members, angle, min(extent[j][0] for j in members),
                                      max(extent[j][1] for j in members), min(extent[j][2] for j in members),
                                      max(extent[j][3] for j in members)))
                start = k
    return lines


# ---------------------------------------------------------------- reading a line


def line_crop(ink: InkMap, line: TextLine, flip: bool = False,
              height: int = CROP_HEIGHT) -> tuple[np.ndarray, np.ndarray]:
    """The line cut from the original pixels, turned upright (and by 180 degrees with `flip`),
    `height` pixels across its ink band, with margins: (bright-ink float image, affine
    coefficients mapping its pixels to the original's, as Pillow's `Image.transform` takes)."""
    margin_v, margin_u = 0.25 * line.height, 0.6 * line.height
    u0, u1, v0, v1 = line.u0 - margin_u, line.u1 + margin_u, line.v0 - margin_v, line.v1 + margin_v
    k = height / (v1 - v0)  # crop pixels per working pixel
    size = (max(1, int(round((u1 - u0) * k))), height)
    angle = line.angle + (math.pi if flip else 0.0)
    cos, sin = math.cos(angle), math.sin(angle)
    if flip:
        u0, u1, v0, v1 = -u1, -u0, -v1, -v0
    to_gray = 1.0 / ink.scale
    coefficients = np.array([cos / k, -sin / k, cos * u0 - sin * v0, sin / k, cos / k, sin * u0 + cos * v0]) * to_gray
    gray = ink.gray if ink.gray.dtype == np.uint8 else (np.clip(ink.gray, 0, 1) * 255).astype(np.uint8)
    image, shrunk = Image.fromarray(gray), 1
    step = 1.0 / (k * ink.scale)  # original pixels per crop pixel
    if step >= 3:  # shrink first: an affine resampling does not average, and would alias
        shrunk = int(step // 1.5)
        image = image.reduce(shrunk)
    crop = image.transform(size, Image.Transform.AFFINE, tuple(coefficients / shrunk), Image.Resampling.BILINEAR,
                           fillcolor=int(np.median(gray[::7, ::7])))
    bright = np.asarray(crop, dtype=np.float32) / 255
    return (1.0 - bright if ink.inverted else bright), coefficients


def line_mask(bright: np.ndarray) -> np.ndarray:
    """The ink of a line crop, thresholded against the crop's own paper (its light is even over
    so small a piece) and kept to the components that reach the line's middle band, so the edges
    of the lines above and below stay out."""
    border = np.concatenate([bright[0], bright[-1], bright[:, 0], bright[:, -1]])
    mask = threshold_ink(np.clip(bright - np.median(border), 0.0, None))
    if mask is None:
        return np.zeros(bright.shape, dtype=bool)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    height = mask.shape[0]
    band = labels[int(0.3 * height):int(0.7 * height)]
    return np.isin(labels, np.setdiff1d(np.unique(band), [0]))


def might_be_outlines(mask: np.ndarray) -> bool:
    """Whether a line crop's ink may be hollow lettering: it is (`outline_inside`), or it has
    three or more small holes, as a thin face's outline shows at CROP_HEIGHT, its inside closed
    here and there (a sixteenth of the validation split's numbers have such holes, and are
    looked at twice)."""
    if outline_inside(mask) is not mask:
        return True
    rows = np.flatnonzero(mask.any(axis=1))
    _, elongation, areas = hole_elongations(mask)
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
# odds (1 in 50). On the validation split's numbers this keeps every upright number read as before;
# at even odds a first orientation model turned 1.5% of them (short ones, such as "61" and "19",
# are digits either way).
TURNED_PRIOR_LOG_ODDS = math.log(1 / 49)


def read_line(ink: InkMap, line: TextLine, reader: LineReaderFn, stride: int, uncertain_below: float,
              flip: bool = False, opinion: DigitOpinion | None = None) -> ReadLine:
    bright, coefficients = line_crop(ink, line, flip)
    mask = line_mask(bright)
    if might_be_outlines(mask):
        # Look at twice the height, where the inside of a thin face's outline is still one hole.
        fine_bright, fine_coefficients = line_crop(ink, line, flip, 2 * CROP_HEIGHT)
        fine = line_mask(fine_bright)
        inside = outline_inside(fine)
        if inside is not fine:
            bright, coefficients, mask = fine_bright, fine_coefficients, inside
    image, geometry = placed_line(mask)
    probabilities = reader([image])[0]
    decoded = ctc_best_path(probabilities)
    if opinion is not None:
        decoded = with_second_opinion(probabilities, decoded, image, stride, opinion)
    zoom = ink.zoom

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
               else rectangle(0, 0, bright.shape[1], bright.shape[0]))
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
    ink = find_ink(source, name, work_side=READ_SIDE)
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
