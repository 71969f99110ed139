"""Realistic test scans: handwriting-font and real-MNIST digits drawn as ink on photographed paper.

Only tests and benchmarks use this; models never train on it, so results on it mean something.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts/opentype"))
# Debian handwriting fonts (installed by scripts/install-system-deps.sh). femkeklaver is left out:
# it draws hollow outlines, which no pen does.
HANDWRITING = ("fifthhorseman", "breip", "rufscript", "humor-sans", "comic-neue", "sjfonts", "bwht")


def handwriting_fonts() -> list[Path]:
    found = []
    for root in FONT_DIRS:
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() in (".ttf", ".otf") and any(h in str(path).lower() for h in HANDWRITING):
                if "bold" in path.name.lower() and "italic" in path.name.lower():
                    continue
                found.append(path)
    return found


def glyph_from_font(text: str, font: Path, size: int = 160) -> np.ndarray:
    """`text` drawn in `font` as float ink in [0, 1] (1 = ink), cropped to the ink."""
    face = ImageFont.truetype(str(font), size)
    canvas = Image.new("L", (size * (len(text) + 2), size * 2), 0)
    ImageDraw.Draw(canvas).text((size // 2, size // 3), text, fill=255, font=face)
    ink = np.asarray(canvas, dtype=np.float32) / 255
    return crop_to_ink(ink)


def glyph_from_mnist(image: np.ndarray, scale: int = 6) -> np.ndarray:
    big = Image.fromarray(image).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    return crop_to_ink(np.clip(np.asarray(big, dtype=np.float32) / 255, 0, 1))


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(ink > 0.2)
    if len(rows) == 0:
        return ink
    return ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def join_glyphs(glyphs: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Glyphs side by side on a common baseline height, with irregular gaps as handwriting has."""
    height = max(g.shape[0] for g in glyphs)
    scaled = []
    for g in glyphs:
        factor = height / g.shape[0] * rng.uniform(0.9, 1.0)
        size = (max(1, int(g.shape[1] * factor)), max(1, int(g.shape[0] * factor)))
        scaled.append(np.asarray(Image.fromarray(g).resize(size, Image.Resampling.BILINEAR)))
    gaps = [int(height * rng.uniform(0.12, 0.4)) for _ in glyphs[:-1]] + [0]
    width = sum(g.shape[1] for g in scaled) + sum(gaps)
    out = np.zeros((height, width), dtype=np.float32)
    x = 0
    for g, gap in zip(scaled, gaps):
        top = (height - g.shape[0]) // 2 + int(rng.integers(-height // 20, height // 20 + 1))
        top = int(np.clip(top, 0, height - g.shape[0]))
        out[top:top + g.shape[0], x:x + g.shape[1]] = np.maximum(out[top:top + g.shape[0], x:x + g.shape[1]], g)
        x += g.shape[1] + gap
    return out


@dataclass
class ScanStyle:
    side: int = 1000           # paper size in pixels
    fill: float = 0.4          # glyph height / paper height
    angle: float = 0.0         # degrees
    shear: float = 0.0
    light_on_dark: bool = False
    ruled: bool = False
    blur: float = 0.0
    noise: float = 0.02
    jpeg_quality: int | None = 85
    gradient: float = 0.25     # strength of uneven lighting
    tint: tuple[int, int, int] = (245, 242, 232)
    ink: tuple[int, int, int] = (30, 30, 60)


