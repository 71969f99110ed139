"""Training lines for the line reader: digit strings composed from real handwritten digits
(mnist-5k's training split) and rendered in the training handwriting faces, generated on the fly.

A line depends only on (seed, epoch, index), so an epoch is the same on every machine and a
resumed run sees what it would have seen. Digits are set with the gaps people leave, from wide
to none: overlapping, touching, joined by a cursive stroke; at varying heights and baselines,
slanted, with thicker or thinner pens. Each line ends as the pipeline makes any line it reads:
its ink mask, normalised by `reading.line_image`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from digitlab.reading import LINE_HEIGHT, line_image
from digitlab.synth import STYLES, elastic, glyph_ink, narrowed, random_affine, upscale_mnist, vary_stroke

MAX_DIGITS = 8
GLYPH_HEIGHT = 36  # digits are composed at about this height, then the line is normalised
STYLED_SHARE = 0.3  # with styles: the share of composed 1s, 7s and 4s given a style MNIST lacks
CONDENSED_SHARE = 0.15  # with condensed: the share of lines drawn narrow


@dataclass
class LineSources:
    """Where digit shapes come from: real MNIST digits (as bool masks, by class), font files, and
    whether some MNIST 1s, 7s and 4s are given the styles MNIST lacks (`synth.STYLES`: flag and
    foot, crossbar, closed top), and whether some lines are written narrow (`synth.narrowed`)."""

    mnist: list[list[np.ndarray]]
    fonts: list[Path]
    styles: bool = False
    condensed: bool = False

    @classmethod
    def from_arrays(cls, images: np.ndarray, labels: np.ndarray, fonts: list[Path], styles: bool = False,
                    condensed: bool = False) -> LineSources:
        by_class: list[list[np.ndarray]] = [[] for _ in range(10)]
        for image, label in zip(images, labels):
            by_class[int(label)].append(upscale_mnist(image, factor=2) > 0.4)  # 56 px: ample for GLYPH_HEIGHT
        return cls(by_class, list(fonts), styles, condensed)


LENGTHS = np.cumsum([0.08, 0.14, 0.16, 0.16, 0.15, 0.13, 0.1, 0.08])  # 1 to MAX_DIGITS digits


def random_length(rng: np.random.Generator) -> int:
    return int(np.searchsorted(LENGTHS, rng.random() * LENGTHS[-1])) + 1


def _paste(canvas: np.ndarray, glyph: np.ndarray, top: int, left: int) -> None:
    region = canvas[top:top + glyph.shape[0], left:left + glyph.shape[1]]
    np.maximum(region, glyph[:region.shape[0], :region.shape[1]], out=region)


def spacing(rng: np.random.Generator) -> tuple[float, float]:
    """The range of gaps one hand leaves between digits, in units of the digits' height: from
    crowded (overlapping and touching, 40% of lines) to spread out."""
    style = rng.random()
    if style < 0.4:
        return (-0.22, 0.03)
    return (0.0, 0.35) if style < 0.88 else (0.3, 0.8)


def set_digits(glyphs: list[np.ndarray], rng: np.random.Generator, height: int,
               tops: list[int] | None = None) -> np.ndarray:
    """Digit masks set side by side at `spacing`, and in a cursive hand (40% of lines) most of
    them joined by a curved stroke from somewhere on the right of one to the left of the next."""
    gap_range = spacing(rng)
    canvas = np.zeros((2 * height, sum(g.shape[1] for g in glyphs) + int(0.8 * height * len(glyphs)) + 2 * height),
                      dtype=bool)
    x, placed = height // 2, []
    for k, glyph in enumerate(glyphs):
        top = tops[k] if tops else height // 2 + int(rng.integers(-height // 10, height // 10 + 1))
        top += height - glyph.shape[0]
        _paste(canvas, glyph, top, max(0, x))
        placed.append((top, max(0, x), glyph))
        x = max(0, x) + glyph.shape[1] + int(height * rng.uniform(*gap_range))
    if len(placed) > 1 and rng.random() < 0.4:
        image = Image.fromarray(canvas.astype(np.uint8) * 255)
        draw = ImageDraw.Draw(image)
        pen = max(2, int(rng.uniform(0.06, 0.12) * height))
        for (t0, l0, g0), (t1, l1, g1) in zip(placed[:-1], placed[1:]):
            if rng.random() < 0.75:
                start, end = _edge_point(g0, rng, right=True), _edge_point(g1, rng, right=False)
                if start and end:
                    a, b = (l0 + start[1], t0 + start[0]), (l1 + end[1], t1 + end[0])
                    bend = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + height * rng.uniform(-0.25, 0.3))
                    t = np.linspace(0, 1, 10)[:, None]
                    curve = (1 - t) ** 2 * np.array(a) + 2 * (1 - t) * t * np.array(bend) + t ** 2 * np.array(b)
                    draw.line([tuple(p) for p in curve], fill=255, width=pen, joint="curve")
        canvas = np.asarray(image) > 127
    rows, cols = np.nonzero(canvas)
    margin = height // 4  # room for the slant and rotation that follow
    return np.pad(canvas[rows.min():rows.max() + 1, cols.min():cols.max() + 1], margin)


def _edge_point(glyph: np.ndarray, rng: np.random.Generator, right: bool) -> tuple[int, int] | None:
    """A point on a glyph's right (or left) side, at a random height: where a joining stroke
    leaves (or meets) it."""
    row = int(rng.uniform(0.2, 0.95) * glyph.shape[0])
    for r in (row, glyph.shape[0] // 2):
        cols = np.flatnonzero(glyph[min(r, glyph.shape[0] - 1)])
        if len(cols):
            return r, int(cols[-1] if right else cols[0])
    return None


def composed_line(text: str, sources: LineSources, rng: np.random.Generator) -> np.ndarray:
    """Real MNIST digits side by side, each scaled and shifted a little (`set_digits`); with the
    sources' styles, some 1s, 7s and 4s written as much of the world writes them."""
    glyphs = []
    for ch in text:
        choices = sources.mnist[int(ch)]
        mask = choices[int(rng.integers(len(choices)))]
        if sources.styles and int(ch) in STYLES and rng.random() < STYLED_SHARE:
            mask = STYLES[int(ch)](mask, rng)
        scale = GLYPH_HEIGHT * rng.uniform(0.8, 1.05) / mask.shape[0]
        size = (max(1, round(mask.shape[1] * scale)), max(1, round(mask.shape[0] * scale)))
        glyphs.append(np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.BILINEAR))
                      > 127)
    return set_digits(glyphs, rng, GLYPH_HEIGHT)


