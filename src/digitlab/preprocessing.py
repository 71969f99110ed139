"""The one scan pipeline: turn a photo or scan of handwriting into MNIST-form 28x28 digits.

Used by `predict`, `read`, the folder data set and the server. Steps, in the order MNIST itself
was made plus what real photos need first:

1. grayscale, shrunk to at most `WORK_SIDE` pixels to find the ink quickly;
2. polarity: the paper is the majority of the pixels, so a light median means dark ink and the
   image is inverted (no flag needed);
3. uneven light and paper texture removed by subtracting a large grey opening (white top-hat);
4. noise suppressed (light blur) and the ink thresholded (Otsu, with a floor relative to the
   strongest ink so a blank page is not "found" to hold noise);
5. ruled lines (horizontal runs across most of the page) removed, strokes crossing them rejoined;
6. connected components: specks dropped, the digit's pieces kept (or, for `read`, grouped into
   digits left to right, touching digits split);
7. each digit re-thresholded at full resolution, stroke width brought near MNIST's, scaled to
   fit 20x20 keeping its aspect ratio and placed in 28x28 by centre of mass; optional deskew.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from digitlab.errors import DigitlabError
from digitlab.images import ImageSource, describe, load_grayscale

WORK_SIDE = 256
DETAIL_SIDE = 112      # digit crops are re-read at up to this size
MNIST_STROKE = 2.4     # typical MNIST stroke width in pixels of the 28x28 image


@dataclass(frozen=True)
class Box:
    """A rectangle in the original image's pixels: columns [x0, x1), rows [y0, y1)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]


@dataclass
class InkMap:
    """Where the ink is, at working resolution, and how to get back to the original pixels."""

    gray: np.ndarray       # the original image, [0, 1], ink made bright (after polarity)
    mask: np.ndarray       # bool, at working resolution
    scale: float           # working pixels per original pixel
    labels: np.ndarray     # connected components of `mask`
    boxes: list[tuple[slice, slice]]
    areas: np.ndarray


