"""Reading numbers: the text lines of a photo or scan, straightened and read by the line reader.

A line is read whole by a CTC line reader (`models.LineReader`), without cutting it into digits
first, so joined, touching and slanted writing reads as well as neat digits. This module takes the
lines that `linefinding` finds (any angle, pages turned by 90 or 180 degrees), has `linecrop` cut
each from the photo, normalises it (`line_image`, also how every training line is made), decodes
the reader's output into digits with boxes and confidences, and reads a page turned by 180
degrees the right way up.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from digitlab.creases import crease_across
from digitlab.decorations import detach_from_frames, without_frames
from digitlab.errors import NoDigitFound
from digitlab.images import ImageSource, describe
from digitlab.ink import Box, InkMap, find_ink
from digitlab.linecrop import (
    CROP_HEIGHT,
    foreign_ink,
    grid_lines,
    in_middle_band,
    line_crop,
    line_ink,
    own_ink,
    paper_round,
    ruled_ink,
    without_stray_frames,
)
from digitlab.linefinding import TextLine, find_lines
from digitlab.marks import marks_between_digits
from digitlab.preprocessing import MNIST_STROKE, hole_elongations, looks_hollow, normalize_stroke, outline_inside
from digitlab.second_opinion import (
    DigitOpinion,
    remembering,
    spike_columns,
    surely_no_digit,
    with_second_opinion,
    with_unread_pieces,
)
from digitlab.slant import writing_slant

LINE_HEIGHT = 32   # the reader's input height
LINE_INK = 26      # the ink's height in it; the rest is margin
LINE_MARGIN = 4    # blank columns each side
MAX_LINE_WIDTH = 640
READ_SIDE = 384    # lines are found at this working resolution, then read from the original pixels
LEAST_SLANT = 0.1  # writing leaning less than this is only read as it is
FAR_SLANT = 0.4    # the line reader learnt leans up to about this; past it a line is always read upright too
# Leaning less, a line read this surely (its digits' geometric mean confidence) is not read upright
# too. Chosen on the validation split's numbers: 600 second readings of 1,500 numbers instead of
# 1,056, and as many numbers read (without FAR_SLANT: 408, and one fewer). Two readings that differ,
# the surer under this, leave the line "not sure" (`read_line`).
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
    outlined: bool = False  # read from the insides of hollow lettering (`cut_line`)
    # Holds ink that is no digit: a sign (`marks_between_digits`), or a piece the digit model is sure
    # is none (`surely_no_digit`). It leaves the line "not sure" in either view (`read_line`).
    holds_non_digit: bool = False

    def to_json(self) -> dict:
        return {"text": self.text, "box": self.corners, "confidence": round(self.confidence, 6),
                "digits": self.digits}

    def doubted(self) -> ReadLine:
        """This line with every digit "not sure": its way up is in doubt (read the wrong way up,
        every digit is wrong), its two views read differently (`read_line`), or it holds ink of a
        digit's size that neither model read as a digit, or a letter or sign (`read_cut`)."""
        return replace(self, digits=[digit | {"uncertain": True} for digit in self.digits])


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
# A number that reads as digits either way up ("09" and "60") is read "not sure" when the log-odds
# that its picture is turned (`turned_evidence`, prior included) lie between these: the picture
# itself says turned, but not by enough to outweigh the prior, or only just. Chosen on the
# validation split's numbers, upright, turned and on their side (1,000): 26 more of their 76
# misreads flagged (44 in all), and 13 more of their 924 correct readings (1 of the upright row's).
WAY_UP_DOUBT = (-2.0, 0.5)
# The orientation model learnt lines of written strokes, and is less sure of the insides of
# hollow lettering: it took 2 of the validation faces' 200 upright numbers for turned, at log-odds
# of 2.7 and 3.2 (turned, the dev faces' hollow numbers gave 2.3-27, most over 5). Its log-odds
# for them count half.
OUTLINED_ODDS_WEIGHT = 0.5