def font_line(text: str, font: Path, rng: np.random.Generator) -> np.ndarray:
    """`text` in a handwriting face: set as the face sets it (its own joins and kerning), or digit
    by digit as a hand spaces and joins them (`set_digits`), on the face's own baseline."""
    if rng.random() < 0.4:
        return glyph_ink(text, font, GLYPH_HEIGHT) > 0.5
    glyphs = [glyph_ink(ch, font, GLYPH_HEIGHT) > 0.5 for ch in text]
    height = max(g.shape[0] for g in glyphs)
    # glyph_ink crops each digit: put the bottoms on one baseline, a little unsteady.
    tops = [height // 2 - (height - g.shape[0]) + int(rng.integers(-height // 12, height // 12 + 1)) for g in glyphs]
    return set_digits(glyphs, rng, height, tops)


def make_line(sources: LineSources, rng: np.random.Generator, length: int | None = None) -> tuple[np.ndarray, str]:
    """One training line: (float32 image LINE_HEIGHT x W, its digits)."""
    text = "".join(str(d) for d in rng.integers(0, 10, length or random_length(rng)))
    if sources.fonts and rng.random() < 0.45:
        mask = font_line(text, sources.fonts[int(rng.integers(len(sources.fonts)))], rng)
    else:
        mask = composed_line(text, sources, rng)
    if sources.condensed and rng.random() < CONDENSED_SHARE:
        mask = narrowed(mask, rng)
    ink = random_affine(mask.astype(np.float32), rng, degrees=3.0, shear=0.4, squeeze=(0.8, 1.25))
    if rng.random() < 0.5:
        height = float(ink.shape[0])
        ink = elastic(ink, rng, amount=rng.uniform(0.01, 0.03) * height, scale=rng.uniform(0.25, 0.5) * height)
    mask = ink > rng.uniform(0.35, 0.6)
    if not mask.any():
        mask = ink > 0.5 * ink.max()
    mask = vary_stroke(mask, rng)
    if rng.random() < 0.1:  # specks of dust or noise the ink finder kept
        for _ in range(int(rng.integers(1, 4))):
            r, c = int(rng.integers(mask.shape[0])), int(rng.integers(mask.shape[1]))
            mask[r:r + 3, c:c + 3] = True
    return line_image(mask), text


@dataclass
class LineTargets:
    """CTC targets of a batch: digit classes 1..10 (0 is CTC's blank), padded; their lengths; and
    the number of output frames of each line (its width over the model's horizontal stride)."""

    labels: torch.Tensor
    lengths: torch.Tensor
    frames: torch.Tensor
    texts: list[str]

    def to(self, device) -> LineTargets:
        return LineTargets(self.labels.to(device), self.lengths.to(device), self.frames.to(device), self.texts)

    def __len__(self) -> int:
        return len(self.texts)


def collate(lines: list[tuple[np.ndarray, str]], stride: int) -> tuple[torch.Tensor, LineTargets]:
    """Line images padded (black) to one width, a multiple of `stride`, as (N, 1, H, W)."""
    width = max(image.shape[1] for image, _ in lines)
    width = int(math.ceil(width / stride) * stride)
    batch = np.zeros((len(lines), 1, LINE_HEIGHT, width), dtype=np.float32)
    for i, (image, _) in enumerate(lines):
        batch[i, 0, :, :image.shape[1]] = image
    texts = [text for _, text in lines]
    labels = torch.zeros(len(lines), max(1, max(len(t) for t in texts)), dtype=torch.long)
    for i, text in enumerate(texts):
        labels[i, :len(text)] = torch.tensor([int(c) + 1 for c in text])
    lengths = torch.tensor([len(t) for t in texts], dtype=torch.long)
    frames = torch.tensor([int(math.ceil(image.shape[1] / stride)) for image, _ in lines], dtype=torch.long)
    return torch.from_numpy(batch), LineTargets(labels, lengths, frames, texts)


class LineBatches:
    """An epoch of freshly generated training lines, `batches` batches of `batch_size`; the lines
    of batch b of epoch e depend only on (seed, e, b)."""

    def __init__(self, sources: LineSources, batches: int, batch_size: int, seed: int, stride: int) -> None:
        self.sources, self.batches, self.batch_size, self.seed, self.stride = sources, batches, batch_size, seed, stride
        self.epoch = 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.batches

    def lines(self, b: int) -> list[tuple[np.ndarray, str]]:
        """The lines of batch b of the current epoch. They have about the same number of digits,
        so little of the batch is padding."""
        rng = np.random.default_rng([self.seed, self.epoch, b])
        length = random_length(rng)
        return [make_line(self.sources, rng, int(np.clip(length + rng.integers(-1, 2), 1, MAX_DIGITS)))
                for _ in range(self.batch_size)]

    def batch(self, b: int) -> tuple[torch.Tensor, LineTargets]:
        return collate(self.lines(b), self.stride)


def fixed_lines(sources: LineSources, count: int, seed: int) -> list[tuple[np.ndarray, str]]:
    """A fixed set of lines (for validation or test), the same on every call."""
    rng = np.random.default_rng([seed, 10**6])
    return [make_line(sources, rng) for _ in range(count)]
