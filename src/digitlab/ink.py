"""Where the ink is on a photo or scan: the first half of the scan pipeline, shared by single
digits (`preprocessing`) and lines of digits (`reading`).

1. grayscale, small pictures enlarged and large ones shrunk to at most `WORK_SIDE` pixels;
2. polarity: the paper is the majority of the pixels, so a light median means dark ink, and so
   do a few pixels far darker than a grey median (paper in dim light); a sheet photographed on a
   desk is found first (`sheet_on_desk`), and doubtful cases are said so (`polarity_doubtful`)
   for the caller to read both ways;
3. uneven light and paper texture removed by subtracting a large grey opening (white top-hat),
   wider where the strokes are bold (a digit cropped tight, a small picture's bold bar);
4. noise suppressed (light blur) and the ink thresholded (`threshold`: Otsu, with a floor
   relative to the strongest ink so a blank page is not "found" to hold noise), and writing
   fainter than that floor, apart from the rest, found too (a number in pencil by ones in pen);
5. ruled lines removed, askew too, and on squared paper its columns (`ruling`), strokes crossing
   them or lying along them kept, and a lone line printed across the page (a notebook's margin);
   the desk, the page's edges and stubs of a grid's lines at the picture's edge dropped (`edges`),
   a finger holding the sheet (`fingers`), and the back's writing showing through (`faint`);
   a ruled page on which nothing else stands out is blank;
6. connected components, for the callers to group into digits or lines (a box or an oval drawn
   round them, or a line under them, is no writing: `decorations`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from digitlab.edges import (
    binding_row,
    border_strips,
    desk_pieces,
    fine_stubs,
    lines_across,
    punched_holes,
)
from digitlab.errors import DigitlabError, NoDigitFound
from digitlab.faint import show_through, writing_apart
from digitlab.fingers import blobs_at_edge, rims_apart_from_edge
from digitlab.images import ImageSource, as_float, describe, load_grayscale
from digitlab.ruling import remove_ruled_lines
from digitlab.strokes import quadrilateral_share, solidity, typical_stroke
from digitlab.threshold import ink_and_faint, only_printed_lines, otsu_threshold, sample

WORK_SIDE = 256
SMALL_SIDE = 128       # smaller pictures are enlarged before their ink is found
DOUBTFUL_MEDIAN = (0.38, 0.62)  # a picture whose median lies between is about as dark as it is light
DIM_CONTRAST = 0.15    # dark strokes on dim paper lie at least this far below it (of the full range)...
DARK_OVER_LIGHT = 3.0  # ... and this many times as far as anything light on it lies above
QUADRILATERAL = 0.85   # a sheet wholly in view fills at least this much of its hull with four corners
SHEET_EDGE = 0.4       # ... and its edge steps down to the desk by this share of their contrast at least: the
                       # validation and dev rows' sheets on a desk 0.91 or more, the lens's dark corners 0.25
                       # and 0.28, a soft shadow's edge taken for a sheet's 0.19-0.71 (`edge_step`)
DESK_GRAIN = 1 / 3     # a desk's spread (its grain) may pass 0.1 up to this share of its contrast with the sheet:
                       # most of it (1.5 spreads round its level) then lies below halfway to the sheet...
GRAINED_SPREAD = 0.15  # ... and up to this (wooden desks in scratch photos 0.11-0.13; the strokes of a bold
                       # number cropped tight, taken for desk, 0.18: validation "tight" 49)


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

    gray: np.ndarray       # the original image (uint8, or float32 in [0, 1]), enlarged `zoom` times
    inverted: bool         # dark ink on light paper: `gray` must be inverted to make ink bright
    mask: np.ndarray       # bool, at working resolution
    scale: float           # working pixels per original pixel
    labels: np.ndarray     # connected components of `mask`
    boxes: list[tuple[slice, slice]]
    areas: np.ndarray
    zoom: int = 1          # `gray` is the original enlarged this many times (`enlarge_small`)
    ruling: np.ndarray | None = None  # the ruled lines taken out of `mask`, if any
    sheet: np.ndarray | None = None   # bool: the sheet photographed on a desk, if one was found
    aside: np.ndarray | None = None   # bool: what was taken out at the edge (a finger, a strip, desk), if any

    def significant(self) -> list[int]:
        """The pieces that may be writing, or drawn round it: specks and dust left aside."""
        if len(self.areas) == 0:
            return []
        return [int(i) for i in np.flatnonzero(self.areas >= max(4.0, 0.01 * self.areas.max()))]

    def pixels(self, index: int, most: int = 400) -> tuple[np.ndarray, np.ndarray]:
        """(xs, ys) of a component's pixels at working resolution, at most `most` of them."""
        rows, cols = self.boxes[index]
        return sampled_pixels(self.labels[rows, cols] == index + 1, rows, cols, most)


