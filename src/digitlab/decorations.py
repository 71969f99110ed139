"""Ink drawn round or under writing rather than writing: a box or an oval round a digit or a
number (told from the outer ring of an outlined digit, which hugs its inner rings), a line
drawn under it and a pen lying by it. (A form's row of boxes written one digit to a box:
`boxrows`.) The single-digit pipeline (`preprocessing`), the line finder (`linefinding`) and the
line crops read (`reading`, `without_frames`) leave them out.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from digitlab.ink import InkMap, sampled_pixels
from digitlab.ruling import long_runs
from digitlab.strokes import principal_axes, principal_direction, stick_shaped, stroke_width, turned

# A frame encloses more than this many times its own ink: an oval drawn in the writing's pen round
# a thin 1 encloses about three times (four was asked before, and such ovals were read as 0s). An
# outlined digit's outer ring can enclose as much; it is told from a frame by `roomy`.
FRAME_ROOM = 2.5


def nested_pieces(ink: InkMap, pieces: list[int]) -> tuple[set[int], set[int]]:
    """Pieces that lie in a hole of another: (inner rings, frames). A frame is drawn round writing
    (a form's box, an oval round a number): it encloses FRAME_ROOM times its own ink, round a
    piece over a quarter of its height, with room to spare inside (`roomy`). Any other is an
    outlined digit's outer ring, and what it holds are its inner rings."""
    if len(pieces) < 2:
        return set(), set()
    box = np.array([[ink.boxes[i][0].start, ink.boxes[i][0].stop, ink.boxes[i][1].start, ink.boxes[i][1].stop]
                    for i in pieces])
    within = ((box[:, None, 0] >= box[None, :, 0]) & (box[:, None, 1] <= box[None, :, 1])
              & (box[:, None, 2] >= box[None, :, 2]) & (box[:, None, 3] <= box[None, :, 3]))
    np.fill_diagonal(within, False)
    held_by: dict[int, list[int]] = {}
    filled: dict[int, np.ndarray] = {}
    for a, b in zip(*np.nonzero(within)):  # rare outside outlined or framed writing: boxes seldom nest
        held, outer = pieces[a], pieces[b]
        if outer not in filled:
            filled[outer] = ndimage.binary_fill_holes(ink.labels[ink.boxes[outer]] == outer + 1)
        rows, cols = ink.boxes[held]
        ys, xs = np.nonzero(ink.labels[rows, cols] == held + 1)
        outer_rows, outer_cols = ink.boxes[outer]
        if filled[outer][ys[0] + rows.start - outer_rows.start, xs[0] + cols.start - outer_cols.start]:
            held_by.setdefault(outer, []).append(held)
    inner: set[int] = set()
    frames: set[int] = set()
    for outer, holds in held_by.items():
        rows, _ = ink.boxes[outer]
        # A frame holds writing; a speck in the counter of a thin 0 does not make the 0 one.
        if (filled[outer].sum() > FRAME_ROOM * ink.areas[outer]
                and max(ink.boxes[i][0].stop - ink.boxes[i][0].start for i in holds) > 0.25 * (rows.stop - rows.start)
                and roomy(ink, outer, filled[outer])):
            frames.add(outer)
        else:
            inner.update(holds)
    return inner, frames


def detach_from_frames(ink: InkMap) -> InkMap:
    """`ink` with the writing that touches a frame drawn round it cut from the frame, as pieces of
    their own. An oval hugs the ends of a number: at working resolution its ring and the first or
    last digit often join, and the digit went out of the line with the frame. The ring is the
    frame's ink within one and a half of its pen's width of its outside; what lies inside that, a
    tenth of the held pieces' median size or more, is writing."""
    keep = ink.significant()
    _, frames = nested_pieces(ink, keep)
    labels = ink.labels
    for frame in sorted(frames):
        rows, cols = ink.boxes[frame]
        piece = ink.labels[rows, cols] == frame + 1
        # Closed first: a box whose thin side broke (thresholded, or gone with a ruled line it
        # lay along) holds its digit all the same.
        closed = ndimage.binary_closing(np.pad(piece, 3), np.ones((3, 3)), iterations=2)
        from_outside = ndimage.distance_transform_edt(np.pad(ndimage.binary_fill_holes(closed), 1))[4:-4, 4:-4]
        inside, count = ndimage.label(piece & (from_outside > 1.5 * stroke_width(piece) + 1), structure=np.ones((3, 3)))
        held = [ink.areas[i] for i in keep if i != frame and ink.boxes[i][0].start >= rows.start
                and ink.boxes[i][0].stop <= rows.stop and ink.boxes[i][1].start >= cols.start
                and ink.boxes[i][1].stop <= cols.stop]
        sizes = np.bincount(inside.ravel(), minlength=count + 1)
        writing = [k for k in range(1, count + 1) if held and sizes[k] >= 0.1 * np.median(held)]
        if not writing:
            continue
        labels = labels.copy() if labels is ink.labels else labels
        region = labels[rows, cols]  # a view: the frame's box in the new labels
        for new_label, k in enumerate(writing, start=labels.max() + 1):
            region[inside == k] = new_label
    if labels is ink.labels:
        return ink
    return dataclasses.replace(ink, labels=labels, boxes=ndimage.find_objects(labels),
                               areas=np.bincount(labels.ravel())[1:].astype(ink.areas.dtype))


def without_frames(mask: np.ndarray) -> np.ndarray:
    """A line crop's ink (bool) less a frame drawn round its writing: one told as `nested_pieces`
    tells one, with the writing that touches it cut free first (`detach_from_frames`), and a box
    left open (`open_boxes`). At the working resolution a small number's box or oval is often one
    piece with its digits, and goes into the line as writing; in the crop, cut finer, it holds
    them, and read it would be 1s and 0s, or taken for hollow lettering, its inside for ink."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count < 2:
        return mask
    ink = InkMap(gray=mask.astype(np.float32), inverted=False, mask=mask, scale=1.0, labels=labels,
                 boxes=ndimage.find_objects(labels), areas=np.bincount(labels.ravel())[1:])
    _, frames = nested_pieces(ink, ink.significant())
    # Round the writing: a loop of joined-up writing may hold a piece or two of it, not most.
    frames = {k for k in frames if holds_most(ink, k, ndimage.binary_fill_holes(labels[ink.boxes[k]] == k + 1))}
    if frames:
        # The frames keep their labels; the writing cut from them gets new ones.
        return mask & ~np.isin(detach_from_frames(ink).labels, np.asarray(sorted(frames)) + 1)
    return mask & ~open_boxes(ink)


def holds_most(ink: InkMap, k: int, inside: np.ndarray) -> bool:
    """Whether `inside` (bool over piece `k`'s bounding box: where it holds ink) holds most of the
    ink that is not piece `k`: a frame goes round the writing."""
    rows, cols = ink.boxes[k]
    held = ((ink.labels[rows, cols] > 0) & (ink.labels[rows, cols] != k + 1) & inside).sum()
    return bool(held >= 0.5 * (ink.mask.sum() - ink.areas[k]))


def open_boxes(ink: InkMap) -> np.ndarray:
    """The ink of boxes drawn round writing and left open (a side lost where it lay along a ruled
    line, or too faint to keep). Such a box is a piece that holds two or more others side by side
    within its bounding box, with a side left and right of them (`boxed`), most of its ink along
    the edges of its convex hull, and a straight edge across it (`straight_across`): not an
    outlined digit round its inner rings, nor an underline joined to a digit, nor a long stroke
    of joined-up writing. Only the box's edges go; writing that touches it stays. Bool, the mask's
    shape."""
    found = np.zeros(ink.mask.shape, dtype=bool)
    least = 0.3 * float(np.median(ink.areas))
    for k, (rows, cols) in enumerate(ink.boxes):
        held = [j for j, (r, c) in enumerate(ink.boxes) if j != k and ink.areas[j] >= least
                and r.start >= rows.start and r.stop <= rows.stop and c.start >= cols.start and c.stop <= cols.stop]
        spans = sorted((ink.boxes[j][1].start, ink.boxes[j][1].stop) for j in held)
        if not any(b[0] >= a[1] for a, b in zip(spans, spans[1:])):
            continue
        piece = ink.labels[rows, cols] == k + 1
        width = max(2.0, 1.5 * stroke_width(piece))
        edges = hull_edges(piece, width)
        if ((piece & edges).sum() < 0.8 * piece.sum() or not straight_across(piece, width)
                or not boxed(ink, k, piece, held, width) or not holds_most(ink, k, np.ones_like(piece))):
            continue
        # A stub of a ruled line left where it touches a side pokes out past it, and the hull's
        # edges then miss that side, which read as a 1: the box's edges are those of what lies
        # between its sides, and the stub goes with it.
        beyond = past_the_sides(ink, k, piece, held)
        if beyond.any():
            piece &= ~beyond
            edges = hull_edges(piece, width)
        # What is left of the piece is writing that touches the box, or slivers of the box.
        rest, count = ndimage.label(piece & ~edges, structure=np.ones((3, 3)))
        sizes = np.bincount(rest.ravel(), minlength=count + 1)
        slivers = np.flatnonzero(sizes < 0.3 * np.median(ink.areas[held]))
        found[rows, cols] |= piece & (edges | np.isin(rest, slivers[slivers > 0])) | beyond
    return found


def past_the_sides(ink: InkMap, k: int, piece: np.ndarray, held: list[int]) -> np.ndarray:
    """The ink of piece `k` (`piece`: its ink in its bounding box) left of its leftmost column
    and right of its rightmost that hold ink down 0.6 of its height or more, outside the pieces it
    holds (`held`): what pokes out past a box's upright sides. Bool, `piece`'s shape."""
    first, last = held_columns(ink, k, held)
    tall = np.flatnonzero(np.count_nonzero(piece, axis=0) >= 0.6 * piece.shape[0])
    left, right = tall[tall < first], tall[tall >= last]
    beyond = np.zeros_like(piece)
    if left.size:
        beyond[:, :left[0]] = piece[:, :left[0]]
    if right.size:
        beyond[:, right[-1] + 1:] = piece[:, right[-1] + 1:]
    return beyond


def held_columns(ink: InkMap, k: int, held: list[int]) -> tuple[int, int]:
    """The first column of the pieces `held` in piece `k`'s bounding box, and the one past their
    last, counted from the box's left."""
    left = ink.boxes[k][1].start
    return min(ink.boxes[j][1].start for j in held) - left, max(ink.boxes[j][1].stop for j in held) - left


def boxed(ink: InkMap, k: int, piece: np.ndarray, held: list[int], width: float) -> bool:
    """Whether piece `k` (`piece`: its ink in its bounding box) stands left and right of the
    pieces it holds, over most of its height, and well away from them: a box round writing. An
    outlined digit's outer ring hugs its inner rings, a stroke's width away."""
    rows, cols = ink.boxes[k]
    first, last = held_columns(ink, k, held)
    for side in (piece[:, :max(first, 0)], piece[:, last:]):
        ys = np.flatnonzero(side.any(axis=1))
        if len(ys) == 0 or ys[-1] - ys[0] + 1 < 0.6 * piece.shape[0]:
            return False
    inside = np.isin(ink.labels[rows, cols], np.asarray(held) + 1)
    return float(np.median(ndimage.distance_transform_edt(~piece)[inside])) >= 2 * width


def straight_across(piece: np.ndarray, width: float) -> bool:
    """Whether a piece has a straight edge across most of its width, level within `width` pixels
    (a box's top or bottom, seen a few degrees askew), as round writing has not."""
    band = ndimage.maximum_filter1d(piece.view(np.uint8), 2 * math.ceil(width) + 1, axis=0) > 0
    return bool(long_runs(band, int(0.7 * piece.shape[1]), axis=1).any())


def hull_edges(piece: np.ndarray, width: float) -> np.ndarray:
    """The band `width` pixels deep inside the convex hull of a piece's pixels (bool, its shape)."""
    from scipy.spatial import ConvexHull, QhullError

    ys, xs = np.nonzero(piece)
    try:
        hull = ConvexHull(np.column_stack([xs, ys]))
    except QhullError:  # a straight line: all of it is edge
        return piece.copy()
    canvas = Image.new("1", (piece.shape[1], piece.shape[0]), 0)
    ImageDraw.Draw(canvas).polygon([(float(xs[i]), float(ys[i])) for i in hull.vertices], fill=1, outline=1)
    inside = np.asarray(canvas, dtype=bool)
    return inside & (ndimage.distance_transform_edt(np.pad(inside, 1))[1:-1, 1:-1] <= width)


def roomy(ink: InkMap, outer: int, filled: np.ndarray) -> bool:
    """Whether the inside of piece `outer` (its holes, `filled` in its box) has room round what it
    holds: a circle across 0.22 of the piece's smaller side fits between them. A box drawn round a
    digit leaves that much; an outlined digit's outer ring hugs its inner rings, a stroke's width
    away."""
    crop = ink.labels[ink.boxes[outer]]
    held = ndimage.binary_fill_holes((crop > 0) & (crop != outer + 1))
    room = filled & (crop != outer + 1) & ~held
    return 2 * float(ndimage.distance_transform_edt(room).max(initial=0.0)) > 0.22 * min(crop.shape)


def underlines(ink: InkMap, pieces: list[int]) -> set[int]:
    """Pieces that underline writing: flat (four times as wide as high), under the lower quarter of
    the pieces standing over them (at least twice as tall, at most their own height above it), and
    as wide as all of those, which stand as digits do (mostly about as tall as wide, or taller: a
    number turned on its side has flat 1s under digits lying down). A detached bar of a 5 or a 7
    lies higher; a dash under part of a number (a ruled line's remnant) is no underline."""
    found: set[int] = set()
    for i in pieces:
        rows, cols = ink.boxes[i]
        height = rows.stop - rows.start
        if cols.stop - cols.start < 4 * height:
            continue
        over = [ink.boxes[j] for j in pieces if j != i]
        over = [(r, c) for r, c in over
                if c.stop > cols.start and c.start < cols.stop and r.stop - r.start >= 2 * height
                and r.start + 0.75 * (r.stop - r.start) <= rows.start <= r.stop + (r.stop - r.start)]
        if (over and min(c.start for _, c in over) >= cols.start and max(c.stop for _, c in over) <= cols.stop
                and np.median([(r.stop - r.start) / (c.stop - c.start) for r, c in over]) >= 0.9):
            found.add(i)
    return found


# A straight stroke this many times as long as the page's other pieces (at the median) is no digit:
# a 1 is as tall as the digits beside it.
STICK_LENGTH = 2.0
# A dot: its area this share of its length squared or more (a disc's 0.79; the validation split's
# digits 0.2-0.3, a squared paper's fragments under 0.4, dust 0.5-1 at the working resolution).
DOT_AREA = 0.45
STICK_PARALLEL = math.radians(10)  # a straight piece this near a stick's direction may be part of it
THIN_LINE_REACH = 0.25  # a thin line hanging off a piece this share of its length long (`without_thin_line`)


def long_strokes(ink: InkMap, pixels: dict[int, tuple[np.ndarray, np.ndarray]], pieces: list[int],
                 inner: set[int]) -> set[int]:
    """Pieces (of `pieces`, with their (xs, ys) `pixels`) that are straight strokes far longer
    than the other pieces: a pen, a pencil or a stick lying on the paper, a stroke drawn across
    the page. Read as writing, each was a line of its own ("76" read "76" and "1"), or so tall
    that the digits beside it were taken for specks and the number was lost. Where every piece is
    straight ("111"), none is. A piece is measured without a long thin line hanging off it
    (`without_thin_line`) where it is straight only so."""
    lengths, straight, dots = {}, set(), set()
    for i in pieces:
        if i in inner:
            continue
        along, across = principal_axes(*pixels[i])
        stick = stick_shaped(along, across)
        if not stick:
            core = without_thin_line(ink, i, float(np.ptp(along)) + 1)
            if core is not None and stick_shaped(*(core_axes := principal_axes(*core))):
                (along, across), stick = core_axes, True
        lengths[i] = float(np.ptp(along)) + 1
        if stick:
            straight.add(i)
        elif len(pixels[i][0]) >= DOT_AREA * lengths[i] ** 2:
            dots.add(i)
    others = [length for i, length in lengths.items() if i not in straight]
    if not others:
        return set()
    # Specks of dust are no measure: a dozen of them made a 1 among the digits a stick twice as
    # long as the usual piece ("6134" read "634"). A squared paper's small fragments still count
    # (the stubs of its lines go as sticks beside them).
    usual = float(np.median([length for i, length in lengths.items() if i not in straight | dots] or others))
    sticks = {i for i in straight if lengths[i] >= STICK_LENGTH * usual}
    return sticks | {j for j in straight - sticks if any(along_stick(pixels[j], pixels[i]) for i in sticks)}


def along_stick(piece: tuple[np.ndarray, np.ndarray], stick: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether a straight piece's pixels (xs, ys) run along a stick: parallel to it (within
    STICK_PARALLEL) and nowhere farther from it than it is wide. So lies a piece of a pen's other
    side, cut off by the ruled lines that went from under it; such pieces lie in a row down the
    pen, as tall as the digits, and the writing was found running along them ("637" read as three
    lines)."""
    direction = principal_direction(*stick)
    turn = abs(principal_direction(*piece) - direction) % math.pi
    if min(turn, math.pi - turn) > STICK_PARALLEL:
        return False
    width = float(np.ptp(turned(*stick, direction)[1])) + 1
    gaps = np.hypot(piece[0][:, None] - stick[0][None, :], piece[1][:, None] - stick[1][None, :]).min(axis=1)
    return bool(gaps.max() <= width)


def without_thin_line(ink: InkMap, index: int, length: float) -> tuple[np.ndarray, np.ndarray] | None:
    """A piece's pixels (xs, ys, as `InkMap.pixels` gives them) less the thin lines hanging off it,
    where one is long (THIN_LINE_REACH of the piece's `length` or more); None where none is. A
    faint ruled line that the threshold joined to a pen lying across it (the pen clear ink, the
    line found only where it touches it) made the pen crooked: no stick, and the writing was
    found running along it ("51" read "2"). Thin: gone in an opening by a 3 x 3 square, one or
    two pixels wide, as a pen is not; a short stub of a ruled line left on a 1 is no such line."""
    rows, cols = ink.boxes[index]
    own = ink.labels[rows, cols] == index + 1
    core = ndimage.binary_opening(own, structure=np.ones((3, 3)))
    thin_ys, thin_xs = np.nonzero(own & ~core)
    if thin_ys.size == 0 or max(np.ptp(thin_ys), np.ptp(thin_xs)) + 1 < THIN_LINE_REACH * length:
        return None
    if np.count_nonzero(core) < 3:
        return None
    return sampled_pixels(core, rows, cols)