def read_line(ink: InkMap, line: TextLine, reader: LineReaderFn, stride: int, uncertain_below: float,
              flip: bool = False, opinion: DigitOpinion | None = None) -> ReadLine:
    """One line read as it is written and, when its writing leans (`slant.writing_slant`) far or
    that reading is not sure, also stood upright; the surer of the two readings is kept. The line
    reader learnt lines leaning up to about 0.4 either way, and reads a hand leaning further (an
    italic face) far better stood upright; but some lines it reads better as they lean, joined-up
    writing most. Two readings that differ, the surer not all but certain, leave every digit "not
    sure", as a sign or a piece the digit model is sure is no digit seen in either view does."""
    cut = cut_line(ink, line, flip)
    read = read_cut(cut, ink.zoom, reader, stride, uncertain_below, opinion)
    slant = writing_slant(cut.mask)
    if abs(slant) < LEAST_SLANT or (abs(slant) < FAR_SLANT and certainty([read]) >= SURE_AS_WRITTEN):
        return read
    upright = read_cut(cut_line(ink, line, flip, slant), ink.zoom, reader, stride, uncertain_below, opinion)
    chosen, other = (upright, read) if certainty([upright]) > certainty([read]) else (read, upright)
    # Two views of one line that read differently, neither all but certain: one of them is wrong,
    # and the surer was, a third to a half of the time (the benchmark's validation and dev rows).
    # A sign seen in either view is the line's: in the other a comma may touch a digit. So is a
    # piece the digit model is sure is no digit ("+5" read "75"): in the other it may go unasked.
    if (chosen.text != other.text and certainty([chosen]) < SURE_AS_WRITTEN) or other.holds_non_digit:
        return chosen.doubted()
    return chosen


@dataclass(frozen=True)
class LineCut:
    """A line's ink as `cut_line` cuts it from the picture."""

    mask: np.ndarray          # the ink the line reader reads
    coefficients: np.ndarray  # the affine map of the mask's pixels to the original's
    outlined: bool            # hollow lettering's: the mask is the inside of the outlines
    # The mask with the small pieces on the line's foot (points, commas) that it leaves out; None
    # for hollow lettering, whose insides hold bits the size of a point: its line image is used.
    signs: np.ndarray | None


