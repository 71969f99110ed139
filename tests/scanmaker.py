"""Realistic test scans: handwriting-font and real-MNIST digits drawn as ink on photographed paper.

Only tests and benchmarks use this; models never train on it, so results on it mean something.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts/opentype"))
# Debian handwriting faces (installed by scripts/install-system-deps.sh), by family folder, in two
# halves. The dev half may guide work on the pipeline (look at its errors); the locked half is only
# run to report. No model is ever trained on either, or chosen with them.
DEV_FAMILIES = ("fifthhorseman", "breip", "humor-sans", "comic-neue", "bwht", "dancingscript", "kiloji", "kristi",
                "tomsontalks", "yusei-magic")
LOCKED_FAMILIES = ("rufscript", "sjfonts", "klee", "tlwg", "lobster", "kaushanscript", "havana", "leckerli-one",
                   "ecolier-court", "seto", "yozvox-yozfont", "joscelyn", "femkeklaver")
# Faces of those folders left out: no Latin digits (setofont-ex), or one of a family's many
# near-identical cuts (yozvox ships 100: two are kept).
SKIPPED = re.compile(r"setofont-ex|YOz(?!RN_\.|BN_\.)")


def handwriting_fonts(half: str = "dev") -> list[Path]:
    """The test faces of one half ("dev" or "locked", or "all"), ordered so that taking them in
    turn goes round the families first (a family of six cuts does not outweigh a single face)."""
    families = {"dev": DEV_FAMILIES, "locked": LOCKED_FAMILIES, "all": DEV_FAMILIES + LOCKED_FAMILIES}[half]
    by_family = []
    for family in families:
        faces = [p for root in FONT_DIRS for p in sorted((root / family).glob("*"))
                 if p.suffix.lower() in (".ttf", ".otf") and not SKIPPED.search(p.name)]
        if faces:
            by_family.append(faces)
    return in_turn(by_family)


def in_turn(by_family: list[list[Path]]) -> list[Path]:
    """Font files family by family in rounds: the first file of each family, then the second..."""
    rounds = max((len(f) for f in by_family), default=0)
    return [faces[i] for i in range(rounds) for faces in by_family if i < len(faces)]


def text_canvas(face: ImageFont.FreeTypeFont, text: str, stroke: int = 0) -> tuple[Image.Image, tuple[int, int]]:
    """A black canvas that holds all of `text` in `face`, and where to draw it: a fixed canvas cut
    off the descenders of faces with tall line metrics (dkg's, Joscelyn's), leaving outlines open."""
    left, top, right, bottom = face.getbbox(text, stroke_width=stroke)
    pad = face.size // 4
    return Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0), (pad - left, pad - top)


def glyph_from_font(text: str, font: Path, size: int = 160) -> np.ndarray:
    """`text` drawn in `font` as float ink in [0, 1] (1 = ink), cropped to the ink."""
    face = ImageFont.truetype(str(font), size)
    canvas, origin = text_canvas(face, text)
    ImageDraw.Draw(canvas).text(origin, text, fill=255, font=face)
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
    ruling_tilt: float = 0.0   # degrees: ruled lines not square to the photo (0: level, as before)
    squared: bool = False      # squared paper: ruled columns too
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


def ruling(side: int, tilt: float, squared: bool, rng: np.random.Generator) -> np.ndarray:
    """The printed lines of ruled (or squared) paper turned by `tilt` degrees, as ink shares
    (lighter than the writing): float (side, side)."""
    spacing = int(rng.integers(side // 16, side // 7) if not squared else rng.integers(side // 24, side // 9))
    thick, strength = int(rng.integers(1, max(2, side // 300) + 1)), float(rng.uniform(0.25, 0.65))
    rise = np.tan(np.radians(tilt)) * side
    lines = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(lines)
    for start in range(-side + int(rng.integers(0, spacing)), 2 * side, spacing):
        for offset in range(thick):  # one pixel at a time: Pillow thins wide lines near the level
            draw.line([(0, start + offset), (side, start + offset + rise)], fill=255)
            if squared:
                draw.line([(start + offset, 0), (start + offset - rise, side)], fill=255)
    return np.asarray(lines, dtype=np.float32) / 255 * strength


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
    if style.ruling_tilt or style.squared:
        page = np.maximum(page, ruling(side, style.ruling_tilt, style.squared, rng))
    elif style.ruled:
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


# ---------------------------------------------------------------- the cases that read worst in the wild
# Drawn here with the test faces' own glyphs and Pillow, independently of digitlab's training-data
# generator (digitlab/synth.py), so that a model tuned to that generator gains nothing here.


def glyph_with_strokes(text: str, font: Path, strokes: list[tuple[float, float, float, float]],
                       size: int = 160) -> np.ndarray:
    """`text` in `font` plus straight strokes given in units of the glyph's height from its
    top-left corner (row0, col0, row1, col1), drawn as wide as the font's own hyphen is tall."""
    glyph = glyph_from_font(text, font, size)
    dash = glyph_from_font("-", font, size)
    width = max(2, int(min(dash.shape)))
    height = glyph.shape[0]
    pad = height // 2
    canvas = Image.fromarray((np.pad(glyph, pad) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for r0, c0, r1, c1 in strokes:
        draw.line([(pad + c0 * height, pad + r0 * height), (pad + c1 * height, pad + r1 * height)], fill=255,
                  width=width)
    return crop_to_ink(np.asarray(canvas, dtype=np.float32) / 255)


def ink_columns(glyph: np.ndarray, row: float) -> tuple[float, float]:
    """The leftmost and rightmost ink of a glyph's row (given as a share of its height), in
    units of its height."""
    r = min(glyph.shape[0] - 1, int(row * glyph.shape[0]))
    cols = np.flatnonzero(glyph[r] > 0.3)
    if len(cols) == 0:
        cols = np.flatnonzero(glyph.max(axis=0) > 0.3)
    return cols.min() / glyph.shape[0], cols.max() / glyph.shape[0]


def one_with_flag_and_foot(font: Path, rng: np.random.Generator) -> np.ndarray:
    """The European 1: a flag from the top down to the left, a foot across the base."""
    plain = glyph_from_font("1", font)
    left, right = ink_columns(plain, 0.02)
    top_c = (left + right) / 2
    low_left, low_right = ink_columns(plain, 0.98)
    foot_c = (low_left + low_right) / 2
    flag = rng.uniform(0.25, 0.4)
    foot = rng.uniform(0.18, 0.28)
    return glyph_with_strokes("1", font, [(0.0, top_c, flag * 0.8, top_c - flag),
                                          (1.0, foot_c - foot, 1.0, foot_c + foot)])


def seven_with_crossbar(font: Path, rng: np.random.Generator) -> np.ndarray:
    plain = glyph_from_font("7", font)
    row = rng.uniform(0.45, 0.6)
    left, right = ink_columns(plain, row)
    stem = (left + right) / 2
    half = rng.uniform(0.15, 0.25)
    return glyph_with_strokes("7", font, [(row, stem - half, row, stem + half)])


def has_closed_four(font: Path) -> bool:
    """Whether the face's 4 is closed at the top (its ink encloses a hole)."""
    from scipy import ndimage

    glyph = glyph_from_font("4", font) > 0.5
    holes = ndimage.binary_fill_holes(glyph) & ~glyph
    return 0.05 < holes.sum() / glyph.sum() < 1.0  # over 1: an outline face, where every stroke is a hole


def outline_glyph(text: str, font: Path, size: int = 160) -> np.ndarray:
    """`text` as hollow lettering: the edge of a bold version of the glyph (Pillow's text stroke)."""
    face = ImageFont.truetype(str(font), size)
    stroke = max(3, size // 16)
    canvas, origin = text_canvas(face, text, stroke)
    ImageDraw.Draw(canvas).text(origin, text, fill=0, font=face, stroke_width=stroke, stroke_fill=255)
    return crop_to_ink(np.asarray(canvas, dtype=np.float32) / 255)


def mnist_form(glyph: np.ndarray, side: int = 28, dark_on_light: bool = False) -> Image.Image:
    """A digit as a drawing app saves it: light on black (or inverted), fit in the middle of a
    small square, nothing else in the picture."""
    box = int(round(side * 0.72))
    h, w = glyph.shape
    scale = box / max(h, w)
    small = Image.fromarray((glyph * 255).astype(np.uint8)).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                                   Image.Resampling.LANCZOS)
    canvas = Image.new("L", (side, side), 0)
    canvas.paste(small, ((side - small.width) // 2, (side - small.height) // 2))
    return Image.fromarray(255 - np.asarray(canvas)) if dark_on_light else canvas


def broad_brush(glyph: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A digit drawn with a broad brush in a drawing app, light on its dark canvas (200-560 px
    square): two fifths to three fifths of the canvas high, anywhere on it, the brush a
    sixteenth to an eighth of the canvas wide. PNG-clean: two levels, no noise."""
    from scipy import ndimage

    side = int(rng.choice([200, 280, 400, 560]))
    height = int(side * rng.uniform(0.4, 0.6))
    width = max(1, round(glyph.shape[1] * height / glyph.shape[0]))
    small = np.asarray(Image.fromarray((glyph * 255).astype(np.uint8)).resize((width, height),
                                                                             Image.Resampling.BILINEAR)) / 255
    brush = side * rng.uniform(0.06, 0.125)
    grow = max(0, int(round((brush - stroke_thickness(small)) / 2)))
    ink = ndimage.binary_dilation(small > 0.5, iterations=grow) if grow else small > 0.5
    canvas = np.zeros((side, side), dtype=np.uint8)
    top = int(rng.integers(0, side - height + 1))
    left = int(rng.integers(0, max(1, side - width + 1)))
    region = canvas[top:top + height, left:left + width]
    region[ink[:region.shape[0], :region.shape[1]]] = 255
    return Image.fromarray(canvas)


def tight_crop(scan: Image.Image, margin: int = 0) -> Image.Image:
    """A photo cropped to the digit: its ink touches the picture's edges."""
    rows, cols = writing_pixels(scan)
    if len(rows) == 0:
        return scan
    return scan.crop((max(0, cols.min() - margin), max(0, rows.min() - margin),
                      min(scan.width, cols.max() + 1 + margin), min(scan.height, rows.max() + 1 + margin)))


def writing_pixels(scan: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """The rows and columns of a photo's writing: its pixels far from the paper's (the median's)
    grey."""
    gray = np.asarray(scan.convert("L"), dtype=np.float32)
    return np.nonzero(np.abs(gray - np.median(gray)) > 60)


def leaning(glyph: np.ndarray, lean: float) -> np.ndarray:
    """`glyph` (float ink) sheared as an italic or hurried hand leans: its tops `lean` columns per
    row further to the right (to the left when negative)."""
    height = glyph.shape[0]
    pad = int(abs(lean) * height) + 2
    image = Image.fromarray((np.pad(glyph, ((0, 0), (pad, pad))) * 255).astype(np.uint8))
    image = image.transform(image.size, Image.Transform.AFFINE, (1, lean, -lean * height / 2, 0, 1, 0),
                            Image.Resampling.BILINEAR)
    return crop_to_ink(np.asarray(image, dtype=np.float32) / 255)


DECORATIONS = ("box", "oval", "underline")


def decorated(glyph: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """`glyph` (a digit or a number) with a box drawn round it, an oval round it, or a line under
    it (`DECORATIONS`), in a pen like the writing's, clear of it; with room round it for
    `draw_scan`'s shear."""
    height, width = glyph.shape
    pad = int(1.3 * height)
    canvas = Image.fromarray((np.pad(glyph, pad) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    pen = max(2, int(height * rng.uniform(0.05, 0.09)))
    x0, y0, x1, y1 = pad, pad, pad + width, pad + height
    if kind == "underline":
        y = y1 + int(rng.uniform(0.05, 0.2) * height)
        draw.line([(x0 - 0.3 * height, y), (x1 + 0.3 * height, y + rng.uniform(-0.05, 0.05) * height)],
                  fill=255, width=pen)
    elif kind == "oval":
        rx = 0.5 * width + rng.uniform(0.5, 0.8) * height
        ry = max(0.9 * height, 0.6 * height / np.sqrt(1 - (0.5 * width / rx) ** 2))  # clear of the corners
        draw.ellipse([(x0 + x1) / 2 - rx, (y0 + y1) / 2 - ry, (x0 + x1) / 2 + rx, (y0 + y1) / 2 + ry],
                     outline=255, width=pen)
    elif kind == "box":
        margin = rng.uniform(0.15, 0.35) * height
        draw.rectangle([x0 - margin, y0 - margin, x1 + margin, y1 + margin], outline=255, width=max(2, pen // 2))
    else:
        raise ValueError(f"unknown decoration {kind!r}")
    return np.pad(crop_to_ink(np.asarray(canvas, dtype=np.float32) / 255), int(0.25 * height))


def in_boxes(glyphs: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Digits written one to a box in a form's row of boxes (a student number, a postcode): each
    digit (mask, 0..1) scaled into its box and set a little off its middle, the row drawn in a
    thinner pen than most writing, with room round it for `draw_scan`'s shear."""
    height = 160
    box_width, box_height = int(height * rng.uniform(0.8, 1.1)), int(height * rng.uniform(1.1, 1.35))
    pad = height
    canvas = np.zeros((box_height + 2 * pad, len(glyphs) * box_width + 2 * pad), np.float32)
    for k, glyph in enumerate(glyphs):
        glyph = crop_to_ink(glyph)
        scale = min(height * rng.uniform(0.75, 0.95) / glyph.shape[0],
                    box_width * rng.uniform(0.6, 0.85) / glyph.shape[1])
        glyph = np.asarray(Image.fromarray((glyph * 255).astype(np.uint8)).resize(
            (max(1, int(glyph.shape[1] * scale)), max(1, int(glyph.shape[0] * scale)))), np.float32) / 255
        top = pad + (box_height - glyph.shape[0]) // 2 + int(rng.integers(-height // 10, height // 10 + 1))
        left = (pad + k * box_width + (box_width - glyph.shape[1]) // 2
                + int(rng.integers(-height // 20, height // 20 + 1)))
        region = canvas[top:top + glyph.shape[0], left:left + glyph.shape[1]]
        np.maximum(region, glyph[:region.shape[0], :region.shape[1]], out=region)
    image = Image.fromarray((canvas * 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    pen = max(2, int(height * rng.uniform(0.02, 0.05)))
    right, bottom = pad + len(glyphs) * box_width, pad + box_height
    draw.rectangle([pad, pad, right, bottom], outline=255, width=pen)
    for k in range(1, len(glyphs)):
        draw.line([(pad + k * box_width, pad), (pad + k * box_width, bottom)], fill=255, width=pen)
    return np.pad(crop_to_ink(np.asarray(image, np.float32) / 255), height // 3)


# ---------------------------------------------------------------- numbers and pages


def joined_glyphs(glyphs: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Digits as a hurried hand joins them: each touching the one before or overlapping it by up
    to an eighth of its width, most linked by a curved stroke from the lower right of one to the
    left of the next."""
    height = max(g.shape[0] for g in glyphs)
    scaled = [np.asarray(Image.fromarray(g).resize((max(1, int(g.shape[1] * height / g.shape[0])), height),
                                                  Image.Resampling.BILINEAR)) for g in glyphs]
    pen = max(2, int(min(stroke_thickness(g) for g in scaled)))
    width = sum(g.shape[1] for g in scaled) + height
    canvas = Image.new("F", (width, height + height // 2), 0.0)
    x, previous = height // 4, None
    for g in scaled:
        overlap = int(g.shape[1] * rng.uniform(0.0, 0.12))
        left = max(0, x - overlap) if previous is not None else x
        top = height // 4 + int(rng.integers(-height // 16, height // 16 + 1))
        region = np.asarray(canvas)[top:top + g.shape[0], left:left + g.shape[1]]
        canvas.paste(Image.fromarray(np.maximum(region, g[:region.shape[0], :region.shape[1]])), (left, top))
        if previous is not None and rng.random() < 0.8:
            (p_top, p_left, p_g) = previous
            rows0 = np.flatnonzero(p_g[int(0.5 * height):].max(axis=1) > 0.5) + int(0.5 * height)
            cols1 = np.flatnonzero(g.max(axis=0) > 0.5)
            if len(rows0) and len(cols1):
                r0 = int(rows0[len(rows0) // 2])
                c0 = int(np.flatnonzero(p_g[r0] > 0.5).max())
                r1 = int(np.flatnonzero(g[:, cols1[0]] > 0.5).mean())
                start, end = (p_left + c0, p_top + r0), (left + cols1[0], top + r1)
                bend = (start[0] + end[0]) / 2, max(start[1], end[1]) + height * rng.uniform(0.05, 0.2)
                t = np.linspace(0, 1, 12)[:, None]
                curve = (1 - t) ** 2 * np.array(start) + 2 * (1 - t) * t * np.array(bend) + t ** 2 * np.array(end)
                ImageDraw.Draw(canvas).line([tuple(p) for p in curve], fill=1.0, width=pen)
        previous = (top, left, g)
        x = left + g.shape[1]
    return crop_to_ink(np.asarray(canvas, dtype=np.float32))


# Old-style figures, as some hands and faces write them: where each digit stands, in shares of
# the tall digits' height from their top (top, foot); 0, 1 and 2 are as small as lower-case
# letters.
OLD_STYLE = {**dict.fromkeys("68", (0.0, 1.0)), **dict.fromkeys("012", (0.35, 1.0)),
             **dict.fromkeys("34579", (0.35, 1.35))}


def rising_and_falling(text: str, glyphs: list[np.ndarray], rng: np.random.Generator, old_style: bool,
                       bounce: float = 0.2, smallest: float = 0.7) -> np.ndarray:
    """Digits side by side at heights that do not line up: in old-style figures (`OLD_STYLE`), or,
    else, as a hand whose digits bounce off the line, each scaled by `smallest`..1 and raised or
    lowered by up to `bounce` of the tallest digit's height."""
    height = max(g.shape[0] for g in glyphs)
    places = []
    for ch, g in zip(text, glyphs):
        if old_style:
            top, foot = OLD_STYLE[ch]
        else:
            foot = 1.0 + rng.uniform(-bounce, bounce)
            top = foot - rng.uniform(smallest, 1.0)
        size = max(1, int((foot - top) * height))
        scaled = Image.fromarray(g).resize((max(1, int(g.shape[1] * size / g.shape[0])), size),
                                           Image.Resampling.BILINEAR)
        places.append((np.asarray(scaled), int((top + bounce) * height)))
    gaps = [int(height * rng.uniform(0.12, 0.35)) for _ in glyphs]
    out = np.zeros((int((1.4 + 2 * bounce) * height) + 2, sum(g.shape[1] for g, _ in places) + sum(gaps)), np.float32)
    x = 0
    for (g, top), gap in zip(places, gaps):
        region = out[top:top + g.shape[0], x:x + g.shape[1]]
        np.maximum(region, g[:region.shape[0]], out=region)
        x += g.shape[1] + gap
    return crop_to_ink(out)


def stroke_thickness(glyph: np.ndarray) -> float:
    from scipy import ndimage

    mask = glyph > 0.5
    boundary = (mask & ~ndimage.binary_erosion(mask)).sum()
    return 2 * mask.sum() / max(boundary, 1)


def condensed(glyph: np.ndarray, rng: np.random.Generator, narrowest: float = 0.35, widest: float = 0.55
              ) -> np.ndarray:
    """Writing drawn narrow, as a hand filling a narrow column draws it (or a condensed face such
    as Amatic SC, whose digits are a quarter to a third as wide as high): squeezed sideways to
    `narrowest`-`widest` of its width, the pen as broad as before."""
    from scipy import ndimage

    factor = rng.uniform(narrowest, widest)
    height, width = glyph.shape
    narrow = np.asarray(Image.fromarray(glyph).resize((max(1, round(width * factor)), height),
                                                      Image.Resampling.BILINEAR))
    # The squeeze thinned the upright strokes: grown back sideways to the pen's breadth.
    grow = int(round(stroke_thickness(glyph) * (1 - factor)))
    return ndimage.grey_dilation(narrow, size=(1, grow + 1)) if grow > 0 else narrow


@dataclass
class Page:
    image: Image.Image
    numbers: list[str]


def draw_page(numbers: list[np.ndarray], texts: list[str], rng: np.random.Generator, angle: float = 0.0,
              side: int = 1400, on_desk: bool = False) -> Page:
    """A sheet with one number per line (left-aligned, loosely, as people write lists), turned by
    `angle` degrees and photographed: uneven light, noise, JPEG; on a dark desk if asked."""
    line_height = int(side * rng.uniform(0.06, 0.1))
    ink = np.zeros((side, side), np.float32)
    y, placed_count = int(side * rng.uniform(0.12, 0.2)), 0
    for glyph in numbers:
        width = int(glyph.shape[1] * line_height / glyph.shape[0])
        width = min(width, int(side * 0.75))
        height = int(glyph.shape[0] * width / glyph.shape[1])
        placed = np.asarray(Image.fromarray((glyph * 255).astype(np.uint8)).resize((width, height),
                                                                                   Image.Resampling.BILINEAR)) / 255
        x = int(side * rng.uniform(0.12, 0.2))
        if y + height > side * 0.92:
            break
        ink[y:y + height, x:x + width] = np.maximum(ink[y:y + height, x:x + width], placed)
        placed_count += 1
        y += height + int(line_height * rng.uniform(0.6, 1.4))
    sheet = Image.fromarray((ink * 255).astype(np.uint8)).rotate(angle, resample=Image.Resampling.BILINEAR,
                                                                  expand=True)
    coverage = np.asarray(sheet, dtype=np.float32) / 255
    paper_mask = np.asarray(Image.new("L", (side, side), 255).rotate(angle, expand=True)) > 127
    h, w = coverage.shape
    paper = np.array([rng.uniform(215, 250)] * 3, np.float32) / 255
    ink_rgb = np.array(rng.uniform(10, 70, 3), np.float32) / 255
    rgb = paper * (1 - coverage[..., None]) + ink_rgb * coverage[..., None]
    if on_desk:
        rgb = np.where(paper_mask[..., None], rgb, np.array([0.25, 0.18, 0.12], np.float32))
    else:
        rgb = np.where(paper_mask[..., None], rgb, paper)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    direction = rng.uniform(0, 2 * np.pi)
    rgb *= (1 - rng.uniform(0, 0.3) * (np.cos(direction) * xx + np.sin(direction) * yy + 1) / 2)[..., None]
    rgb += rng.normal(0, 0.02, rgb.shape).astype(np.float32)
    image = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(rng.integers(60, 92)))
    return Page(Image.open(io.BytesIO(buffer.getvalue())), texts[:placed_count])


# ---------------------------------------------------------------- drawn in a paint app


def _ellipse(cx: float, cy: float, rx: float, ry: float, points: int = 24) -> list[tuple[float, float]]:
    angles = np.linspace(0, 2 * np.pi, points + 1)
    return [(cx + rx * float(np.cos(t)), cy + ry * float(np.sin(t))) for t in angles]


# Each digit as a paint app's user draws it with the mouse: polylines in a box 1 wide, 1.6 high.
APP_STROKES = {
    "0": [_ellipse(0.5, 0.8, 0.45, 0.78)],
    "1": [[(0.2, 0.3), (0.55, 0.0), (0.5, 1.6)]],
    "2": [[(0.0, 0.35), (0.2, 0.08), (0.5, 0.0), (0.85, 0.12), (0.9, 0.45), (0.6, 0.9), (0.0, 1.6), (1.0, 1.55)]],
    "3": [[(0.05, 0.2), (0.4, 0.0), (0.85, 0.15), (0.8, 0.55), (0.35, 0.75), (0.9, 0.95), (0.9, 1.35), (0.45, 1.6),
           (0.0, 1.4)]],
    "4": [[(0.75, 1.6), (0.7, 0.0), (0.0, 1.1), (1.05, 1.05)]],
    "5": [[(0.9, 0.0), (0.15, 0.0), (0.1, 0.7), (0.6, 0.6), (0.95, 0.95), (0.85, 1.4), (0.4, 1.6), (0.0, 1.45)]],
    "6": [[(0.8, 0.05), (0.3, 0.4), (0.05, 1.0), (0.2, 1.5), (0.6, 1.6), (0.95, 1.3), (0.8, 0.9), (0.4, 0.85),
           (0.1, 1.1)]],
    "7": [[(0.05, 0.05), (1.0, 0.0), (0.35, 1.6)]],
    "8": [_ellipse(0.5, 0.38, 0.36, 0.36), _ellipse(0.5, 1.17, 0.45, 0.42)],
    "9": [_ellipse(0.5, 0.45, 0.42, 0.42), [(0.92, 0.45), (0.8, 1.6)]],
}


def app_drawing(text: str, height: int, pen: int = 1, light_on_dark: bool = False,
                rng: np.random.Generator | None = None) -> Image.Image:
    """A number drawn in a paint app with a `pen` pixels wide (1: the pencil tool, no smoothing),
    its digits about `height` pixels high, on a canvas of the app's one colour. With `rng`, each
    digit is drawn by an unsteady hand: its points moved, its size and lean varied."""
    unit, margin = height / 1.6, height // 4
    canvas = Image.new("L", (int(len(text) * 1.6 * unit) + 2 * margin, int(1.2 * height) + 2 * margin),
                        0 if light_on_dark else 255)
    draw = ImageDraw.Draw(canvas)
    for k, digit in enumerate(text):
        left = margin + k * 1.5 * unit
        size, lean = (1.0, 0.0) if rng is None else (float(rng.uniform(0.85, 1.1)), float(rng.uniform(-0.25, 0.15)))
        for line in APP_STROKES[digit]:
            points = np.asarray(line)
            if rng is not None:  # a loop's many points wobble less, and it stays closed
                wobble = rng.normal(0, 0.03 if len(line) <= 10 else 0.01, points.shape)
                if line[0] == line[-1]:
                    wobble[-1] = wobble[0]
                points = points + wobble
            draw.line([(left + (x - lean * (y - 1.6)) * size * unit, margin + y * size * unit) for x, y in points],
                      fill=255 if light_on_dark else 0, width=pen, joint="curve")
    return canvas


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