def sampled_pixels(piece: np.ndarray, rows: slice, cols: slice, most: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """(xs, ys) of a piece's pixels (`piece`: bool over the picture's `rows` and `cols`), every
    so many of them, at most about `most`: enough for its axes and extent."""
    ys, xs = np.nonzero(piece)
    step = max(1, len(xs) // most)
    return (xs[::step] + cols.start).astype(np.float64), (ys[::step] + rows.start).astype(np.float64)


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


def has_sharp_edges(gray: np.ndarray) -> bool:
    """Whether a picture steps by a quarter of the grey scale or more between neighbouring pixels
    somewhere: a stroke's side, which smooth shading (a gradient, a vignette) never has."""
    values = as_float(gray)
    steps = max(np.abs(np.diff(values, axis=0)).max(initial=0.0), np.abs(np.diff(values, axis=1)).max(initial=0.0))
    return bool(steps >= 0.25)


def one_colour(work: np.ndarray) -> bool:
    """Whether nine in ten pixels of a picture lie within a grey level of its median: a drawing
    app's canvas, never paper."""
    return bool(np.percentile(np.abs(work - np.median(work)), 90) < 1 / 255)


def grown_ink(gray: np.ndarray, inverted: bool, size: int) -> np.ndarray:
    """`gray` with its ink grown `size` pixels wide: each pixel the darkest round it where the ink
    is dark on light paper (`inverted`, as `InkMap` says it), the lightest where it is light."""
    return (ndimage.minimum_filter if inverted else ndimage.maximum_filter)(gray, size=size)


def background_window(gray: np.ndarray) -> int:
    """The default width of `ink_strength`'s background filter: a sixth of the picture."""
    return max(9, max(gray.shape) // 6)


def ink_strength(gray: np.ndarray, window: int | None = None) -> np.ndarray:
    """Bright ink (already made bright) on a flat black background: lighting and texture removed
    (less the `paper_level`)."""
    return np.clip(gray - paper_level(gray, window), 0.0, None)


def paper_level(gray: np.ndarray, window: int | None = None) -> np.ndarray:
    """The paper under bright ink (already made bright), lighting and texture included: a grey
    opening (a minimum then maximum filter `window` pixels wide, wider than any stroke),
    computed at a quarter of the resolution since lighting varies slowly. Before it is scaled
    back up it is widened by one pixel (a maximum filter): resampling softens a sharp edge, such
    as a page's against the desk, and a softened edge would stand out as a long "stroke"."""
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
    return background


def frame_of(work: np.ndarray) -> np.ndarray:
    """The pixels along the picture's four edges (a twentieth of each side deep)."""
    height, width = work.shape
    edge_h, edge_w = max(1, height // 20), max(1, width // 20)
    return np.concatenate([work[:edge_h].ravel(), work[-edge_h:].ravel(),
                           work[:, :edge_w].ravel(), work[:, -edge_w:].ravel()])


def dark_ink(work: np.ndarray) -> bool:
    """Whether the ink is darker than the paper: the paper is most of the picture, so a light
    median means dark ink. Where the picture is about as dark as it is light (a bold digit cropped
    tight, a hard shadow), the paper is what shows along its edges: dark ink when they are clearly
    lighter than the picture as a whole, light ink when clearly darker. (A page photographed on a
    desk is found first, by `sheet_on_desk`; where the polarity stays in doubt,
    `polarity_doubtful`, the caller reads it both ways.)

    A photo taken in dim light shows its paper grey, often darker than half: there the ink is
    what stands out of the paper's level, and it stands out darker (`stands_out_dark`)."""
    whole = float(np.median(sample(work)))
    if whole <= DOUBTFUL_MEDIAN[1] and stands_out_dark(work, whole):
        return True
    if DOUBTFUL_MEDIAN[0] < whole < DOUBTFUL_MEDIAN[1]:
        edges = float(np.median(frame_of(work)))
        if abs(edges - whole) > 0.1:  # else the edges are the same dim paper as the rest
            return edges > whole
    return whole > 0.5


def stands_out_dark(work: np.ndarray, whole: float) -> bool:
    """Whether the picture's darkest pixels lie far below their surroundings and its lightest
    close above theirs: a few dark strokes on grey paper. (Light strokes on a dark board lie far
    above; a bold digit cropped tight is half the picture, and is left to the other rules.) The
    surroundings are the median over a third of the picture, not the picture's: a phone's lens
    darkens the corners (vignetting), and against one median the bright middle stood out as far
    as the ink. (Over less, or a mean, the paper between a bold digit's strokes stood out light.)
    Lighting varies slowly: the median is taken at about 32 pixels across. The darkest lie far
    below the picture's median too: where that is the dark ground of light strokes (a drawing
    app's 8x8 digit, its strokes most of the picture), the ground stands out below the strokes.
    `whole`: the picture's median (of its `sample`)."""
    if whole - float(np.percentile(sample(work), 0.2)) <= DIM_CONTRAST:
        return False
    factor = max(1, max(work.shape) // 32)
    small = work if factor == 1 else np.asarray(Image.fromarray(work, mode="F").reduce(factor), dtype=np.float32)
    around = ndimage.median_filter(small, size=max(3, 2 * background_window(work) // factor) | 1, mode="nearest")
    if factor > 1:
        around = np.asarray(Image.fromarray(around, mode="F").resize((work.shape[1], work.shape[0]),
                                                                     Image.Resampling.BILINEAR))
    darkest, lightest = np.percentile(sample(work - around), [0.2, 99.8])
    return bool(-darkest > DIM_CONTRAST and -darkest > DARK_OVER_LIGHT * lightest)


def sheet_on_desk(work: np.ndarray) -> np.ndarray | None:
    """The sheet of paper in a photo of a page lying on a darker, even desk, at any angle and size,
    as a mask at the working resolution; None when the photo shows no such sheet.

    The sheet is the largest light region (holes filled: the writing on it), and it must look
    like paper: a convex shape (a bold light digit on dark paper is not), mostly light inside (a
    chalk "0" on a blackboard encloses dark), broad (a stroke is narrow), four-cornered where it
    is wholly in view, with an even, clearly darker and broad surround."""
    factor = max(1, int(np.ceil(max(work.shape) / 128)))
    small = np.asarray(Image.fromarray(work, mode="F").reduce(factor)) if factor > 1 else work
    light = small > otsu_threshold(sample(small))
    labels, count = ndimage.label(light)
    if count == 0:
        return None
    largest = labels == int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
    if largest.mean() > 0.92:  # filling its holes only makes it larger: paper filling the picture
        return None
    sheet = ndimage.binary_fill_holes(largest)
    if not 0.08 <= sheet.mean() <= 0.92 or largest.sum() < 0.8 * sheet.sum() or solidity(sheet) < 0.85:
        return None
    if ndimage.distance_transform_edt(sheet).max() < 0.08 * min(small.shape):
        return None
    # A sheet wholly in view has four corners; a bold light digit on a dark canvas (a drawing
    # app's 8 or 0, its holes filled) is round. A sheet cut by the picture's edge may have more.
    in_view = not (sheet[0].any() or sheet[-1].any() or sheet[:, 0].any() or sheet[:, -1].any())
    if in_view and quadrilateral_share(sheet) < QUADRILATERAL:
        return None
    desk = ~ndimage.binary_dilation(sheet, iterations=2)
    if desk.mean() < 0.05:
        return None
    contrast = float(np.median(small[sheet]) - np.median(small[desk]))
    # A wooden desk's grain spreads it wider than a plain one's, but far less than it lies below the
    # sheet; spread wider still it is no desk (a bold number cropped tight, its strokes taken for desk).
    spread = float(small[desk].std())
    if spread > 0.1 and (spread > GRAINED_SPREAD or spread > DESK_GRAIN * contrast):
        return None
    if contrast < 0.2 or edge_step(small, sheet, desk, contrast) < SHEET_EDGE:
        return None
    # A drawing app's bold light digit on its canvas, filled, can be as blocky as a sheet (an 8, a
    # 5); but it and its canvas are each one flat level, where a photo's paper and desk have grain.
    if one_level(small[desk]) and one_level(small[largest]):
        return None
    # A desk is broad; a bold digit cropped tight is dark and even too, but a stroke is narrow.
    if ndimage.distance_transform_edt(desk).max() < 0.1 * min(small.shape):
        return None
    # Back to the working resolution, a little inside the sheet's edge (its shading is no ink).
    inner = ndimage.binary_erosion(sheet, iterations=1)
    return np.asarray(Image.fromarray(inner.astype(np.uint8) * 255).resize(
        (work.shape[1], work.shape[0]), Image.Resampling.NEAREST)) > 0


def edge_step(small: np.ndarray, sheet: np.ndarray, desk: np.ndarray, contrast: float) -> float:
    """How far the picture steps down across a sheet's edge (from the two pixels inside it to the
    two to four outside; where the picture's edge cuts the sheet, no edge of it), as a share of
    `contrast`, the sheet's with the `desk` (all of the picture two pixels or more off the sheet).
    A paper's edge is a step; the lens's dark corners (vignetting) fall off smoothly, and the light
    middle they leave passed for a sheet, writing in a dark corner going as desk."""
    rim_in = sheet & ~ndimage.binary_erosion(sheet, iterations=2, border_value=1)
    rim_out = ndimage.binary_dilation(sheet, iterations=4) & desk
    if not rim_in.any() or not rim_out.any():
        return 1.0
    return float(np.median(small[rim_in]) - np.median(small[rim_out])) / contrast


def one_level(values: np.ndarray) -> bool:
    """Whether most of the values are one and the same (a drawing's flat colour; the pixels
    that blend it with another at its edges aside), as no photo's are."""
    _, counts = np.unique(values, return_counts=True)
    return bool(counts.max(initial=0) >= 0.75 * values.size)


def polarity_doubtful(work: np.ndarray) -> bool:
    """Whether both polarities are plausible: a picture about as dark as it is light (a hard
    shadow over half the page), or a dark picture with light paper showing all round its edges
    (a bold digit cropped tight, its ink the larger part)."""
    whole = float(np.median(sample(work)))
    if DOUBTFUL_MEDIAN[0] < whole < DOUBTFUL_MEDIAN[1]:
        return True
    return whole <= 0.5 and float(np.mean(frame_of(work) > 0.5)) > 0.6


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
    sharp = not photo and has_sharp_edges(gray)
    gray = enlarge_small(gray)
    work, scale = shrink(gray, work_side)
    sheet = sheet_on_desk(work) if photo else None
    if polarity == "auto":
        inverted = sheet is not None or dark_ink(work)
    else:
        inverted = polarity == "dark"
    bright_ink = 1.0 - work if inverted else work
    strength = ink_strength(bright_ink)
    if not inverted:  # a sheet on a desk is light paper: with light ink asked for, there is none
        sheet = None
    found = ink_and_faint(strength, sheet)
    if found is None and sharp:
        # A bar wider than the background filter went with the background: a small picture's
        # bold 1 (an 8x8 one is a third of the picture wide) was "no digit found". Filter with
        # half the picture's width instead; shading alone would pass for ink at that width.
        strength = ink_strength(bright_ink, max(work.shape) // 2)
        found = ink_and_faint(strength)
    if found is None and scale < 0.5 and one_colour(work) and has_sharp_edges(gray):
        # A hairline (a paint app's 1-pixel pencil) on a canvas many times the working side,
        # averaged down, fades under the noise floor: grow its ink to the averaging's width first.
        # Only on an app's canvas of one colour: on paper the darkest grain would grow too.
        work, _ = shrink(grown_ink(gray, inverted, round(1 / scale)), work_side)
        bright_ink = 1.0 - work if inverted else work
        strength = ink_strength(bright_ink)
        found = ink_and_faint(strength)
    labels, count = ndimage.label(found[0], structure=np.ones((3, 3))) if found is not None else (None, 0)
    stroke = typical_stroke(labels, count) if found is not None else 0.0
    if 3 * stroke > background_window(work):
        # Strokes nearly as wide as the background filter (a digit cropped tight, a marker): the
        # filter would take their middles for background. Filter with four strokes' width instead.
        strength = ink_strength(bright_ink, min(max(work.shape) // 2, int(4 * stroke)))
        found = ink_and_faint(strength, sheet)
        labels = None
    if found is None:
        raise NoDigitFound(f"{describe(source, name)}: no digit found (the image is blank or too faint).")
    mask, faint, fainter = found
    # Ruled lines are looked for in the faint ink: a line fainter than the writing is in the mask
    # only where it touches a digit, too short there to be seen for a line.
    unruled, ruling = remove_ruled_lines(mask, faint, strength)
    margin = lines_across(faint if ruling is None else faint & ~ruling, unruled)
    if margin is not None:  # printed, as ruled lines are: a line's crop leaves it out too (`linecrop.foreign_ink`)
        unruled = unruled & ~margin
        ruling = margin if ruling is None else ruling | margin
    # A number in pencil on a page written in pen, and the back's writing showing through: not in
    # a picture small enough to be enlarged (an 8x8 digit's faint strokes are its own).
    enlarged = max(gray.shape) > original_side
    if fainter is not None and not enlarged:
        unruled = unruled | writing_apart(fainter, ruling, unruled)
    if labels is None or unruled is not mask:
        mask = unruled
        labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    boxes = ndimage.find_objects(labels)
    holes = punched_holes(labels, boxes)
    strips = border_strips(labels, boxes)
    strips += [label for label in fine_stubs(labels, boxes, holes) if label not in strips]
    strips += [label for label in blobs_at_edge(labels, boxes, bright_ink) if label not in strips]
    strips += [label for label in rims_apart_from_edge(labels, boxes, strength, ruling) if label not in strips]
    strips += [label for label in holes if label not in strips]
    strips += [label for label in binding_row(labels, boxes) if label not in strips]
    if not enlarged:
        strips += [label for label in show_through(labels, boxes, strength, gray, scale, inverted)
                   if label not in strips]
    if sheet is not None:
        strips += desk_pieces(labels, boxes, sheet)
    aside = None
    if strips:  # rare: label again without them, so component numbers stay contiguous
        aside = np.isin(labels, strips)
        mask &= ~aside
        labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
        boxes = ndimage.find_objects(labels)
    if count == 0:
        raise NoDigitFound(f"{describe(source, name)}: no digit found (the image is blank or too faint).")
    if ruling is not None and only_printed_lines(strength, ruling if aside is None else ruling | aside):
        raise NoDigitFound(f"{describe(source, name)}: no digit found (only the paper's printed lines).")
    # Counted box by box: a page holds few components, so this beats a bincount of every pixel.
    areas = np.array([np.count_nonzero(labels[box] == i + 1) for i, box in enumerate(boxes)], dtype=np.float64)
    return InkMap(gray, inverted, mask, scale, labels, boxes, areas, max(gray.shape) // original_side, ruling,
                  sheet, aside)