def random_style(rng: np.random.Generator, multi: bool = False) -> ScanStyle:
    return ScanStyle(
        side=int(rng.integers(500, 1200)),
        fill=float(rng.uniform(0.12, 0.3) if multi else rng.choice([rng.uniform(0.1, 0.25), rng.uniform(0.25, 0.85)])),
        angle=float(rng.uniform(-12, 12)),
        shear=float(rng.uniform(-0.2, 0.2)),
        light_on_dark=bool(rng.random() < 0.15),
        ruled=bool(rng.random() < 0.3),
        blur=float(rng.choice([0.0, rng.uniform(0.5, 2.0)])),
        noise=float(rng.uniform(0.0, 0.06)),
        jpeg_quality=int(rng.integers(35, 95)) if rng.random() < 0.6 else None,
        gradient=float(rng.uniform(0.0, 0.4)),
        tint=tuple(int(v) for v in rng.integers(200, 256, 3)),
        ink=tuple(int(v) for v in rng.integers(0, 90, 3)),
    )


def draw_scan(glyph: np.ndarray, style: ScanStyle, rng: np.random.Generator) -> Image.Image:
    """Put `glyph` (float ink, 1 = ink) on a photographed-looking page."""
    side = style.side
    height = max(8, int(side * style.fill))
    width = max(4, int(glyph.shape[1] * height / glyph.shape[0]))
    if width > 0.92 * side:
        width, height = int(0.92 * side), int(0.92 * side * glyph.shape[0] / glyph.shape[1])
    ink = Image.fromarray((glyph * 255).astype(np.uint8)).resize((width, height), Image.Resampling.BILINEAR)
    ink = ink.transform(ink.size, Image.Transform.AFFINE, (1, style.shear, -style.shear * height / 2, 0, 1, 0),
                        resample=Image.Resampling.BILINEAR)
    ink = ink.rotate(style.angle, resample=Image.Resampling.BILINEAR, expand=True)
    page = np.zeros((side, side), dtype=np.float32)
    ih, iw = min(ink.height, side), min(ink.width, side)
    top = int(rng.integers(0, side - ih + 1))
    left = int(rng.integers(0, side - iw + 1))
    page[top:top + ih, left:left + iw] = np.asarray(ink, dtype=np.float32)[:ih, :iw] / 255
    if style.ruled:
        spacing = int(rng.integers(side // 14, side // 7))
        for y in range(int(rng.integers(0, spacing)), side, spacing):
            page[y:y + max(1, side // 400) + 1, :] = np.maximum(page[y:y + max(1, side // 400) + 1, :], 0.35)
    paper = np.array(style.tint, dtype=np.float32) / 255
    ink_color = np.array(style.ink, dtype=np.float32) / 255
    if style.light_on_dark:
        paper, ink_color = 1 - paper * 0.9, np.array([0.95, 0.95, 0.95])
    yy, xx = np.mgrid[0:side, 0:side] / side
    direction = rng.uniform(0, 2 * np.pi)
    light = 1 - style.gradient * (np.cos(direction) * xx + np.sin(direction) * yy + 1) / 2
    rgb = (paper[None, None] * (1 - page[..., None]) + ink_color[None, None] * page[..., None]) * light[..., None]
    rgb += rng.normal(0, style.noise, rgb.shape).astype(np.float32)
    image = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8), "RGB")
    if style.blur:
        image = image.filter(ImageFilter.GaussianBlur(style.blur * side / 800))
    if style.jpeg_quality:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=style.jpeg_quality)
        image = Image.open(io.BytesIO(buffer.getvalue()))
        image.load()
    return image


# ---------------------------------------------------------------- hostile but valid pictures


def transparent_canvas_png(side: int = 7000) -> bytes:
    """A `side` x `side` RGBA PNG, transparent except for a dark upright bar (a "1"): 49 MP, yet
    only about 0.2 MB on disk at the default size."""
    canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).rectangle([side * 47 // 100, side // 5, side * 53 // 100, side * 4 // 5],
                                     fill=(20, 20, 20, 255))
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG", compress_level=9)
    return buffer.getvalue()


def lab_tiff(image: Image.Image) -> bytes:
    """`image` as a CIELab TIFF: Pillow opens it but cannot convert it to grayscale."""
    buffer = io.BytesIO()
    image.convert("LAB").save(buffer, "TIFF")
    return buffer.getvalue()
