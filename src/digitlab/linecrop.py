"""A text line cut out of the photo for the line reader: turned upright at a fixed height from the
original pixels (`line_crop`), its ink thresholded against its own paper (`line_ink`), less the
ink that the line finder set apart from it (`foreign_ink`) and a frame round it that it could not
(`without_stray_frames`). Part of reading numbers (`reading`)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image
from scipy import ndimage

from digitlab.boxrows import box_walls
from digitlab.ink import InkMap, grown_ink, paper_level
from digitlab.linefinding import TextLine
from digitlab.ruling import leaning_lines, long_runs
from digitlab.strokes import stroke_width
from digitlab.threshold import threshold_ink

CROP_HEIGHT = 64   # a line is cut from the original at this height before its ink is thresholded
MARGIN_ACROSS = 0.25  # the crop's margin above and below the line's ink, in line heights
STRAY_WRITING = 0.2   # a crop's piece less of which is the line's own writing may be a frame (`without_stray_frames`)
UNEVEN_PAPER = 0.15   # a crop whose paper spans more than this (5th to 95th percentile) lies in a shadow's edge
EDGE_STEP = 0.1       # paper at the picture's edge this far from the picture's median is run on past it
SLOPE_OVER_INK = 0.3  # paper whose light falls across a crop by this share of the ink's height is levelled
PEN_CONTRAST = 32  # grey levels over the paper that `pen_share` takes for a row's ink, not its noise
THIN_PEN = 0.6     # a pen filling less of a crop's pixel than this is drawn bolder for the crop (`line_crop`)
# A line of squared paper left in a line's crop (`grid_lines`) runs down this share of its
# height (half of it where it leaves the crop), its path holding ink in GRID_SUPPORT of it; it
# leans this far either way of upright (on the page, or in the crop), and is thinner than this
# share of the writing's stroke.
GRID_CROSSING, GRID_SUPPORT, GRID_LEAN, THIN_LINE = 0.9, 0.7, 0.15, 0.6
ASIDE_GROW = 2       # working pixels more round a finger set aside (`foreign_ink`) than round other foreign ink


def line_crop(ink: InkMap, line: TextLine, flip: bool = False, height: int = CROP_HEIGHT,
              slant: float = 0.0, beyond: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The line cut from the original pixels, turned upright (and by 180 degrees with `flip`),
    `height` pixels across its ink band, with margins, and its writing stood upright by undoing
    its `slant` (`slant.writing_slant` of the crop without it): (bright-ink float image, affine
    coefficients mapping its pixels to the original's, as Pillow's `Image.transform` takes).
    With `beyond`, that many rows more above and below, on the same grid (the paper round it)."""
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
    step = 1.0 / (k * ink.scale)  # original pixels per crop pixel
    # Whether the pen is drawn bolder is judged on the crop's own rows, not on the rows beyond.
    thin = step >= 2 and ink.ruling is None and pen_share(gray, ink, line, coefficients, (height, size[0]),
                                                          step) < THIN_PEN
    if beyond:
        coefficients = coefficients - beyond * np.array([0, 0, coefficients[1], 0, 0, coefficients[4]])
        size = (size[0], height + 2 * beyond)
    image, sampling = Image.fromarray(gray), tuple(coefficients)
    # Not on ruled paper: its lines are hairlines too, and a blank page's, drawn bolder, read as digits.
    shape = (size[1], size[0])
    if thin:
        image, sampling = _bolder_and_averaged(gray, ink.inverted, coefficients, shape, step)
    elif step >= 3:  # shrink first: an affine resampling does not average, and would alias
        image, sampling = _reduced_under(gray, coefficients, shape, int(step // 1.5))
    fill = int(np.median(gray[::7, ::7]))
    crop = image.transform(size, Image.Transform.AFFINE, sampling, Image.Resampling.BILINEAR, fillcolor=fill)
    bright = np.asarray(crop, dtype=np.float32) / 255
    bright = 1.0 - bright if ink.inverted else bright
    if ink.sheet is None:  # (past a sheet's edge lies the desk, dealt with below)
        fill_level = 1.0 - fill / 255 if ink.inverted else fill / 255
        bright = _edge_paper_past_edge(bright, _off_picture(coefficients, gray.shape, bright.shape), fill_level,
                                       height)
    else:
        # The desk round a photographed sheet is darker than any ink: where the crop reaches past
        # the sheet's edge (a line near it, a crop's margins), it would read as a 1. The line's
        # own writing stays, however near the edge (the sheet's outline is coarse).
        window, grow = _working_window(ink, coefficients, bright.shape)
        own = ndimage.binary_dilation(_own_in_window(ink, line, window), iterations=grow)
        off = _in_crop(~ink.sheet[window] & ~own, window, coefficients, ink.scale, bright.shape)
        if off.any() and not off.all():
            bright = np.where(off, np.median(bright[~off]), bright).astype(np.float32)
    return bright, coefficients


def pen_share(gray: np.ndarray, ink: InkMap, line: TextLine, coefficients: np.ndarray, shape: tuple[int, ...],
              step: float) -> float:
    """How much of a crop's pixel the line's pen fills (1 where it fills it or more): the line's own
    ink (as the line finder found it) in three bands a crop pixel wide through the middle of a line
    crop of `shape` cut with `coefficients` (`line_crop`), sampled at every pixel of `gray`, its
    strongest averaged over a crop pixel (`step` by `step` pixels of `gray`) against its strongest
    as it is. The median of the bands' shares; 1 when they cross none of the line's ink."""
    window, _ = _working_window(ink, coefficients, shape)
    own = _own_in_window(ink, line, window)
    # Grown by a working pixel each way (a stroke's edge falls either side), by shifts: on a line's
    # window `ndimage.binary_dilation` costs more than the rest of this, on every line.
    own[1:] |= own[:-1].copy()
    own[:-1] |= own[1:].copy()
    own[:, 1:] |= own[:, :-1].copy()
    own[:, :-1] |= own[:, 1:].copy()
    a, b, c, d, e, f = coefficients
    width = max(1, round(step))
    # A crop pixel's width of rows of `gray` round each of the three, every pixel of `gray` along them.
    xs = np.arange(0.0, shape[1], 1.0 / step)
    ys = (np.array([0.4, 0.5, 0.6]) * shape[0])[:, None] + (np.arange(width) - (width - 1) / 2) / step
    cols = (a * xs + b * ys[..., None] + c).astype(np.intp)
    rows = (d * xs + e * ys[..., None] + f).astype(np.intp)
    inside = (cols >= 0) & (rows >= 0) & (cols < gray.shape[1]) & (rows < gray.shape[0])
    cols, rows = np.where(inside, cols, 0), np.where(inside, rows, 0)
    mine = inside & own[np.clip((rows * ink.scale).astype(np.intp) - window[0].start, 0, own.shape[0] - 1),
                        np.clip((cols * ink.scale).astype(np.intp) - window[1].start, 0, own.shape[1] - 1)]
    if not mine.any():
        return 1.0
    values = gray[rows, cols].astype(np.float32)
    values = -values if ink.inverted else values
    values -= float(np.median(values[inside][::5]))
    shares = []
    for row, its in zip(values, mine):
        strongest = float(row[its].max()) if its.any() else 0.0
        if strongest < PEN_CONTRAST:
            continue
        averaged = np.convolve(row.mean(axis=0), np.full(width, 1.0 / width), mode="same")
        shares.append(min(1.0, float(averaged[its.any(axis=0)].max()) / strongest))
    return float(np.median(shares)) if shares else 1.0


def _bolder_and_averaged(gray: np.ndarray, inverted: bool, coefficients: np.ndarray, shape: tuple[int, ...],
                         step: float) -> tuple[Image.Image, tuple[float, ...]]:
    """The part of the picture under a line crop (`line_crop`) whose pen is thinner than a crop's
    pixel, its ink grown to half a crop pixel's width and area-averaged to the crop's scale: the
    crop's samples would fall between the strokes of a hairline pen (an app's 1-pixel pencil on a
    large canvas) and break them, and the pieces off the line's middle band were lost ("7" read
    "1"). With the coefficients that sample it as `coefficients` sampled the picture."""
    a, b, c, d, e, f = coefficients
    xs, ys = _corners(coefficients, shape)
    pad = 2 * step + 2  # room for the bilinear samples at the crop's edge
    x0, y0 = max(0, int(min(xs) - pad)), max(0, int(min(ys) - pad))
    x1, y1 = min(gray.shape[1], int(max(xs) + pad) + 1), min(gray.shape[0], int(max(ys) + pad) + 1)
    part = grown_ink(gray[y0:y1, x0:x1], inverted, max(2, round(step / 2)))
    out = (max(1, round((x1 - x0) / step)), max(1, round((y1 - y0) / step)))
    averaged = Image.fromarray(part).resize(out, Image.Resampling.BOX)
    sx, sy = out[0] / (x1 - x0), out[1] / (y1 - y0)
    return averaged, (a * sx, b * sx, (c - x0) * sx, d * sy, e * sy, (f - y0) * sy)


def _reduced_under(gray: np.ndarray, coefficients: np.ndarray, shape: tuple[int, ...],
                   factor: int) -> tuple[Image.Image, tuple[float, ...]]:
    """The picture box-reduced by `factor`, under a line crop of `shape` cut with `coefficients`
    (`line_crop`) only, and the coefficients that sample it there: the blocks lie on the whole
    picture's grid, two reduced pixels past the crop's corners (room for the bilinear samples),
    so the crop reads the same pixels as from the whole picture reduced, at a fraction of the cost."""
    xs, ys = _corners(coefficients, shape)
    x0, y0 = max(0, (int(min(xs)) // factor - 2) * factor), max(0, (int(min(ys)) // factor - 2) * factor)
    x1 = min(gray.shape[1], (int(max(xs)) // factor + 3) * factor)
    y1 = min(gray.shape[0], (int(max(ys)) // factor + 3) * factor)
    if x1 <= x0 or y1 <= y0:  # a crop wholly off the picture: the whole of it, as before
        x0, y0, x1, y1 = 0, 0, gray.shape[1], gray.shape[0]
    a, b, c, d, e, f = coefficients / factor
    part = Image.fromarray(np.ascontiguousarray(gray[y0:y1, x0:x1])).reduce(factor)
    return part, (a, b, c - x0 / factor, d, e, f - y0 / factor)


def paper_round(ink: InkMap, line: TextLine, flip: bool = False, height: int = CROP_HEIGHT,
                slant: float = 0.0) -> np.ndarray:
    """The paper under a line's crop (`line_crop`), judged as `line_ink` judges it but on the crop
    with as many rows again above and below it, so that the window sees a shadow's edge whole."""
    wide, _ = line_crop(ink, line, flip, height, slant, beyond=height)
    return paper_level(wide, height // 2)[height:2 * height]


def _edge_paper_past_edge(bright: np.ndarray, off: np.ndarray, fill: float, height: int) -> np.ndarray:
    """A crop (`line_crop`) whose margin runs past the picture's edge (`off`), where it was filled
    with the picture's median (`fill`): filled instead with the paper at the picture's edge, run
    on, where that is another level (the light falls off towards a corner: vignetting), whose step
    would be thresholded as ink. The paper only: strokes cut by the edge are not drawn on past it."""
    if not off.any() or off.all():
        return bright
    nearest = ndimage.distance_transform_edt(off, return_distances=False, return_indices=True)
    paper = paper_level(bright[nearest[0], nearest[1]], height // 2)
    # The opening runs along the grain's lows: lifted to the paper's middle.
    paper = paper + float(np.median((bright - paper)[~off]))
    if np.abs(paper[off] - fill).max() <= EDGE_STEP:
        return bright
    return np.where(off, paper, bright)


def ink_over_sloping_paper(bright: np.ndarray, mask: np.ndarray | None, spread: float) -> np.ndarray | None:
    """A crop's ink (`mask`, thresholded against one level of paper) again, against a plane fitted
    to its paper, where the light falls across the crop by `SLOPE_OVER_INK` of the ink's height or
    more. Faint ink (a pencil) on paper lit a little unevenly stands so little above the slope that
    one level lost it all ("no digit found"), or took the lighter end's paper for a 1. The ink found
    against the plane is kept to the ink found before, grown by 2 pixels: where a crop runs past
    the picture's edge its paper steps a little, and would pass for a stroke. `spread`: how far
    the paper's level spans over the crop (5th to 95th percentile of `paper_level`); under a
    third of `SLOPE_OVER_INK` of the ink's height (most crops) no plane could reach it."""
    # Judged, and fitted, on every other pixel each way: lighting varies slowly.
    step = 2
    grid = bright[::step, ::step]
    if spread < SLOPE_OVER_INK / 3 * float(np.percentile(grid, 99) - np.median(grid)):
        return mask
    paper = (np.ones(grid.shape, dtype=bool) if mask is None
             else ~ndimage.binary_dilation(mask[::step, ::step], structure=np.ones((3, 3))))
    ys, xs = np.nonzero(paper)
    if ys.size < max(12, 0.2 * paper.size):
        return mask
    values = grid[ys, xs].astype(np.float64)
    design = np.stack([np.ones(ys.size), xs / grid.shape[1], ys / grid.shape[0]], axis=1)
    kept = np.ones(values.size, dtype=bool)
    for _ in range(2):  # again without the outliers: specks, the edges of the ink
        fit = design[kept]  # by its normal equations: a 3x3 system, far cheaper than the points' own
        coefficients = np.linalg.lstsq(fit.T @ fit, fit.T @ values[kept], rcond=None)[0]
        residuals = values - design @ coefficients
        kept = np.abs(residuals) < 3 * 1.4826 * float(np.median(np.abs(residuals[kept]))) + 1e-6
    level, across, down = coefficients + [float(np.median(residuals[kept])), 0.0, 0.0]

    def plane(height: int, width: int, spacing: int) -> np.ndarray:
        rows = np.arange(height, dtype=np.float32)[:, None] / (spacing * grid.shape[0])
        cols = np.arange(width, dtype=np.float32)[None] / (spacing * grid.shape[1])
        return level + across * cols + down * rows

    if abs(across) + abs(down) < SLOPE_OVER_INK * float(np.percentile(grid - plane(*grid.shape, 1), 99)):
        return mask
    above = bright - plane(*bright.shape, step)
    levelled = threshold_ink(np.clip(above, 0.0, None))
    if mask is None or levelled is None:
        return levelled if mask is None else mask
    return levelled & ndimage.binary_dilation(mask, iterations=2)


def _off_picture(coefficients: np.ndarray, picture: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """Where a crop of `shape` cut with `coefficients` (`line_crop`) lies past the picture's edges,
    or within a pixel of them (bilinear sampling blends the fill in there)."""
    a, b, c, d, e, f = coefficients
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]] + 0.5
    x, y = a * xs + b * ys + c, d * xs + e * ys + f
    return (x < 1) | (y < 1) | (x > picture[1] - 1) | (y > picture[0] - 1)


def foreign_ink(ink: InkMap, line: TextLine, coefficients: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Where, in a line crop of `shape` cut with `coefficients` (`line_crop`), lies ink that the
    line finder set apart from the line's writing (`TextLine.foreign`: a box or an oval round it,
    a line under it, the digits of the lines next to it), or took for ruled lines under it (at
    whatever slope), or that the ink finder set aside (`InkMap.aside`: a finger holding the sheet,
    which the crop's own threshold finds again and would read as a 0 or a 1). Bool, the crop's
    shape. The line's own ink, grown by a working pixel, stays where the two touch."""
    if not line.foreign and ink.ruling is None and ink.aside is None:  # most lines: a number alone on plain paper
        return np.zeros(shape, dtype=bool)
    window, grow = _working_window(ink, coefficients, shape)
    own = _own_in_window(ink, line, window)
    other = np.isin(ink.labels[window], np.asarray(line.foreign, dtype=np.int64) + 1)
    if ink.ruling is not None:
        other |= ink.ruling[window]
    aside = ink.aside[window] if ink.aside is not None else None
    if not other.any() and (aside is None or not aside.any()):
        return np.zeros(shape, dtype=bool)
    other = ndimage.binary_dilation(other, iterations=grow)
    if aside is not None:
        # A finger's rim, found again by the crop's finer threshold, lies a little wider than at
        # working resolution: a sliver of it at the crop's end read as a 1.
        other |= ndimage.binary_dilation(aside, iterations=grow + ASIDE_GROW)
    other &= ~ndimage.binary_dilation(own)
    return _in_crop(other, window, coefficients, ink.scale, shape)


def ruled_ink(ink: InkMap, coefficients: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """Where, in a line crop of `shape` cut with `coefficients` (`line_crop`), lie the lines that
    the ink finder took for ruled paper's (`InkMap.ruling`), grown as `foreign_ink` grows them.
    Bool, the crop's shape; None on unruled paper."""
    if ink.ruling is None:
        return None
    window, grow = _working_window(ink, coefficients, shape)
    ruled = ink.ruling[window]
    if not ruled.any():
        return None
    return _in_crop(ndimage.binary_dilation(ruled, iterations=grow), window, coefficients, ink.scale, shape)


def own_ink(ink: InkMap, line: TextLine, coefficients: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Where, in a line crop of `shape` cut with `coefficients` (`line_crop`), lies the line's own
    writing as the line finder found it at working resolution. Bool, the crop's shape."""
    window, _ = _working_window(ink, coefficients, shape)
    return _in_crop(_own_in_window(ink, line, window), window, coefficients, ink.scale, shape)


def _own_in_window(ink: InkMap, line: TextLine, window: tuple[slice, slice]) -> np.ndarray:
    """The line's own writing (its components) in the working image's `window`. Bool."""
    return np.isin(ink.labels[window], np.asarray(line.components) + 1)


def _corners(coefficients: np.ndarray, shape: tuple[int, ...]) -> tuple[list[float], list[float]]:
    """Where the corners of a crop of `shape` cut with `coefficients` lie: (xs, ys)."""
    a, b, c, d, e, f = coefficients
    return ([a * x + b * y + c for x in (0, shape[1]) for y in (0, shape[0])],
            [d * x + e * y + f for x in (0, shape[1]) for y in (0, shape[0])])


def _working_window(ink: InkMap, coefficients: np.ndarray, shape: tuple[int, ...]) -> tuple[tuple[slice, slice], int]:
    """The working image's window under a crop, with room to grow its ink by as many working
    pixels as a crop's pixel spans (at least one): a crop of a large line is coarser than the
    working image, and its samples would miss a thin line between them."""
    working = np.asarray(coefficients) * ink.scale
    grow = max(1, math.ceil(math.hypot(working[0], working[3])))
    xs, ys = _corners(working, shape)
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
    """`mask` (a line crop's ink in its middle band: `line_ink`, `in_middle_band`) less the pieces
    that are mostly not the line's own writing (`own()`, asked only when there are such pieces),
    lie at either end of it or round it, and together, in the same columns, reach past the line's
    ink both above and below: a box or an oval drawn round the number, or its sides, too faint or
    thin for the working mask to hold them, so that the line finder could not set them apart, and
    that would read as 1s. A frame touching the writing is one piece with it, and stays."""
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


def line_ink(bright: np.ndarray, foreign: np.ndarray | None = None, ruled: np.ndarray | None = None,
             slant: float = 0.0, wider_paper: Callable[[], np.ndarray] | None = None) -> np.ndarray:
    """The ink of a line crop, thresholded against the crop's own paper (its light is even over
    so small a piece, but where a shadow's edge crosses it), less the `foreign` ink. A form's row
    of boxes goes too (`box_walls`, told where the paper's `ruled` lines cross the crop, and by how
    much the crop was sheared to stand the writing upright, `slant`). Where a shadow's edge
    crosses it, its paper is judged with more of the picture round it (`wider_paper`, if given:
    `paper_round`)."""
    # A window half as wide as the crop is high: over twice a bold stroke, short beside a shadow.
    paper = local_paper = paper_level(bright, bright.shape[0] // 2)
    low, high = np.percentile(paper, [5, 95])
    if high - low > UNEVEN_PAPER and wider_paper is not None:
        # A shadow that only reaches into the crop's edge is too thin there for the window: its
        # edge was taken for ink, and joined a 1 to it, and the 1 went as a frame's side.
        paper = local_paper = wider_paper()
    if high - low <= UNEVEN_PAPER:
        # Otherwise a shadow's soft edge crosses the line: its paper is darker at one end, and one
        # level would take it for ink there, or hide the ink; the paper round the strokes stays.
        paper = np.median(np.concatenate([bright[0], bright[-1], bright[:, 0], bright[:, -1]]))
    mask = threshold_ink(np.clip(bright - paper, 0.0, None))
    if np.ndim(paper) == 0:
        mask = ink_over_sloping_paper(bright, mask, high - low)
        if mask is None:
            # The line finder found ink here. A shadow's edge too slight to count as uneven paper
            # can still split the paper in two levels, which one level takes for noise as strong
            # as the ink (a JPEG's blocks along the edge): then the paper round the strokes decides.
            mask = threshold_ink(np.clip(bright - local_paper, 0.0, None))
    if mask is None:
        return np.zeros(bright.shape, dtype=bool)
    # A form's boxes are found whole, before the line finder's frame (foreign to the line) goes.
    mask &= ~box_walls(mask, ruled, slant)
    if foreign is not None:
        mask &= ~foreign
    # A straight run of ink across most of the crop is no digit (the crop has a margin round the
    # line's ink): a frame's side, the lines of squared paper. Digits touching them keep their ink.
    height, width = mask.shape
    for axis, length in ((0, int(0.8 * height)), (1, int(0.8 * width))):
        if length >= 8:
            mask = mask & ~long_runs(mask, length, axis)
    return mask


def grid_lines(mask: np.ndarray, slant: float = 0.0) -> np.ndarray:
    """The thin ink of the lines of squared paper that cross a line crop's ink (`line_ink`) top to
    bottom, leaning: a photo in perspective fans the page's columns out (`ruling.py` finds them
    at one slope), a crop sheared to stand the writing upright leans them, and each one left
    reads as a 1 ("613" read "7613"). A line runs down GRID_CROSSING of the crop's height (half
    of it where it leaves the crop), its path holding ink in GRID_SUPPORT of it, within GRID_LEAN
    of upright on the page or in the crop; only its thin ink counts, so a digit it crosses keeps
    its strokes."""
    height = mask.shape[0]
    length = int(GRID_CROSSING * height)
    # A line leaves the crop (its ink within a closed gap of the top or bottom row), or runs down
    # `length` of it; most crops hold neither, and are not looked at further.
    near_top, near_bottom = mask[:3].any(), mask[-3:].any()
    if length < 8 or not (near_top or near_bottom or (mask[:height - length + 3].any() and mask[length - 3:].any())):
        return np.zeros_like(mask)
    leans = np.arange(-GRID_LEAN, GRID_LEAN + 1e-9, 0.05)
    shears = np.unique(np.round(np.concatenate([leans, slant + leans]), 3))
    # Thin: in no run across as long as most of the writing's strokes are wide.
    thin = ~long_runs(mask, max(3, math.ceil(THIN_LINE * stroke_width(mask))), 1)
    # Gaps of two rows close: where a row of the grid went (`line_ink`), it broke each column.
    return leaning_lines(mask, int(GRID_SUPPORT * height), length, shears, gap=3) & thin


def in_middle_band(mask: np.ndarray) -> np.ndarray:
    """The components of a line crop's ink that reach its middle band (0.3-0.7 of its height): the
    edges of the lines above and below stay out."""
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    height = mask.shape[0]
    band = labels[int(0.3 * height):int(0.7 * height)]
    return np.isin(labels, np.setdiff1d(np.unique(band), [0]))