def cut_line(ink: InkMap, line: TextLine, flip: bool = False, slant: float = 0.0) -> LineCut:
    """A line's ink, cut from the original pixels (`line_crop`, `line_ink`), kept to what reaches
    its middle band (`in_middle_band`), less any frame drawn round it that the line finder could
    not set apart (`without_stray_frames`, `without_frames`). Hollow lettering is cut at twice the
    height, and its ink is the inside of the outlines."""
    def ink_of(bright: np.ndarray, coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        whole = line_ink(bright, foreign_ink(ink, line, coefficients, bright.shape),
                         ruled_ink(ink, coefficients, bright.shape), slant,
                         lambda: paper_round(ink, line, flip, bright.shape[0], slant))
        band = in_middle_band(whole)
        mask = without_frames(without_stray_frames(band, lambda: own_ink(ink, line, coefficients, bright.shape)))
        # Squared paper's leaning columns, and a fold's crease, found across the whole crop: within
        # the writing's rows, where a frame's pieces have gone, what is left of them is too short
        # to tell from a 1.
        mask = mask & ~grid_lines(whole, slant) & ~crease_across(whole)
        # A point or a comma sits on the line's foot, under the middle band: the reader, which
        # knows only digits, does without it, but `marks_between_digits` looks for it.
        return mask, mask | (whole & ~band)

    bright, coefficients = line_crop(ink, line, flip, slant=slant)
    mask, signs = ink_of(bright, coefficients)
    if might_be_outlines(mask):
        # Look at twice the height, where the inside of a thin face's outline is still one hole.
        fine_bright, fine_coefficients = line_crop(ink, line, flip, 2 * CROP_HEIGHT, slant)
        fine, _ = ink_of(fine_bright, fine_coefficients)
        inside = outline_inside(fine)
        if inside is not fine:
            return LineCut(inside, fine_coefficients, True, None)
    return LineCut(mask, coefficients, False, signs)


def digits_read(probabilities: np.ndarray, decoded: list[tuple[int, float, int, int]], image: np.ndarray,
                stride: int, opinion: DigitOpinion | None) -> tuple[list[tuple[int, float, int, int]], bool]:
    """A line image's digits from CTC's best path (`decoded`, of `probabilities`), the digit model
    `opinion` (if any) asked about those that stand alone (`with_second_opinion`) and the pieces of
    ink read as nothing (`with_unread_pieces`); and whether such a piece is left unread."""
    if opinion is not None:
        decoded = with_second_opinion(probabilities, decoded, image, stride, opinion)
    return with_unread_pieces(decoded, image, stride, opinion)


def read_cut(cut: LineCut, zoom: float, reader: LineReaderFn, stride: int, uncertain_below: float,
             opinion: DigitOpinion | None) -> ReadLine:
    """The digits of a line's ink (`cut_line`), with their boxes and confidences in the original
    picture (`zoom`: `InkMap.zoom`)."""
    mask, coefficients = cut.mask, cut.coefficients
    image, geometry = placed_line(mask)
    probabilities = reader([image])[0]
    decoded = ctc_best_path(probabilities)
    no_digit = False
    if opinion is not None:
        opinion = remembering(opinion)
        no_digit = surely_no_digit(image, decoded, stride, opinion)
    decoded, unread = digits_read(probabilities, decoded, image, stride, opinion)

    def to_original(x: float, y: float) -> list[float]:
        a, b, c, d, e, f = coefficients
        return [round((a * x + b * y + c) / zoom, 1), round((d * x + e * y + f) / zoom, 1)]

    def rectangle(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
        return [to_original(x0, y0), to_original(x1, y0), to_original(x1, y1), to_original(x0, y1)]

    # A digit's columns: from halfway to the previous digit's spike to halfway to the next one,
    # narrowed to the ink found there.
    centres = spike_columns(decoded, stride)
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
    non_digit = no_digit or marks_between_digits(image if cut.signs is None else cut.signs)
    read = ReadLine(text, min((d["confidence"] for d in digits), default=0.0), corners, digits, image, cut.outlined,
                    non_digit)
    return read.doubted() if unread or non_digit else read


def bounding_box(points: list[list[float]]) -> Box:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return Box(int(min(xs)), int(min(ys)), int(math.ceil(max(xs))), int(math.ceil(max(ys))))


@dataclass
class PageReading:
    lines: list[ReadLine]
    turned: bool = False  # read turned by 180 degrees (`upside_down`)

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
        odds = [OUTLINED_ODDS_WEIGHT * odd if line.outlined else odd for line, odd in zip(chosen, odds)]
        try_turned = could_be_upside_down(chosen, odds)
    else:  # one line read surely could not turn; the lines of a page vote however surely each reads
        try_turned = len(chosen) > 1 or certainty(chosen) < math.log(0.98)
    turned_page = False
    if try_turned:
        flipped = [read_line(ink, line, reader, stride, uncertain_below, flip=True, opinion=opinion)
                   for line in reversed(lines)]  # the turned page's lines, top to bottom
        paired = flipped[::-1]  # each beside its upright reading
        in_doubt = odds is not None and way_up_in_doubt(chosen, paired, odds)
        turned_page = upside_down(chosen, paired, odds)
        if turned_page:
            chosen = flipped
        if in_doubt:
            chosen = [line.doubted() for line in chosen]
    found = [line for line in chosen if line.text]
    if not found:
        raise NoDigitFound(f"{describe(source, name)}: no digit found (the ink there does not read as digits).")
    return PageReading(found, turned_page)


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
    gains = turned_gains(upright, flipped)
    if odds is not None:
        return turned_evidence(odds, float(np.sum(gains))) > 0
    if len(gains) == 1:
        return bool(gains[0] > 0.6)
    return bool(np.mean(gains > 0) > 0.5 and np.median(gains) > 0 and np.mean(gains) > 0)


def could_be_upside_down(upright: list[ReadLine], odds: list[float]) -> bool:
    """Whether `upside_down` could find these lines turned, or their way up in doubt
    (`way_up_in_doubt`), however well they read turned: a line's turned reading gains at most what
    its upright one lacks of certainty. When not, the lines need not be read turned at all (most
    upright pictures)."""
    return turned_evidence(odds, -sum(certainty([line]) for line in upright)) > WAY_UP_DOUBT[0]


def way_up_in_doubt(upright: list[ReadLine], flipped: list[ReadLine], odds: list[float]) -> bool:
    """Whether the two ways up read differently and the evidence that the picture is turned lies
    within WAY_UP_DOUBT: then neither reading is sure, however surely each reads its digits."""
    differ = [line.text for line in upright] != [line.text for line in flipped]
    evidence = turned_evidence(odds, float(np.sum(turned_gains(upright, flipped))))
    return differ and WAY_UP_DOUBT[0] < evidence < WAY_UP_DOUBT[1]


def turned_gains(upright: list[ReadLine], flipped: list[ReadLine]) -> np.ndarray:
    """How much more surely each line reads turned than upright (mean log-confidence); nothing
    from a line that reads no digit one way up: a speck read as nothing upright and as a 1
    turned gained as much as a whole page's surest lines, and turned the page."""
    return np.array([certainty([b]) - certainty([a]) if a.digits and b.digits else 0.0
                     for a, b in zip(upright, flipped)])


def turned_evidence(odds: list[float], gain: float) -> float:
    """The log-odds that a picture is turned: the prior, the orientation model's log-odds of its
    lines, and the line reader's total gain in mean log-confidence from reading them turned."""
    return TURNED_PRIOR_LOG_ODDS + float(np.sum(odds)) + READER_GAIN_WEIGHT * gain


def certainty(lines: list[ReadLine]) -> float:
    """How sure the reader is of a reading: the mean log-confidence of its digits."""
    confidences = [d["confidence"] for line in lines for d in line.digits]
    return float(np.mean(np.log(np.clip(confidences, 1e-6, 1.0)))) if confidences else -14.0
