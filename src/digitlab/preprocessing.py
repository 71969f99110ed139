"""The one scan pipeline for single digits: a photo or scan of one handwritten digit -> the
MNIST-form 28x28 image a model reads (`normalize_scan`), for `predict`, the folder data set, the
training renders and the server; and many at once, in worker processes (`normalize_batch`,
`normalize_stream`).

The ink is found by `ink.find_ink`; then, as MNIST itself was made: the digit's pieces kept
(specks dropped), the digit re-thresholded at full resolution where the working image was coarse,
hollow lettering replaced by the inside of its outline, its stroke width brought near MNIST's,
scaled to fit 20x20 keeping its aspect ratio and placed in 28x28 by centre of mass; optionally
deskewed.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from PIL import Image
from scipy import ndimage

from digitlab.decorations import long_strokes, nested_pieces, underlines
from digitlab.errors import DigitlabError
from digitlab.images import ImageSource, describe, image_errors
from digitlab.ink import Box, InkMap, find_ink, shrink
from digitlab.strokes import erode, principal_direction, stroke_width, turned
from digitlab.threshold import threshold_ink

MNIST_STROKE = 2.4     # typical MNIST stroke width in pixels of the 28x28 image
DETAIL_SIDE = 112      # digit crops are re-read at up to this size...
DETAILED_ENOUGH = 64   # ...unless the working image already shows them at least this big
OUTLINE_ELONGATION = 12.0  # a hole this elongated (boundary² / 4 area) is the inside of an outline
INSIDE_SHARE = 0.1  # an outline's insides are at least this share of its ink's area
# Every outlined digit holds its inside: on the dev faces' hollow numbers read right, the pieces
# holding one are at least 83% of the ink; in italic writing whose 8s and 9s have slits for
# counters, the 1s and 7s beside them hold none (34% and 60%).
HOLDING_SHARE = 0.75
T = TypeVar("T")
PEN_WRITING = 3.0  # beside a pen, a piece of writing is this many strokes long or more (`pens_aside`)
PEN_CROSSING = 0.02  # a pen has the writing on one side of it, all but this share (`pens_aside`)
NARROWEST = 0.5  # a digit narrower than this share of its height is also read widened to it (`widened`)
BESIDE_AREA = 0.15  # a piece beside the digit this share of its area or more may be another digit (`digits_beside`)


def _union(slices: list[tuple[slice, slice]]) -> tuple[int, int, int, int]:
    return (min(s[0].start for s in slices), min(s[1].start for s in slices),
            max(s[0].stop for s in slices), max(s[1].stop for s in slices))


def drawn_pieces(ink: InkMap) -> set[int]:
    """The components drawn round or under the writing, or lying beside it: a box or an oval
    (`nested_pieces`' frames), a line under it (`underlines`), a pen on the paper (`pens_aside`)."""
    fair = [int(i) for i in np.flatnonzero(ink.areas >= 0.01 * ink.areas.max())]
    inner, drawn = nested_pieces(ink, fair)
    drawn |= underlines(ink, [i for i in fair if i not in drawn])
    return drawn | pens_aside(ink, [i for i in fair if i not in drawn], inner)


def pens_aside(ink: InkMap, pieces: list[int], inner: set[int]) -> set[int]:
    """Straight strokes far longer than the other pieces (`long_strokes`: a pen or a pencil lying
    on the paper) with all the writing beside them on one side (`one_side_of`). The pen was often
    the largest piece, and so taken for the digit; but a "%"'s slash, as long beside its rings,
    runs between them, and without it a ring read "0"."""
    pixels = {i: ink.pixels(i) for i in pieces}
    sticks = long_strokes(ink, pixels, pieces, inner)
    writing = [i for i in pieces if i not in sticks]
    # Beside a 1 and specks of dust alone, the 1 is the long straight stroke: the writing has a
    # piece PEN_WRITING strokes long or more, which a speck, as wide as it is long, is not.
    if not sticks or all(strokes_long(ink, i) < PEN_WRITING for i in writing):
        return set()
    xs, ys = (np.concatenate([pixels[i][k] for i in writing]) for k in (0, 1))
    return {i for i in sticks if one_side_of(*pixels[i], xs, ys)}


def strokes_long(ink: InkMap, index: int) -> float:
    """A piece's longer side in its own stroke widths."""
    rows, cols = ink.boxes[index]
    return max(rows.stop - rows.start, cols.stop - cols.start) / stroke_width(ink.labels[rows, cols] == index + 1)


def one_side_of(stick_xs: np.ndarray, stick_ys: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> bool:
    """Whether the pixels (`xs`, `ys`) that lie beside a straight stroke, between its ends, lie on
    one side of it (all but PEN_CROSSING of them); none beside it do too."""
    x0, y0, angle = stick_xs.mean(), stick_ys.mean(), principal_direction(stick_xs, stick_ys)
    ends, _ = turned(stick_xs - x0, stick_ys - y0, angle)
    position, across = turned(xs - x0, ys - y0, angle)
    beside = (position >= ends.min()) & (position <= ends.max())
    if not beside.any():
        return True
    side = across[beside] > 0
    return min(side.mean(), 1 - side.mean()) <= PEN_CROSSING


def main_digit_components(ink: InkMap, drawn: set[int]) -> list[int]:
    """Indices of the components that make up the single digit: the largest one and the pieces
    of fair size near it (a detached bar of a 5, a broken stroke), the largest first. What is
    `drawn` round or under the digit (`drawn_pieces`) is no part of it."""
    areas = ink.areas.copy()
    areas[list(drawn)] = 0.0
    largest = int(np.argmax(areas))
    y0, x0, y1, x1 = _union([ink.boxes[largest]])
    reach = 0.35 * max(y1 - y0, x1 - x0)
    chosen = [largest]
    for i, (rows, cols) in enumerate(ink.boxes):
        if i == largest or i in drawn or ink.areas[i] < 0.08 * ink.areas[largest]:
            continue
        gap_y = max(0, y0 - rows.stop, rows.start - y1)
        gap_x = max(0, x0 - cols.stop, cols.start - x1)
        if max(gap_x, gap_y) <= reach:
            chosen.append(i)
    return chosen


def digits_beside(ink: InkMap, components: list[int], drawn: set[int]) -> bool:
    """Whether ink the size of a digit lies beside the digit's largest piece (`components[0]`) on
    its row, kept with it or not: the picture is then more likely a number than one digit, and
    the digit read only one of its digits, or two read as one. Such a piece is 0.6-1.6 times the
    largest's height, shares half of its rows and a fifth of its columns at most, is at least
    BESIDE_AREA of its area and lies within 1.5 heights of it; nothing `drawn` round or under the
    writing counts. (On the dev faces: in 2 to 8 of 10 pictures of a number, by how it is
    written; in none of 2,000 of one digit.)"""
    rows, cols = ink.boxes[components[0]]
    y0, x0, y1, x1 = rows.start, cols.start, rows.stop, cols.stop
    height, width = y1 - y0, x1 - x0
    least = BESIDE_AREA * ink.areas[components[0]]
    for i, (rows, cols) in enumerate(ink.boxes):
        if i == components[0] or i in drawn or ink.areas[i] < least:
            continue
        tall, wide = rows.stop - rows.start, cols.stop - cols.start
        shared_rows = min(rows.stop, y1) - max(rows.start, y0)
        shared_cols = min(cols.stop, x1) - max(cols.start, x0)
        gap = max(0, x0 - cols.stop, cols.start - x1)
        if (0.6 * height <= tall <= 1.6 * height and shared_rows >= 0.5 * min(tall, height)
                and shared_cols <= 0.2 * min(wide, width) and gap <= 1.5 * height):
            return True
    return False


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


def hole_elongations(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The background of a mask, labelled, and for each label its area and, for a hole (background
    the ink encloses), how elongated it is: its squared boundary over four times its area (about pi
    for a round hole, its length over its width for a long one); 0 for background that is no hole."""
    # `binary_fill_holes` would find the same holes, by a slow flood fill from the picture's edges.
    background, count = ndimage.label(~mask)
    areas = np.bincount(background.ravel(), minlength=count + 1).astype(np.float64)
    is_hole = np.ones(count + 1, dtype=bool)
    is_hole[np.concatenate([background[0], background[-1], background[:, 0], background[:, -1], [0]])] = False
    inside = is_hole[background]
    boundary = np.bincount(background[inside & ~erode(inside)], minlength=count + 1).astype(np.float64)
    return background, np.where(is_hole, boundary ** 2 / (4 * np.maximum(areas, 1)), 0.0), areas


def looks_hollow(elongation: np.ndarray) -> bool:
    """Whether holes this elongated (`hole_elongations`) are the inside of outlines: one of 12 or
    more, or, in a bold face, whose insides are wide, two of 6 or more and one of 8."""
    return bool(elongation.max(initial=0.0) >= OUTLINE_ELONGATION
                or (elongation >= OUTLINE_ELONGATION / 2).sum() >= 2 and elongation.max(initial=0.0) >= 8)


def outline_inside(mask: np.ndarray) -> np.ndarray:
    """For hollow (outline, "bubble") lettering, the inside of the outline, which is the digit's
    own stroke; any other mask as it is. Read as ink, an outlined 3 is two closed rings, an 8.
    An outline's inside follows the glyph's strokes: a hole many times longer than it is wide. A
    counter of a written 0, 6, 8, 9 or closed 4 is round or oval: of 26,480 masks of mnist-5k's
    training digits and of the training and dev faces' digits, each drawn from thin to bold, 5
    pass for outlines (`looks_hollow`). Every outlined digit holds its inside, so the pieces that
    hold the insides must be most of the ink (`HOLDING_SHARE`)."""
    background, elongation, areas = hole_elongations(mask)
    if not looks_hollow(elongation):
        return mask
    # Where the outline touches itself its inside is cut in parts, some short: they count too.
    insides = np.flatnonzero(elongation >= OUTLINE_ELONGATION / 2)
    if areas[insides].sum() < INSIDE_SHARE * np.count_nonzero(mask):
        return mask  # a bold marker's counters, closed to slits: an outline's insides are broad
    inside = np.isin(background, insides)
    return inside if holding_share(mask, inside) >= HOLDING_SHARE else mask


def holding_share(mask: np.ndarray, inside: np.ndarray) -> float:
    """The share of a mask's ink in the pieces that enclose some of `inside`."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    holders = np.unique(labels[ndimage.binary_dilation(inside, structure=np.ones((3, 3))) & mask])
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    return float(areas[holders[holders > 0]].sum() / max(1, areas[1:].sum()))


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
    return scan_digit(source, name, deskew, polarity).image


@dataclass
class ScanDigit:
    image: np.ndarray    # uint8 28x28, MNIST form
    others_beside: bool  # ink the size of a digit left out beside it (`digits_beside`): maybe a number
    widened: np.ndarray | None = None  # the digit widened, where it is narrow (`widened`)


def scan_digit(source: ImageSource, name: str | None = None, deskew: bool = False,
               polarity: str = "auto") -> ScanDigit:
    """`normalize_scan`, telling too whether the picture may hold more digits than the one read."""
    ink = find_ink(source, name, polarity)
    drawn = drawn_pieces(ink)
    components = main_digit_components(ink, drawn)
    box = box_in_original(ink, components)
    mask = outline_inside(digit_mask(ink, components, box))
    return ScanDigit(render_mnist(mask, deskew=deskew), digits_beside(ink, components, drawn),
                     widened(mask, deskew=deskew))


def widened(mask: np.ndarray, deskew: bool = False) -> np.ndarray | None:
    """A digit narrower than NARROWEST of its height, stretched sideways to it, in MNIST form; None
    for any other. MNIST form keeps a digit's proportions, so a condensed hand's 0, 4 or 8 (a third
    as wide as high, as in a narrow column) comes out a sliver, its counters closed, which the
    model reads as a 1; widened, its shape shows again."""
    if not mask.any():
        return None
    mask = crop_to_ink(mask)
    height, width = mask.shape
    if width >= NARROWEST * height:
        return None
    wide = Image.fromarray(mask.astype(np.uint8) * 255).resize((round(NARROWEST * height), height),
                                                             Image.Resampling.BILINEAR)
    return render_mnist(np.asarray(wide) > 127, deskew=deskew)


# Below this many images a pool of worker processes costs more to start than it saves.
POOL_THRESHOLD = 64


def _normalize_or_error(job: tuple[Callable[..., T], ImageSource, str | None, bool]) -> T | DigitlabError:
    scan, source, name, deskew = job
    try:
        with image_errors(describe(source, name)):
            return scan(source, name, deskew)
    except DigitlabError as exc:
        return exc


def normalize_batch(sources: Sequence[ImageSource], names: Sequence[str | None] | None = None,
                    deskew: bool = False, workers: int | None = None) -> list[np.ndarray | DigitlabError]:
    """`normalize_scan` for many images: one uint8 28x28 array, or the `DigitlabError` saying why
    not, per source, in order.

    The pipeline is many small SciPy calls that hold the GIL, so threads cannot use a second core;
    with `POOL_THRESHOLD` or more images the work goes to `workers` processes (default: one per
    core)."""
    names = list(names) if names is not None else [None] * len(sources)
    jobs = [(normalize_scan, source, name, deskew) for source, name in zip(sources, names)]
    workers = workers or os.cpu_count() or 1
    if workers < 2 or len(jobs) < POOL_THRESHOLD:
        return [_normalize_or_error(job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=pool_context()) as pool:
        return list(pool.map(_normalize_or_error, jobs, chunksize=8))


def _normalize_chunk(job: tuple[Callable[..., T], Sequence[ImageSource], Sequence[str | None], bool]
                     ) -> list[T | DigitlabError]:
    scan, sources, names, deskew = job
    return [_normalize_or_error((scan, source, name, deskew)) for source, name in zip(sources, names)]


def normalize_stream(sources: Sequence[ImageSource], names: Sequence[str | None] | None = None,
                     deskew: bool = False, chunk_size: int = 32, workers: int | None = None,
                     scan: Callable[..., T] = normalize_scan) -> Iterator[list[T | DigitlabError]]:
    """`normalize_batch` as a stream: the results a chunk of sources at a time, each chunk as soon
    as it is ready; each result as `scan` gives it (`normalize_scan`'s array, or `scan_digit`'s).
    The first chunks are small (4, 8, ... up to `chunk_size` sources), so that the first answers
    come at once; later ones are large, to give the model full batches.

    With `POOL_THRESHOLD` or more sources the chunks go to `workers` processes (default: one per
    core) kept for the whole stream, at most two chunks per worker ahead of the consumer, so the
    first results come at once and memory stays flat however many sources there are."""
    names = list(names) if names is not None else [None] * len(sources)
    jobs = ((scan, sources[a:b], names[a:b], deskew) for a, b in chunk_bounds(len(sources), chunk_size))
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


def chunk_bounds(count: int, chunk_size: int, first: int = 4) -> Iterator[tuple[int, int]]:
    """(start, stop) of each chunk of `count` items: `first` items, then twice as many each time,
    up to `chunk_size`."""
    start, size = 0, max(1, min(first, chunk_size))
    while start < count:
        yield start, min(count, start + size)
        start += size
        size = min(chunk_size, 2 * size)


def pool_context() -> multiprocessing.context.BaseContext:
    """fork where the platform has it: unlike spawn and forkserver it does not re-import the
    caller's script, so a user's script needs no `if __name__ == "__main__"` guard. The workers
    only run NumPy, SciPy and Pillow, never the parent's PyTorch thread pools, so fork is safe."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)