def shrink(gray: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Area-average `gray` so its longer side is at most `max_side`; thin strokes stay as faint
    lines instead of vanishing."""
    height, width = gray.shape
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return gray, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = Image.fromarray(gray, mode="F").resize(size, Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32), size[0] / width


def otsu_threshold(values: np.ndarray) -> float:
    hist, edges = np.histogram(values, bins=64, range=(0.0, max(float(values.max()), 1e-6)))
    centers = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist)
    total = weight[-1]
    mean_below = np.cumsum(hist * centers)
    w0, w1 = weight[:-1], total - weight[:-1]
    valid = (w0 > 0) & (w1 > 0)
    between = np.zeros_like(w0, dtype=np.float64)
    m0 = mean_below[:-1][valid] / w0[valid]
    m1 = (mean_below[-1] - mean_below[:-1][valid]) / w1[valid]
    between[valid] = w0[valid] * w1[valid] * (m0 - m1) ** 2
    return float(edges[1:][:-1][np.argmax(between)]) if valid.any() else float(values.max())


def ink_strength(gray: np.ndarray) -> np.ndarray:
    """Bright ink on a flat black background: inverted if needed, lighting and texture removed."""
    if np.median(gray) > 0.5:
        gray = 1.0 - gray
    side = max(gray.shape)
    window = max(9, side // 6) | 1
    background = ndimage.grey_opening(gray, size=(window, window))
    background = ndimage.uniform_filter(background, size=window // 2 | 1)
    return np.clip(gray - background, 0.0, None)


def threshold_ink(strength: np.ndarray) -> np.ndarray | None:
    """Boolean ink mask, or None when nothing stands out from the noise (a blank page)."""
    # A light blur, not a median: a median would erase the 1-pixel strokes of small digits.
    clean = ndimage.gaussian_filter(strength, sigma=0.7)
    peak = float(np.percentile(clean, 99.97))
    noise = float(np.median(np.abs(clean - np.median(clean)))) * 1.4826
    if peak < max(0.08, 8 * noise):
        return None
    threshold = max(otsu_threshold(clean), 0.3 * peak, 4 * noise)
    return clean > threshold


def remove_ruled_lines(mask: np.ndarray) -> np.ndarray:
    """Drop horizontal lines that cross most of the page; rejoin strokes that crossed them."""
    height, width = mask.shape
    if width < 40:
        return mask
    runs = ndimage.binary_opening(mask, structure=np.ones((1, width // 10), dtype=bool))
    line_rows = runs.sum(axis=1) > 0.6 * width
    if not line_rows.any():
        return mask
    lines = runs & line_rows[:, None]
    kept = mask & ~lines
    # Rejoin strokes cut by a line: a vertical closing, applied only inside the removed band.
    band = ndimage.binary_dilation(line_rows, iterations=1)[:, None]
    rejoined = ndimage.binary_closing(kept, structure=np.ones((7, 1), dtype=bool)) & band & lines
    return kept | rejoined


def find_ink(source: ImageSource, name: str | None = None) -> InkMap:
    gray = load_grayscale(source, name)
    if np.median(gray) > 0.5:
        gray = 1.0 - gray
    work, scale = shrink(gray, WORK_SIDE)
    mask = threshold_ink(ink_strength(work))
    if mask is None:
        raise DigitlabError(f"{describe(source, name)}: no digit found (the image is blank or too faint).")
    mask = remove_ruled_lines(mask)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count == 0:
        raise DigitlabError(f"{describe(source, name)}: no digit found (the image is blank or too faint).")
    areas = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    return InkMap(gray, mask, scale, labels, ndimage.find_objects(labels), areas)


def _union(slices: list[tuple[slice, slice]]) -> tuple[int, int, int, int]:
    return (min(s[0].start for s in slices), min(s[1].start for s in slices),
            max(s[0].stop for s in slices), max(s[1].stop for s in slices))


def main_digit_components(ink: InkMap) -> list[int]:
    """Indices of the components that make up the single digit: the largest one and the pieces
    of fair size near it (a detached bar of a 5, a broken stroke)."""
    largest = int(np.argmax(ink.areas))
    y0, x0, y1, x1 = _union([ink.boxes[largest]])
    reach = 0.35 * max(y1 - y0, x1 - x0)
    chosen = [largest]
    for i, (rows, cols) in enumerate(ink.boxes):
        if i == largest or ink.areas[i] < 0.08 * ink.areas[largest]:
            continue
        gap_y = max(0, y0 - rows.stop, rows.start - y1)
        gap_x = max(0, x0 - cols.stop, cols.start - x1)
        if max(gap_x, gap_y) <= reach:
            chosen.append(i)
    return chosen


def box_in_original(ink: InkMap, components: list[int]) -> Box:
    y0, x0, y1, x1 = _union([ink.boxes[i] for i in components])
    height, width = ink.gray.shape
    to_orig = 1.0 / ink.scale
    return Box(max(0, int(x0 * to_orig)), max(0, int(y0 * to_orig)),
               min(width, int(np.ceil(x1 * to_orig))), min(height, int(np.ceil(y1 * to_orig))))


def digit_mask(ink: InkMap, components: list[int], box: Box) -> np.ndarray:
    """The digit's ink, re-thresholded from the original pixels when the working image was much
    smaller, so small digits in big photos keep their detail."""
    coarse = np.isin(ink.labels, np.asarray(components) + 1)
    if ink.scale > 0.6:  # the working image is (nearly) the original: nothing to gain
        y0, x0 = int(box.y0 * ink.scale), int(box.x0 * ink.scale)
        y1, x1 = int(np.ceil(box.y1 * ink.scale)), int(np.ceil(box.x1 * ink.scale))
        return coarse[y0:y1, x0:x1]
    margin = max(2, int(0.15 * max(box.width, box.height)))
    height, width = ink.gray.shape
    outer = Box(max(0, box.x0 - margin), max(0, box.y0 - margin),
                min(width, box.x1 + margin), min(height, box.y1 + margin))
    crop, _ = shrink(ink.gray[outer.y0:outer.y1, outer.x0:outer.x1], DETAIL_SIDE)
    border = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]])
    strength = np.clip(crop - np.median(border), 0.0, None)
    fine = threshold_ink(strength)
    # Keep only fine ink that the coarse mask also saw (dilated), so neighbours stay out.
    coarse_crop = coarse[int(outer.y0 * ink.scale):int(np.ceil(outer.y1 * ink.scale)),
                         int(outer.x0 * ink.scale):int(np.ceil(outer.x1 * ink.scale))]
    if fine is None or coarse_crop.size == 0:
        return coarse_crop
    guide = np.asarray(Image.fromarray(coarse_crop.astype(np.uint8) * 255).resize(
        (fine.shape[1], fine.shape[0]), Image.Resampling.NEAREST)) > 0
    guide = ndimage.binary_dilation(guide, iterations=2)
    fine &= guide
    return fine if fine.any() else coarse_crop


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: area over half the boundary length."""
    area = mask.sum()
    boundary = (mask & ~ndimage.binary_erosion(mask)).sum()
    return float(2 * area / max(boundary, 1))


def render_mnist(mask: np.ndarray, deskew: bool = False) -> np.ndarray:
    """A boolean digit mask (any size) -> uint8 28x28 in MNIST form."""
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return np.zeros((28, 28), dtype=np.uint8)
    mask = mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    height, width = mask.shape
    to_mnist = 20.0 / max(height, width)
    # Bring the stroke near MNIST's width: thin pen strokes would fade away when shrunk.
    target = MNIST_STROKE / to_mnist
    current = stroke_width(mask)
    if current < 0.7 * target:
        radius = int(round((target - current) / 2))
        if radius > 0:
            mask = np.pad(mask, radius)
            mask = ndimage.binary_dilation(mask, structure=_disk(radius))
    elif current > 1.8 * target:
        radius = int(round((current - target) / 4))
        thinner = ndimage.binary_erosion(mask, structure=_disk(radius)) if radius > 0 else mask
        if thinner.sum() > 0.35 * mask.sum():
            mask = thinner
    rows, cols = np.nonzero(mask)
    mask = mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    height, width = mask.shape
    to_mnist = 20.0 / max(height, width)
    size = (max(1, round(width * to_mnist)), max(1, round(height * to_mnist)))
    digit = Image.fromarray(mask.astype(np.uint8) * 255).resize(
        size, Image.Resampling.BOX if to_mnist < 1 else Image.Resampling.BILINEAR)
    digit = np.asarray(digit, dtype=np.float32)
    canvas = np.zeros((28, 28), dtype=np.float32)
    cy, cx = ndimage.center_of_mass(digit)
    top = int(np.clip(round(14 - cy), 0, 28 - size[1]))
    left = int(np.clip(round(14 - cx), 0, 28 - size[0]))
    canvas[top:top + size[1], left:left + size[0]] = digit
    if deskew:
        canvas = deskew_by_moments(canvas)
    return np.clip(canvas, 0, 255).astype(np.uint8)


def _disk(radius: int) -> np.ndarray:
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return x * x + y * y <= radius * radius + radius


def deskew_by_moments(image: np.ndarray) -> np.ndarray:
    """Shear the digit upright using its second-order image moments."""
    total = image.sum()
    if total == 0:
        return image
    y, x = np.mgrid[:28, :28]
    cy, cx = (image * y).sum() / total, (image * x).sum() / total
    mu11 = (image * (x - cx) * (y - cy)).sum() / total
    mu02 = (image * (y - cy) ** 2).sum() / total
    if mu02 < 1e-3:
        return image
    skew = mu11 / mu02
    matrix = np.array([[1.0, 0.0], [skew, 1.0]])
    offset = np.array([14.0, 14.0]) - matrix @ np.array([14.0, 14.0])
    return ndimage.affine_transform(image, matrix, offset=offset + np.array([0.0, skew * (cy - 14)]), order=1)


def normalize_scan(source: ImageSource, name: str | None = None, deskew: bool = False) -> np.ndarray:
    """One handwritten digit in any photo or scan -> uint8 28x28, light ink on black (MNIST form).

    Raises `DigitlabError` for unreadable files and for images with no digit-like ink.
    """
    ink = find_ink(source, name)
    components = main_digit_components(ink)
    box = box_in_original(ink, components)
    return render_mnist(digit_mask(ink, components, box), deskew=deskew)


@dataclass(frozen=True)
class DigitCrop:
    box: Box
    image: np.ndarray  # uint8 28x28


def segment_digits(source: ImageSource, name: str | None = None, deskew: bool = False) -> list[DigitCrop]:
    """The digits of a number written on one line, left to right, each in MNIST form."""
    ink = find_ink(source, name)
    big = ink.areas >= 0.05 * ink.areas.max()
    keep = [i for i in np.flatnonzero(big)]
    # The text line: components whose vertical centre lies within the band of the tallest ones.
    heights = np.array([ink.boxes[i][0].stop - ink.boxes[i][0].start for i in keep])
    tall = [k for k, h in zip(keep, heights) if h >= 0.5 * heights.max()]
    centres = [(ink.boxes[i][0].start + ink.boxes[i][0].stop) / 2 for i in tall]
    line_y, line_h = float(np.median(centres)), float(np.median([heights[keep.index(i)] for i in tall]))
    keep = [i for i in keep if abs((ink.boxes[i][0].start + ink.boxes[i][0].stop) / 2 - line_y) < 0.75 * line_h]
    # Group left to right: pieces that overlap horizontally belong to one digit.
    keep.sort(key=lambda i: ink.boxes[i][1].start)
    groups: list[list[int]] = []
    for i in keep:
        cols = ink.boxes[i][1]
        if groups:
            g_x0, g_x1 = min(ink.boxes[j][1].start for j in groups[-1]), max(ink.boxes[j][1].stop for j in groups[-1])
            overlap = min(g_x1, cols.stop) - max(g_x0, cols.start)
            if overlap > 0.4 * min(g_x1 - g_x0, cols.stop - cols.start):
                groups[-1].append(i)
                continue
        groups.append([i])
    crops = []
    for group in groups:
        for part in split_touching(ink, group, line_h):
            box = box_in_original(ink, part) if isinstance(part, list) else part
            components = part if isinstance(part, list) else group
            mask = digit_mask(ink, components, box) if isinstance(part, list) else _box_mask(ink, group, box)
            crops.append(DigitCrop(box, render_mnist(mask, deskew=deskew)))
    return crops


def split_touching(ink: InkMap, group: list[int], line_h: float) -> list:
    """A group wider than one digit is cut at the weakest columns into the likely number of digits;
    returns the group itself when it looks like one digit, else a Box per part."""
    y0, x0, y1, x1 = _union([ink.boxes[i] for i in group])
    width, height = x1 - x0, max(y1 - y0, line_h)
    parts = int(round(width / (0.75 * height)))
    if parts < 2 or width < 1.05 * height:
        return [group]
    mask = np.isin(ink.labels[y0:y1, x0:x1], np.asarray(group) + 1)
    profile = ndimage.uniform_filter1d(mask.sum(axis=0).astype(float), size=3)
    cuts = []
    for k in range(1, parts):
        centre = int(k * width / parts)
        lo, hi = max(1, centre - int(0.2 * width / parts)), min(width - 1, centre + int(0.2 * width / parts) + 1)
        cuts.append(lo + int(np.argmin(profile[lo:hi])))
    edges = [0, *cuts, width]
    to_orig = 1.0 / ink.scale
    return [Box(int((x0 + a) * to_orig), int(y0 * to_orig),
                int(np.ceil((x0 + b) * to_orig)), int(np.ceil(y1 * to_orig)))
            for a, b in zip(edges[:-1], edges[1:])]


def _box_mask(ink: InkMap, group: list[int], box: Box) -> np.ndarray:
    """The group's coarse mask inside `box` (for parts of touching digits)."""
    coarse = np.isin(ink.labels, np.asarray(group) + 1)
    s = ink.scale
    return coarse[int(box.y0 * s):int(np.ceil(box.y1 * s)), int(box.x0 * s):int(np.ceil(box.x1 * s))]
