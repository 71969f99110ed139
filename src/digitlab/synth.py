"""Training images beyond MNIST's 4,000 digits: digits and non-digits rendered from the training
handwriting faces (`fonts.py`), and the styles MNIST's writers rarely used, drawn onto its real
strokes (a 1 with a flag and a foot, a 7 with a crossbar, a 4 closed at the top).

Each image is a glyph distorted as a hand would (rotation, slant, width, elastic distortion as in
Simard et al., 2003, stroke width, sometimes hollow) and then made MNIST-form by the scan
pipeline's own last step, `render_mnist`: the model learns from exactly the kind of image that
`normalize_scan` shows it. Every image depends only on (seed, its index), so a set is the same
on every machine and can be made in parallel.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from digitlab.errors import DigitlabError
from digitlab.preprocessing import _disk, normalize_scan, pool_context, render_mnist
from digitlab.strokes import stroke_width

GLYPH_SIZE = 96       # font size at which glyphs are rendered and distorted
MNIST_UPSCALE = 4     # real MNIST strokes are distorted at 112x112

# Non-digits for the "not a digit" class. Left out: characters a hand may write exactly like a
# digit (O o D Q for 0; I l i j | ! / ( ) [ ] for 1; Z z for 2; S s for 5; b G for 6; B for 8;
# g q for 9; { } for 3; ¶ for 9), which would teach the model to doubt real digits.
NOT_DIGIT_CHARS = "ACEFHJKLMNPRTUVWXYacdefhkmnprtuvwxy%#?&@*+=$<>~^€£¥§©®"


@lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=256)
def _codepoints(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    return frozenset(TTFont(path, lazy=True).getBestCmap())


def has_glyphs(font: Path, text: str) -> bool:
    """Whether `font` draws every character of `text` (else FreeType would draw an empty box)."""
    return all(ord(c) in _codepoints(str(font)) for c in text)


def glyph_ink(text: str, font: Path, size: int = GLYPH_SIZE) -> np.ndarray:
    """`text` drawn in `font` as float ink in [0, 1], cropped to the ink with a margin."""
    face = _font(str(font), size)
    left, top, right, bottom = face.getbbox(text)
    pad = size // 2
    canvas = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(canvas).text((pad - left, pad - top), text, fill=255, font=face)
    return crop(np.asarray(canvas, dtype=np.float32) / 255, margin=pad // 2)


def crop(ink: np.ndarray, margin: int = 0, level: float = 0.3) -> np.ndarray:
    rows, cols = np.nonzero(ink > level)
    if len(rows) == 0:
        return ink
    return np.pad(ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1], margin)


def upscale_mnist(image: np.ndarray, factor: int = MNIST_UPSCALE) -> np.ndarray:
    """A real 28x28 digit as float ink at `factor` times the size, its strokes kept smooth."""
    big = Image.fromarray(image).resize((28 * factor, 28 * factor), Image.Resampling.BICUBIC)
    return crop(np.clip(np.asarray(big, dtype=np.float32) / 255, 0, 1), margin=2 * factor)


# ---------------------------------------------------------------- a hand's variation


def random_affine(ink: np.ndarray, rng: np.random.Generator, degrees: float = 12.0, shear: float = 0.45,
                  squeeze: tuple[float, float] = (0.75, 1.3)) -> np.ndarray:
    """Rotate, slant and widen or narrow the glyph about its centre, on a canvas that holds it."""
    angle = math.radians(rng.uniform(-degrees, degrees))
    slant = rng.uniform(-shear, shear)
    widen = rng.uniform(*squeeze)
    forward = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]) @ \
        np.array([[1.0, 0.0], [slant, widen]])  # (row, col) coordinates: slant shifts columns by row
    height, width = ink.shape
    corners = np.array([[0, 0], [0, width], [height, 0], [height, width]], dtype=float) - [height / 2, width / 2]
    extent = np.abs(corners @ forward.T).max(axis=0)
    out_shape = (int(2 * extent[0]) + 4, int(2 * extent[1]) + 4)
    inverse = np.linalg.inv(forward)
    offset = np.array([height / 2, width / 2]) - inverse @ (np.array(out_shape) / 2)
    # Pillow's affine transform (several times faster than SciPy's) takes (x, y) order.
    coefficients = (inverse[1, 1], inverse[1, 0], offset[1], inverse[0, 1], inverse[0, 0], offset[0])
    image = Image.fromarray(np.asarray(ink, dtype=np.float32), mode="F")
    return np.asarray(image.transform(out_shape[::-1], Image.Transform.AFFINE, coefficients,
                                      Image.Resampling.BILINEAR))


def elastic(ink: np.ndarray, rng: np.random.Generator, amount: float, scale: float) -> np.ndarray:
    """Elastic distortion (Simard et al., 2003): every pixel moved by a smooth random displacement,
    `amount` pixels (standard deviation) that varies over `scale` pixels. The field is drawn on a
    grid `scale` apart and interpolated (bicubic), which is what Simard's Gaussian-smoothed noise
    amounts to, at a fraction of the cost on large glyphs."""
    height, width = ink.shape
    grid = (max(2, int(np.ceil(width / scale)) + 1), max(2, int(np.ceil(height / scale)) + 1))

    def field() -> np.ndarray:
        coarse = Image.fromarray(rng.normal(0, amount, grid[::-1]).astype(np.float32), mode="F")
        return np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC))

    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    return ndimage.map_coordinates(ink, [rows + field(), cols + field()], order=1, mode="constant")


def vary_stroke(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A thinner or bolder pen: erode or dilate by up to a third of the stroke width."""
    width = stroke_width(mask)
    radius = int(round(rng.uniform(-0.3, 0.45) * width))
    if radius > 0:
        return ndimage.binary_dilation(np.pad(mask, radius), structure=_disk(radius))
    if radius < 0:
        thinner = ndimage.binary_erosion(mask, structure=_disk(-radius))
        return thinner if thinner.sum() > 0.4 * mask.sum() else mask
    return mask


