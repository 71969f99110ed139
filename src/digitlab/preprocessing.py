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

import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from digitlab.errors import DigitlabError, NoDigitFound
from digitlab.images import ImageSource, as_float, describe, image_errors, load_grayscale

WORK_SIDE = 256
DETAIL_SIDE = 112      # digit crops are re-read at up to this size...
DETAILED_ENOUGH = 64   # ...unless the working image already shows them at least this big
MNIST_STROKE = 2.4     # typical MNIST stroke width in pixels of the 28x28 image
SMALL_SIDE = 128       # smaller pictures are enlarged before their ink is found


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

    gray: np.ndarray       # the original image, [0, 1], as loaded
    inverted: bool         # dark ink on light paper: `gray` must be inverted to make ink bright
    mask: np.ndarray       # bool, at working resolution
    scale: float           # working pixels per original pixel
    labels: np.ndarray     # connected components of `mask`
    boxes: list[tuple[slice, slice]]
    areas: np.ndarray
    zoom: int = 1          # `gray` is the original enlarged this many times (`enlarge_small`)


def shrink(gray: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Area-average `gray` (uint8 or float) to float32 in [0, 1] with its longer side at most
    `max_side`; thin strokes stay as faint lines instead of vanishing."""
    height, width = gray.shape
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return as_float(gray), 1.0
    image = Image.fromarray(gray, mode="L" if gray.dtype == np.uint8 else "F")
    factor = int(np.ceil(max(height, width) / max_side))
    if factor >= 2:  # an integer box reduction is several times faster than a general resize
        image = image.reduce(factor)
    else:
        image = image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX)
    return as_float(np.asarray(image)), image.width / width


def is_photo(gray: np.ndarray) -> bool:
    """Whether a picture is big enough to be a photo or scan, rather than a drawing app's or a
    data set's small digit."""
    return max(gray.shape) >= SMALL_SIDE


def enlarge_small(gray: np.ndarray, smallest: int = SMALL_SIDE) -> np.ndarray:
    """A picture under `smallest` pixels on its longer side (a digit saved from a drawing app, an
    MNIST-form 28x28, an 8x8) enlarged by a whole factor with a smooth (bicubic) filter, so that
    thresholding keeps the shape of strokes one or two pixels wide."""
    height, width = gray.shape
    factor = int(np.ceil(smallest / max(height, width)))
    if factor < 2:
        return gray
    image = Image.fromarray(gray, mode="L" if gray.dtype == np.uint8 else "F")
    big = image.resize((width * factor, height * factor), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(big), 0, 255 if gray.dtype == np.uint8 else 1.0).astype(gray.dtype)


def otsu_threshold(values: np.ndarray, bins: int = 64) -> float:
    top = max(float(values.max()), 1e-6)
    hist = np.bincount(np.minimum((values.ravel() * (bins / top)).astype(np.int32), bins - 1), minlength=bins)
    centers = (np.arange(bins) + 0.5) * (top / bins)
    weight = np.cumsum(hist)[:-1]
    mean_below = np.cumsum(hist * centers)
    w0, w1 = weight, hist.sum() - weight
    valid = (w0 > 0) & (w1 > 0)
    if not valid.any():
        return top
    m0 = mean_below[:-1][valid] / w0[valid]
    m1 = (mean_below[-1] - mean_below[:-1][valid]) / w1[valid]
    between = np.zeros(bins - 1)
    between[valid] = w0[valid] * w1[valid] * (m0 - m1) ** 2
    return float((np.argmax(between) + 1) * top / bins)


def sample(image: np.ndarray) -> np.ndarray:
    """Every third pixel each way: plenty for medians, nine times cheaper."""
    return image[::3, ::3] if image.size > 4096 else image


def background_window(gray: np.ndarray) -> int:
    """The default width of `ink_strength`'s background filter: a sixth of the picture."""
    return max(9, max(gray.shape) // 6)


def ink_strength(gray: np.ndarray, window: int | None = None) -> np.ndarray:
    """Bright ink (already made bright) on a flat black background: lighting and texture removed.

    The background is a grey opening (a minimum then maximum filter `window` pixels wide, wider
    than any stroke), computed at a quarter of the resolution since lighting varies slowly. Before
    it is scaled back up it is widened by one pixel (a maximum filter): resampling softens a sharp
    edge, such as a page's against the desk, and a softened edge would stand out as a long
    "stroke"."""
    side = max(gray.shape)
    factor = 4 if side >= 128 else 1
    small = gray if factor == 1 else np.asarray(
        Image.fromarray(gray, mode="F").reduce(factor), dtype=np.float32)
    window = max(3, (window or background_window(gray)) // factor) | 1
    background = ndimage.grey_opening(small, size=(window, window))
    if factor > 1:
        background = ndimage.maximum_filter(background, size=3)
        background = np.asarray(Image.fromarray(background, mode="F").resize(
            (gray.shape[1], gray.shape[0]), Image.Resampling.BILINEAR), dtype=np.float32)
    return np.clip(gray - background, 0.0, None)


def binomial_blur(image: np.ndarray) -> np.ndarray:
    """The [1, 2, 1] / 4 kernel each way: a Gaussian of sigma 0.71, several times faster than
    `ndimage.gaussian_filter` on these small images."""
    padded = np.pad(image, 1, mode="edge")
    rows = padded[:-2] + 2 * padded[1:-1] + padded[2:]
    return (rows[:, :-2] + 2 * rows[:, 1:-1] + rows[:, 2:]) * (1 / 16)


def threshold_ink(strength: np.ndarray) -> np.ndarray | None:
    """Boolean ink mask, or None when nothing stands out from the noise (a blank page)."""
    # A light blur, not a median: a median would erase the 1-pixel strokes of small digits.
    clean = binomial_blur(strength)
    few = sample(clean)
    split = otsu_threshold(few)
    paper = few[few < split]
    # The paper's level and noise, from the pixels that are not ink. When ink is a small share of
    # the picture all pixels do; when it covers a third or more (a digit cropped tight) the ink
    # would pass for noise.
    background = paper if paper.size < 0.67 * few.size else few
    middle = float(np.median(background))
    noise = float(np.median(np.abs(background - middle))) * 1.4826
    # The peak is the strongest 0.03% of pixels: enough for a small digit, robust to a few specks.
    flat = clean.ravel()
    candidates = flat[flat > middle + 3 * noise]
    k = max(1, int(flat.size * 0.0003))
    peak = float(np.partition(candidates, candidates.size - k)[candidates.size - k]) if candidates.size >= k else 0.0
    if peak < max(0.08, 8 * noise):
        return None
    threshold = max(split, 0.3 * peak, 4 * noise)
    # Hysteresis: fainter ink counts where it touches clear ink, so thin parts of a stroke
    # do not break a digit into pieces.
    weak = clean > max(0.5 * threshold, 3 * noise)
    labels, count = ndimage.label(weak, structure=np.ones((3, 3)))
    if count == 0:
        return None
    keep = np.bincount(labels[clean > threshold], minlength=count + 1) > 0
    keep[0] = False
    return keep[labels]


def remove_ruled_lines(mask: np.ndarray) -> np.ndarray:
    """Drop horizontal lines that cross most of the page; rejoin strokes that crossed them."""
    height, width = mask.shape
    if width < 40:
        return mask
    if not (mask.mean(axis=1) > 0.4).any():
        return mask
    # A horizontal opening with 1-D min/max filters: runs of ink at least `length` long.
    length = width // 10
    runs = ndimage.maximum_filter1d(ndimage.minimum_filter1d(mask.view(np.uint8), length, axis=1),
                                    length, axis=1) > 0
    line_rows = runs.sum(axis=1) > 0.6 * width
    # A ruled line is thin; a band of such rows thicker than a fortieth of the picture is the bar
    # of a digit that fills the picture (a tightly cropped 2, 5 or 7).
    bands, count = ndimage.label(line_rows)
    if count:
        thickness = np.bincount(bands)[1:]
        line_rows &= np.isin(bands, np.flatnonzero(thickness <= max(3, height // 40)) + 1)
    if not line_rows.any():
        return mask
    # The rows beside a line hold its blurred edges: their long runs go too.
    band = ndimage.binary_dilation(line_rows, iterations=1)
    lines = runs & band[:, None]
    kept = mask & ~lines
    # Rejoin strokes cut by a line: a vertical closing, applied only where the line was.
    rejoined = ndimage.binary_closing(kept, structure=np.ones((7, 1), dtype=bool)) & lines
    return kept | rejoined


def frame_of(work: np.ndarray) -> np.ndarray:
    """The pixels along the picture's four edges (a twentieth of each side deep)."""
    height, width = work.shape
    edge_h, edge_w = max(1, height // 20), max(1, width // 20)
    return np.concatenate([work[:edge_h].ravel(), work[-edge_h:].ravel(),
                           work[:, :edge_w].ravel(), work[:, -edge_w:].ravel()])


def dark_ink(work: np.ndarray) -> bool:
    """Whether the ink is darker than the paper: the paper is most of the picture, so a light
    median means dark ink. (A page photographed on a desk is found first, by `sheet_on_desk`; a
    close-up of a bold digit, its ink the larger part, is `polarity_doubtful`, and the caller reads
    it both ways.)"""
    return bool(np.median(sample(work)) > 0.5)


def sheet_on_desk(work: np.ndarray) -> np.ndarray | None:
    """The sheet of paper in a photo of a page lying on a darker, even desk, at any angle and size,
    as a mask at the working resolution; None when the photo shows no such sheet.

    The sheet is the largest light region (holes filled: the writing on it), and it must look
    like paper: a convex shape (a bold light digit on dark paper is not), mostly light inside (a
    chalk "0" on a blackboard encloses dark), broad (a stroke is narrow), with an even, clearly
    darker and broad surround."""
    factor = max(1, int(np.ceil(max(work.shape) / 128)))
    small = np.asarray(Image.fromarray(work, mode="F").reduce(factor)) if factor > 1 else work
    light = small > otsu_threshold(sample(small))
    labels, count = ndimage.label(light)
    if count == 0:
        return None
    largest = labels == int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
    sheet = ndimage.binary_fill_holes(largest)
    if not 0.08 <= sheet.mean() <= 0.92 or largest.sum() < 0.8 * sheet.sum() or solidity(sheet) < 0.85:
        return None
    if ndimage.distance_transform_edt(sheet).max() < 0.08 * min(small.shape):
        return None
    desk = ~ndimage.binary_dilation(sheet, iterations=2)
    if desk.mean() < 0.05 or small[desk].std() > 0.1 or np.median(small[desk]) > np.median(small[sheet]) - 0.2:
        return None
    # A desk is broad; a bold digit cropped tight is dark and even too, but a stroke is narrow.
    if ndimage.distance_transform_edt(desk).max() < 0.1 * min(small.shape):
        return None
    # Back to the working resolution, a little inside the sheet's edge (its shading is no ink).
    inner = ndimage.binary_erosion(sheet, iterations=1)
    return np.asarray(Image.fromarray(inner.astype(np.uint8) * 255).resize(
        (work.shape[1], work.shape[0]), Image.Resampling.NEAREST)) > 0


def solidity(region: np.ndarray) -> float:
    """A region's area over its convex hull's: 1 for a sheet of paper seen at any angle, far less
    for the shape of a digit."""
    from scipy.spatial import ConvexHull, QhullError

    rows, cols = np.nonzero(region)
    points = np.stack([np.concatenate([cols, cols + 1, cols, cols + 1]),
                       np.concatenate([rows, rows, rows + 1, rows + 1])], 1)
    try:
        return float(len(rows) / ConvexHull(points).volume)
    except QhullError:
        return 0.0


def polarity_doubtful(work: np.ndarray) -> bool:
    """Whether both polarities are plausible: a picture about as dark as it is light (a hard
    shadow over half the page), or a dark picture with light paper showing all round its edges
    (a bold digit cropped tight, its ink the larger part)."""
    whole = float(np.median(sample(work)))
    if 0.38 < whole < 0.62:
        return True
    return whole <= 0.5 and float(np.mean(frame_of(work) > 0.5)) > 0.6


def desk_pieces(labels: np.ndarray, boxes: list[tuple[slice, slice]], sheet: np.ndarray) -> list[int]:
    """Labels (1-based) of the components that are the desk seen round a photographed sheet: at
    the picture's edge and almost wholly off the sheet. (Writing in a shadow on the sheet looks as
    dark as the desk, but stays on the sheet and off the picture's edge.)"""
    height, width = labels.shape
    pieces = []
    for i, (rows, cols) in enumerate(boxes):
        if rows.start == 0 or cols.start == 0 or rows.stop == height or cols.stop == width:
            own = labels[rows, cols] == i + 1
            if np.count_nonzero(own & ~sheet[rows, cols]) > 0.8 * np.count_nonzero(own):
                pieces.append(i + 1)
    return pieces


def border_strips(boxes: list[tuple[slice, slice]], shape: tuple[int, int]) -> list[int]:
    """Labels (1-based) of the components that run along an edge of the picture for most of its
    length and are thin across it: the desk around a photographed page, the page's own edge, a
    shadow's border. A digit touches an edge at most across part of it, or, when the picture is
    cropped tight round it, reaches far in from the edge (the stem under a 7's bar)."""
    height, width = shape
    strips = []
    for i, (rows, cols) in enumerate(boxes):
        along_top_or_bottom = ((rows.start == 0 or rows.stop == height) and cols.stop - cols.start > 0.8 * width
                               and rows.stop - rows.start < 0.2 * height)
        along_a_side = ((cols.start == 0 or cols.stop == width) and rows.stop - rows.start > 0.8 * height
                        and cols.stop - cols.start < 0.2 * width)
        if along_top_or_bottom or along_a_side:
            strips.append(i + 1)
    return strips


def other_polarity(source: ImageSource, name: str | None = None) -> str | None:
    """When both polarities are plausible (`polarity_doubtful`), the one `find_ink` did not
    choose ("dark" or "light" ink), for a caller to try as well; None when the choice is clear."""
    gray = load_grayscale(source, name)
    work, _ = shrink(enlarge_small(gray), WORK_SIDE)
    if not polarity_doubtful(work) or is_photo(gray) and sheet_on_desk(work) is not None:
        return None
    return "light" if dark_ink(work) else "dark"


def find_ink(source: ImageSource, name: str | None = None, polarity: str = "auto",
             work_side: int = WORK_SIDE) -> InkMap:
    """The ink of a picture at working resolution (at most `work_side` pixels). `polarity`:
    "auto" (detected), "dark" (dark ink on light paper) or "light"."""
    if polarity not in ("auto", "dark", "light"):
        raise DigitlabError(f"unknown polarity {polarity!r}: expected auto, dark or light.")
    gray = load_grayscale(source, name)
    photo, original_side = is_photo(gray), max(gray.shape)
    gray = enlarge_small(gray)
    work, scale = shrink(gray, work_side)
    sheet = sheet_on_desk(work) if photo else None
    if polarity == "auto":
        inverted = sheet is not None or dark_ink(work)
    else:
        inverted = polarity == "dark"
    bright_ink = 1.0 - work if inverted else work
    mask = threshold_ink(ink_strength(bright_ink))
    stroke = typical_stroke(mask) if mask is not None else 0.0
    if 3 * stroke > background_window(work):
        # Strokes nearly as wide as the background filter (a digit cropped tight, a marker): the
        # filter would take their middles for background. Filter with four strokes' width instead.
        mask = threshold_ink(ink_strength(bright_ink, min(max(work.shape) // 2, int(4 * stroke))))
    if mask is None:
        raise NoDigitFound(f"{describe(source, name)}: no digit found (the image is blank or too faint).")
    mask = remove_ruled_lines(mask)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    boxes = ndimage.find_objects(labels)
    strips = border_strips(boxes, mask.shape)
    if sheet is not None and inverted:
        strips += desk_pieces(labels, boxes, sheet)
    if strips:  # rare: label again without them, so component numbers stay contiguous
        mask &= ~np.isin(labels, strips)
        labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
        boxes = ndimage.find_objects(labels)
    if count == 0:
        raise NoDigitFound(f"{describe(source, name)}: no digit found (the image is blank or too faint).")
    # Counted box by box: a page holds few components, so this beats a bincount of every pixel.
    areas = np.array([np.count_nonzero(labels[box] == i + 1) for i, box in enumerate(boxes)], dtype=np.float64)
    return InkMap(gray, inverted, mask, scale, labels, boxes, areas, max(gray.shape) // original_side)


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


def component_mask(ink: InkMap, components: list[int], box: Box) -> np.ndarray:
    """The working-resolution mask of `components`, cut to `box` (given in original pixels)."""
    s = ink.scale
    labels = ink.labels[int(box.y0 * s):int(np.ceil(box.y1 * s)), int(box.x0 * s):int(np.ceil(box.x1 * s))]
    return np.isin(labels, np.asarray(components) + 1)


def digit_mask(ink: InkMap, components: list[int], box: Box) -> np.ndarray:
    """The digit's ink, re-thresholded from the original pixels when the working image was much
    smaller, so small digits in big photos keep their detail."""
    if ink.scale > 0.6 or max(box.width, box.height) * ink.scale >= DETAILED_ENOUGH:
        # The working image is (nearly) the original, or holds the digit at well over 28 pixels.
        return component_mask(ink, components, box)
    margin = max(2, int(0.15 * max(box.width, box.height)))
    height, width = ink.gray.shape
    outer = Box(max(0, box.x0 - margin), max(0, box.y0 - margin),
                min(width, box.x1 + margin), min(height, box.y1 + margin))
    crop, _ = shrink(np.ascontiguousarray(ink.gray[outer.y0:outer.y1, outer.x0:outer.x1]), DETAIL_SIDE)
    if ink.inverted:
        crop = 1.0 - crop
    border = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]])
    strength = np.clip(crop - np.median(border), 0.0, None)  # a crop is small: its light is even
    fine = threshold_ink(strength)
    # Keep only fine ink that the coarse mask also saw (dilated), so neighbours stay out.
    coarse_crop = component_mask(ink, components, outer)
    if fine is None or coarse_crop.size == 0:
        return coarse_crop
    guide = np.asarray(Image.fromarray(coarse_crop.astype(np.uint8) * 255).resize(
        (fine.shape[1], fine.shape[0]), Image.Resampling.NEAREST)) > 0
    guide = ndimage.binary_dilation(guide, iterations=2)
    fine &= guide
    return fine if fine.any() else coarse_crop


def typical_stroke(mask: np.ndarray) -> float:
    """The median stroke width of a mask's pieces: a page's digits outvote the odd large blob (the
    desk in a corner of the photo), while a digit that fills the picture speaks for itself."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count == 0:
        return 0.0
    areas = np.bincount(labels.ravel())[1:]
    widths = [stroke_width(labels[box] == i + 1) for i, box in enumerate(ndimage.find_objects(labels))
              if areas[i] >= 0.01 * areas.max()]
    return float(np.median(widths))


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: area over half the boundary length."""
    area = mask.sum()
    boundary = (mask & ~ndimage.binary_erosion(mask)).sum()
    return float(2 * area / max(boundary, 1))


def crop_to_ink(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    return mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def normalize_stroke(mask: np.ndarray, target: float) -> np.ndarray:
    """Bring the strokes of a boolean mask near `target` pixels wide: a thin pen's strokes would
    fade away when shrunk, a marker's would fill the loops."""
    current = stroke_width(mask)
    if current < 0.7 * target:
        radius = int(round((target - current) / 2))
        if radius > 0:
            mask = ndimage.binary_dilation(np.pad(mask, radius), structure=_disk(radius))
    elif current > 1.8 * target:
        radius = int(round((current - target) / 4))
        thinner = ndimage.binary_erosion(mask, structure=_disk(radius)) if radius > 0 else mask
        if thinner.sum() > 0.35 * mask.sum():
            mask = thinner
    return mask


def render_mnist(mask: np.ndarray, deskew: bool = False) -> np.ndarray:
    """A boolean digit mask (any size) -> uint8 28x28 in MNIST form."""
    if not mask.any():
        return np.zeros((28, 28), dtype=np.uint8)
    mask = crop_to_ink(mask)
    mask = crop_to_ink(normalize_stroke(mask, MNIST_STROKE * max(mask.shape) / 20.0))
    height, width = mask.shape
    to_mnist = 20.0 / max(height, width)
    size = (max(1, round(width * to_mnist)), max(1, round(height * to_mnist)))
    digit = Image.fromarray(mask.astype(np.uint8) * 255).resize(
        size, Image.Resampling.BOX if to_mnist < 1 else Image.Resampling.BILINEAR)
    digit = np.asarray(digit, dtype=np.float32)
    canvas = np.zeros((28, 28), dtype=np.float32)
    cy, cx = ndimage.center_of_mass(digit) if digit.any() else (size[1] / 2, size[0] / 2)
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


def normalize_scan(source: ImageSource, name: str | None = None, deskew: bool = False,
                   polarity: str = "auto") -> np.ndarray:
    """One handwritten digit in any photo or scan -> uint8 28x28, light ink on black (MNIST form).

    Raises `DigitlabError` for unreadable files and for images with no digit-like ink.
    """
    ink = find_ink(source, name, polarity)
    components = main_digit_components(ink)
    box = box_in_original(ink, components)
    return render_mnist(digit_mask(ink, components, box), deskew=deskew)


# Below this many images a pool of worker processes costs more to start than it saves.
POOL_THRESHOLD = 64


def _normalize_or_error(job: tuple[ImageSource, str | None, bool]) -> np.ndarray | DigitlabError:
    try:
        with image_errors(describe(job[0], job[1])):
            return normalize_scan(*job)
    except DigitlabError as exc:
        return exc


def normalize_batch(sources: Sequence[ImageSource], names: Sequence[str | None] | None = None,
                    deskew: bool = False, workers: int | None = None,
                    executor: Executor | None = None) -> list[np.ndarray | DigitlabError]:
    """`normalize_scan` for many images: one uint8 28x28 array, or the `DigitlabError` saying why
    not, per source, in order.

    The pipeline is many small SciPy calls that hold the GIL, so threads cannot use a second core;
    with `POOL_THRESHOLD` or more images the work goes to `workers` processes (default: one per
    core), or to the given `executor` (a caller that keeps one pool for many batches)."""
    names = list(names) if names is not None else [None] * len(sources)
    jobs = [(source, name, deskew) for source, name in zip(sources, names)]
    workers = workers or os.cpu_count() or 1
    if executor is not None:
        return list(executor.map(_normalize_or_error, jobs, chunksize=8))
    if workers < 2 or len(jobs) < POOL_THRESHOLD:
        return [_normalize_or_error(job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=pool_context()) as pool:
        return list(pool.map(_normalize_or_error, jobs, chunksize=8))


def _normalize_chunk(job: tuple[Sequence[ImageSource], Sequence[str | None], bool]) -> list[np.ndarray | DigitlabError]:
    sources, names, deskew = job
    return [_normalize_or_error((source, name, deskew)) for source, name in zip(sources, names)]


def normalize_stream(sources: Sequence[ImageSource], names: Sequence[str | None] | None = None,
                     deskew: bool = False, chunk_size: int = 32,
                     workers: int | None = None) -> Iterator[list[np.ndarray | DigitlabError]]:
    """`normalize_batch` as a stream: the results for the first `chunk_size` sources, then for the
    next, and so on, each chunk as soon as it is ready.

    With `POOL_THRESHOLD` or more sources the chunks go to `workers` processes (default: one per
    core) kept for the whole stream, at most two chunks per worker ahead of the consumer, so the
    first results come at once and memory stays flat however many sources there are."""
    names = list(names) if names is not None else [None] * len(sources)
    jobs = ((sources[i:i + chunk_size], names[i:i + chunk_size], deskew) for i in range(0, len(sources), chunk_size))
    workers = workers or os.cpu_count() or 1
    if workers < 2 or len(sources) < POOL_THRESHOLD:
        yield from map(_normalize_chunk, jobs)
        return
    pool = ProcessPoolExecutor(workers, mp_context=pool_context())
    try:
        ahead: deque = deque()
        for job in jobs:
            ahead.append(pool.submit(_normalize_chunk, job))
            if len(ahead) > 2 * workers:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def pool_context() -> multiprocessing.context.BaseContext:
    """fork where the platform has it: unlike spawn and forkserver it does not re-import the
    caller's script, so a user's script needs no `if __name__ == "__main__"` guard. The workers
    only run NumPy, SciPy and Pillow, never the parent's PyTorch thread pools, so fork is safe."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)