def narrowed(mask: np.ndarray, rng: np.random.Generator, narrowest: float = 0.4, widest: float = 0.75) -> np.ndarray:
    """Writing drawn narrow, as condensed faces (Amatic SC's digits are a quarter to a third as
    wide as high) and hands filling a narrow column draw it: squeezed sideways to
    `narrowest`-`widest` of its width, the pen as broad as before."""
    factor = rng.uniform(narrowest, widest)
    height, width = mask.shape
    squeezed = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(
        (max(1, round(width * factor)), height), Image.Resampling.BILINEAR)) > 127
    # The squeeze thinned the upright strokes: grown back sideways to the pen's breadth.
    radius = int(round(stroke_width(mask) * (1 - factor) / 2))
    if radius == 0:
        return squeezed
    return ndimage.binary_dilation(np.pad(squeezed, ((0, 0), (radius, radius))),
                                   structure=np.ones((1, 2 * radius + 1), bool))


def hollow(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An outline glyph (as outline fonts and "bubble" lettering draw digits): the stroke made
    bold, then only its edge kept."""
    height = max(mask.shape)
    bold = max(0, int(round(rng.uniform(0.05, 0.09) * height - stroke_width(mask) / 2)))
    if bold:
        mask = ndimage.binary_dilation(np.pad(mask, bold), structure=_disk(bold))
    edge = max(1, int(round(rng.uniform(0.015, 0.03) * height)))
    return mask & ~ndimage.binary_erosion(mask, structure=_disk(edge))


def hand_distorted(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A glyph as one random hand would draw it: rotated, slanted, widened, elastically bent."""
    ink = random_affine(ink, rng)
    if rng.random() < 0.7:
        size = max(ink.shape)
        ink = elastic(ink, rng, amount=rng.uniform(0.015, 0.04) * size, scale=rng.uniform(0.15, 0.3) * size)
    return ink


def handwritten(ink: np.ndarray, rng: np.random.Generator, hollow_chance: float = 0.0) -> np.ndarray:
    """One random hand's version of a glyph, in MNIST form (uint8 28x28)."""
    ink = hand_distorted(ink, rng)
    mask = ink > rng.uniform(0.35, 0.6)
    if not mask.any():
        mask = ink > 0.5 * ink.max()
    mask = vary_stroke(mask, rng)
    if rng.random() < hollow_chance:
        mask = hollow(mask, rng)
    return render_mnist(mask)


def tiny_picture(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A glyph as a drawing app or a data set saves a digit: a small square picture (8 to 28
    pixels), light on black or dark on white, the digit filling most of it."""
    side = int(rng.choice([8, 10, 12, 14, 16, 20, 24, 28]))
    fill = rng.uniform(0.6, 0.95)
    height, width = ink.shape
    scale = fill * side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray((np.clip(ink, 0, 1) * 255).astype(np.uint8)).resize(size, Image.Resampling.BOX),
                       dtype=np.float32) / 255
    canvas = np.zeros((side, side), np.float32)
    top, left = int(rng.integers(0, side - size[1] + 1)), int(rng.integers(0, side - size[0] + 1))
    canvas[top:top + size[1], left:left + size[0]] = small
    paper, pen = rng.uniform(0, 0.25), rng.uniform(0.7, 1.0)
    picture = paper + (pen - paper) * canvas
    if rng.random() < 0.5:
        picture = 1 - picture
    return (np.clip(picture, 0, 1) * 255).astype(np.uint8)


def through_pipeline(picture: np.ndarray) -> np.ndarray | None:
    """What `normalize_scan` makes of a picture (None where it finds no digit): for the kinds of
    input whose look depends on the pipeline's own steps, such as tiny pictures."""
    try:
        return normalize_scan(picture)
    except DigitlabError:
        return None


# ---------------------------------------------------------------- styles MNIST lacks


def _ends(mask: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """(row, col) of the top and bottom ends of the ink."""
    rows = np.flatnonzero(mask.any(axis=1))
    top, bottom = rows[0], rows[-1]
    return ((top, float(np.flatnonzero(mask[top]).mean())), (bottom, float(np.flatnonzero(mask[bottom]).mean())))


def _draw(mask: np.ndarray, lines: Sequence[tuple[float, float, float, float]], width: float) -> np.ndarray:
    """`mask` with straight strokes (r0, c0, r1, c1) drawn on it; the canvas grows only where a
    stroke would leave it, so the mask keeps its place."""
    pad = int(width) + 2
    rows = [r for line in lines for r in (line[0], line[2])]
    cols = [c for line in lines for c in (line[1], line[3])]
    top, left = min(0, int(min(rows)) - pad), min(0, int(min(cols)) - pad)
    bottom, right = max(mask.shape[0], int(max(rows)) + pad), max(mask.shape[1], int(max(cols)) + pad)
    canvas = Image.new("L", (right - left, bottom - top), 0)
    canvas.paste(Image.fromarray(mask.astype(np.uint8) * 255), (-left, -top))
    draw = ImageDraw.Draw(canvas)
    for r0, c0, r1, c1 in lines:
        draw.line([(c0 - left, r0 - top), (c1 - left, r1 - top)], fill=255, width=max(1, int(round(width))))
    return np.asarray(canvas) > 127


def flag_and_foot(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 1 as much of Europe writes it: a flag down-left from the top, often a foot at the base."""
    (top_r, top_c), (bottom_r, bottom_c) = _ends(mask)
    height = bottom_r - top_r
    lines = []
    style = rng.random()
    if style < 0.9:
        length, angle = rng.uniform(0.2, 0.55) * height, math.radians(rng.uniform(10, 65))
        lines.append((top_r, top_c, top_r + length * math.sin(angle), top_c - length * math.cos(angle)))
    if style > 0.5:
        half, tilt = rng.uniform(0.15, 0.3) * height, rng.uniform(-0.08, 0.08) * height
        lines.append((bottom_r - tilt, bottom_c - half, bottom_r + tilt, bottom_c + half))
    return _draw(mask, lines, stroke_width(mask))


def crossbar(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 7 with a bar across its stem, halfway down."""
    rows = np.flatnonzero(mask.any(axis=1))
    row = int(rows[0] + rng.uniform(0.45, 0.62) * (rows[-1] - rows[0]))
    stem = float(np.flatnonzero(mask[row]).mean()) if mask[row].any() else mask.shape[1] / 2
    width = np.ptp(np.flatnonzero(mask.any(axis=0)))
    left, right = rng.uniform(0.18, 0.35) * width, rng.uniform(0.18, 0.35) * width
    tilt = rng.uniform(-0.05, 0.05) * width
    return _draw(mask, [(row + tilt, stem - left, row - tilt, stem + right)], stroke_width(mask))


def closed_top(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 4 whose two arms are joined at the top (read as a 9 by a model that never saw one)."""
    cols = np.flatnonzero(mask.any(axis=0))
    split = int(cols[0] + 0.45 * (cols[-1] - cols[0]))
    tops = []
    for part in (mask[:, :split], mask[:, split:]):
        rows = np.flatnonzero(part.any(axis=1))
        if len(rows) == 0:
            return mask
        tops.append((rows[0], float(np.flatnonzero(part[rows[0]]).mean())))
    (r0, c0), (r1, c1) = tops[0], (tops[1][0], tops[1][1] + split)
    lift = rng.uniform(0.0, 0.05) * mask.shape[0]
    return _draw(mask, [(r0 - lift, c0, r1 - lift, c1)], stroke_width(mask))


STYLES: dict[int, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    1: flag_and_foot, 7: crossbar, 4: closed_top}


# ---------------------------------------------------------------- drawn non-digits


def _polyline(draw: ImageDraw.ImageDraw, points: np.ndarray, width: int) -> None:
    draw.line([tuple(p) for p in points], fill=255, width=width, joint="curve")


def drawn_not_digit(rng: np.random.Generator, side: int = 96) -> np.ndarray:
    """Ink that is plainly not a digit: a scribble, a smiley, a star, hatching, a spiral or a
    heart, as a bool mask."""
    canvas = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(canvas)
    width = int(rng.integers(3, 8))
    kind = rng.integers(6)
    centre = side / 2
    if kind == 0:  # a scribble: many overlapping strokes
        points = centre + rng.normal(0, side / 5, (int(rng.integers(7, 14)), 2))
        _polyline(draw, np.clip(points, 4, side - 4), width)
    elif kind == 1:  # a smiley
        r = side * rng.uniform(0.3, 0.42)
        draw.ellipse([centre - r, centre - r, centre + r, centre + r], outline=255, width=width)
        for dx in (-0.35, 0.35):
            eye_x, eye_y, e = centre + dx * r, centre - 0.3 * r, max(2, width)
            draw.ellipse([eye_x - e, eye_y - e, eye_x + e, eye_y + e], fill=255)
        draw.arc([centre - 0.55 * r, centre - 0.3 * r, centre + 0.55 * r, centre + 0.55 * r], 20, 160, fill=255,
                 width=width)
    elif kind == 2:  # a star
        spikes = int(rng.integers(5, 8))
        angles = np.arange(2 * spikes) * math.pi / spikes + rng.uniform(0, math.pi)
        radii = np.where(np.arange(2 * spikes) % 2 == 0, side * 0.42, side * rng.uniform(0.15, 0.25))
        points = np.stack([centre + radii * np.cos(angles), centre + radii * np.sin(angles)], 1)
        _polyline(draw, np.vstack([points, points[:1]]), width)
    elif kind == 3:  # hatching
        count, tilt = int(rng.integers(3, 7)), rng.uniform(-0.6, 0.6)
        for y in np.linspace(side * 0.15, side * 0.85, count):
            draw.line([(side * 0.1, y - tilt * side * 0.4), (side * 0.9, y + tilt * side * 0.4)], fill=255, width=width)
    elif kind == 4:  # a spiral
        t = np.linspace(0, rng.uniform(4.5, 6.5) * math.pi, 100)
        r = side * 0.42 * t / t[-1]
        _polyline(draw, np.stack([centre + r * np.cos(t), centre + r * np.sin(t)], 1), width)
    else:  # a heart
        t = np.linspace(0, 2 * math.pi, 80)
        x, y = 16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        _polyline(draw, np.stack([centre + x * side / 40, centre + y * side / 40], 1), width)
    return np.asarray(canvas) > 127


# ---------------------------------------------------------------- whole sets


def _rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, index])


def _font_job(job: tuple[int, int, str, str, float]) -> np.ndarray:
    seed, index, text, font, hollow_chance = job
    rng = _rng(seed, index)
    ink = glyph_ink(text, Path(font))
    if text in "17" and rng.random() < 0.35:  # few faces write these styles; add them to some
        mask = STYLES[int(text)](ink > 0.5, rng)
        ink = mask.astype(np.float32)
    return handwritten(ink, rng, hollow_chance)


def _mnist_job(job: tuple[int, int, np.ndarray, int | None]) -> np.ndarray:
    seed, index, image, style = job
    rng = _rng(seed, index)
    ink = upscale_mnist(image)
    if style is not None:
        ink = STYLES[style](ink > 0.4, rng).astype(np.float32)
    return handwritten(ink, rng, hollow_chance=0.05)


def _tiny_job(job: tuple[int, int, np.ndarray | str, str | None]) -> np.ndarray | None:
    seed, index, source, font = job
    rng = _rng(seed, index)
    ink = glyph_ink(source, Path(font)) if font else upscale_mnist(source)
    return through_pipeline(tiny_picture(hand_distorted(ink, rng), rng))


def _drawn_job(job: tuple[int, int]) -> np.ndarray:
    seed, index = job
    rng = _rng(seed, index)
    return handwritten(drawn_not_digit(rng).astype(np.float32), rng)


def _run(function: Callable, jobs: list, workers: int) -> list[np.ndarray | None]:
    if workers > 1 and len(jobs) >= 256:
        with ProcessPoolExecutor(workers, mp_context=pool_context()) as pool:
            return list(pool.map(function, jobs, chunksize=64))
    return [function(job) for job in jobs]


def _stack(images: list[np.ndarray]) -> np.ndarray:
    return np.stack(images) if images else np.zeros((0, 28, 28), np.uint8)


def font_digits(fonts: Sequence[Path], variants: int, seed: int, workers: int = 1,
                hollow_chance: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """`variants` hands' versions of each digit in each font file: images (N, 28, 28), labels."""
    jobs, labels = [], []
    for f, font in enumerate(fonts):
        for digit in range(10):
            for v in range(variants):
                jobs.append((seed, (f * 10 + digit) * variants + v, str(digit), str(font), hollow_chance))
                labels.append(digit)
    return _stack(_run(_font_job, jobs, workers)), np.array(labels, dtype=np.int64)


def font_not_digits(fonts: Sequence[Path], variants: int, seed: int, workers: int = 1) -> np.ndarray:
    """Letters and symbols (`NOT_DIGIT_CHARS`, those each font has) in each font file."""
    jobs = []
    for f, font in enumerate(fonts):
        for c, char in enumerate(NOT_DIGIT_CHARS):
            if has_glyphs(font, char):
                for v in range(variants):
                    jobs.append((seed, (f * len(NOT_DIGIT_CHARS) + c) * variants + v, char, str(font), 0.05))
    return _stack(_run(_font_job, jobs, workers))


def mnist_renders(images: np.ndarray, labels: np.ndarray, seed: int, workers: int = 1,
                  styled: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Real MNIST digits as they come out of the scan pipeline after a random hand's distortion;
    with `styled`, only the 1s, 7s and 4s, each given the style MNIST lacks (`STYLES`)."""
    keep = np.isin(labels, list(STYLES)) if styled else np.ones(len(labels), dtype=bool)
    jobs = [(seed, i, image, int(label) if styled else None)
            for i, (image, label) in enumerate(zip(images, labels)) if keep[i]]
    return _stack(_run(_mnist_job, jobs, workers)), labels[keep].astype(np.int64)


def drawn_not_digits(count: int, seed: int, workers: int = 1) -> np.ndarray:
    return _stack(_run(_drawn_job, [(seed, i) for i in range(count)], workers))


def tiny_digits(images: np.ndarray, labels: np.ndarray, fonts: Sequence[Path], font_variants: int, seed: int,
                workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Real MNIST digits and font digits as tiny pictures (8 to 28 pixels, either polarity), as
    the scan pipeline reads them back."""
    font_glyphs = [(str(digit), str(font)) for font in fonts for digit in range(10) for _ in range(font_variants)]
    jobs = [(seed, i, image, None) for i, image in enumerate(images)]
    jobs += [(seed, len(images) + k, text, font) for k, (text, font) in enumerate(font_glyphs)]
    all_labels = list(labels) + [int(text) for text, _ in font_glyphs]
    results = _run(_tiny_job, jobs, workers)
    kept = [i for i, image in enumerate(results) if image is not None]
    return _stack([results[i] for i in kept]), np.array(all_labels, dtype=np.int64)[kept]
