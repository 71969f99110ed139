"""What lies round the writing on a photographed page and is not ink: the desk seen round the
sheet (`desk_pieces`, `desk_slivers`), the page's own edge and a shadow's border (`border_strips`),
stubs of fine print, a ruled page's lines among them, cut off by the picture's edge (`fine_stubs`),
a lone line printed across the page, a notebook's margin, a fold's crease (`lines_across`), the
holes punched in a loose-leaf sheet (`punched_holes`), a spiral notebook's binding (`binding_row`).
A finger or a pen reaching in from the edge: `fingers`.
Part of the scan pipeline's step 5 (see `ink`)."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from scipy import ndimage

from digitlab.creases import CREASE_SPAN, creases_crossing, line_through
from digitlab.ruling import long_runs
from digitlab.strokes import solidity, stroke_width, thickest

LINE_SPAN = 0.6            # a printed line across the picture shows whole over this share of it at least,
LINE_LEAN = 0.15           # ... photographed askew by 8 degrees at most,
LONGER_THAN_WRITING = 2.0  # ... and this many times as long as anything else on it
WRITING_BESIDE = 0.02      # ... with writing beside them: a piece of at least this share of their clear ink
LINE_WIDTH = 0.025         # ... all of them fine: at most this share of the picture's side wide
GRID_SHARE = 0.9           # a table's rules: so much of the piece in straight runs across a third of the picture
SOLID_AS_INK = 0.9          # a disc or a fingertip: about as solid as its convex hull (a blotched bold digit is 0.83,
                            # a fingertip 0.96 or more)
AS_BROAD_AS_WRITING = 2.0   # a digit cut by the edge is at most this many times as broad as the other writing
HOLE_ROUND = 0.8            # a punched hole is a disc: at its broadest nearly as broad as its box is narrow,
HOLE_BROAD = 2.0            # ... and this many times as broad as the writing's strokes at least,
HOLE_CLEAR = 0.25           # ... with no writing within this share of its width: a bold digit's neighbours are
                            # nearer (scratch photos, validation faces: half its width read 86% of numbers, this 96%)
BINDING_ROW = 8             # a notebook's binding: at least this many alike pieces in a row along an edge,
BINDING_NEAR = 0.15         # ... within this share of the picture's side from it,
BINDING_EVEN = 0.3          # ... evenly spaced: each gap within this share of a whole number of the typical gap,
BINDING_BOLD = 3            # ... and holes: this many working pixels broad at least (a grid's stubs are 2)
GRAINED_DESK = 10           # a wooden desk round a sheet: at least this many pieces off the sheet (`desk_pieces`)


def at_edge(box: tuple[slice, slice], shape: tuple[int, ...]) -> bool:
    """Whether a piece's box (`ndimage.find_objects`) reaches the picture's edge."""
    rows, cols = box
    return rows.start == 0 or cols.start == 0 or rows.stop == shape[0] or cols.stop == shape[1]


def desk_pieces(labels: np.ndarray, boxes: list[tuple[slice, slice]], sheet: np.ndarray) -> list[int]:
    """Labels (1-based) of the components that are the desk seen round a photographed sheet: at
    the picture's edge and almost wholly off the sheet. (Writing in a hard shadow, which may pass
    for desk, lies off the picture's edge.) A wooden desk's grain breaks into many pieces apart
    from the edge too: where the pieces off the sheet are many (`GRAINED_DESK`) and outnumber those
    on it twice over, all of them are desk; a shadow holds a few digits, never so many more."""
    off = []
    for i, (rows, cols) in enumerate(boxes):
        own = labels[rows, cols] == i + 1
        if np.count_nonzero(own & ~sheet[rows, cols]) > 0.8 * np.count_nonzero(own):
            off.append(i + 1)
    if len(off) >= GRAINED_DESK and len(off) > 2 * (len(boxes) - len(off)):
        return off
    return [label for label in off if at_edge(boxes[label - 1], labels.shape)]


def border_strips(labels: np.ndarray, boxes: list[tuple[slice, slice]]) -> list[int]:
    """Labels (1-based) of the components that run along an edge of the picture for most of its
    length and are thin across it: the desk around a photographed page, the page's own edge, a
    shadow's border, or such a strip turning a corner (the desk along the left side and the
    bottom); and slivers of desk (`desk_slivers`). A digit touches an edge at most across part of
    it, or, when the picture is cropped tight round it, reaches far in from the edge (the stem
    under a 7's bar, the sides of a 0), or is the first or last of a number cropped tight
    (`_writing_cut_tight`)."""
    height, width = labels.shape
    strips, along = [], []
    for i, (rows, cols) in enumerate(boxes):
        along_top_or_bottom = ((rows.start == 0 or rows.stop == height) and cols.stop - cols.start > 0.8 * width
                               and rows.stop - rows.start < 0.2 * height)
        along_a_side = ((cols.start == 0 or cols.stop == width) and rows.stop - rows.start > 0.8 * height
                        and cols.stop - cols.start < 0.2 * width)
        if along_top_or_bottom or along_a_side:
            along.append((i + 1, 1 if along_top_or_bottom else 0))
        elif _round_a_corner(labels, i + 1, rows, cols):
            strips.append(i + 1)
    if along:
        rest = (labels > 0) & ~np.isin(labels, [label for label, _ in along])
        strips += [label for label, axis in along
                   if not _writing_cut_tight(labels, boxes[label - 1], label, axis, rest)]
    return strips + [label for label in desk_slivers(labels, boxes) if label not in strips]


def _writing_cut_tight(labels: np.ndarray, box: tuple[slice, slice], label: int, axis: int, rest: np.ndarray) -> bool:
    """Whether a piece lying along a side of the picture (`axis` 0: down it) is the first or last
    digit of writing cropped tight: it touches the side over under 3/4 of its length (the desk seen
    beyond a page's edge fills the picture to its side), is at most twice as broad as the `rest` of
    the ink's strokes, and is curved (a page's edge is straight), or straight (a 1) where the rest
    spans the picture that way as the piece does (over 80% of it)."""
    if not rest.any():
        return False
    own = labels[box] == label
    start = box[1 - axis].start == 0
    touching = (own[:, 0 if start else -1] if axis == 0 else own[0 if start else -1, :])
    if np.count_nonzero(touching) > 0.75 * touching.size:
        return False
    if stroke_width(own) > AS_BROAD_AS_WRITING * stroke_width(rest):
        return False
    if not _straight(own, axis):
        return True
    spanned = np.flatnonzero(rest.any(axis=1 - axis))
    return bool(spanned[-1] - spanned[0] + 1 > 0.8 * labels.shape[axis])


def desk_slivers(labels: np.ndarray, boxes: list[tuple[slice, slice]]) -> list[int]:
    """Labels (1-based) of the slivers of desk beside a photographed page, where too little desk
    shows for `sheet_on_desk` to find the sheet: components at the picture's edge, long as an edge
    is (a blot of a digit written near the edge is short), lying along the edges, and far broader
    at their thickest than the strokes written inside the picture (a sliver tapers to nothing at
    its ends, so its mean width can pass for a bold stroke's)."""
    height, width = labels.shape
    margin = 0.02 * min(height, width)  # a desk's edge may be shaded off, short of the picture's
    candidates = [i for i, (rows, cols) in enumerate(boxes)
                  if min(rows.start, cols.start, height - rows.stop, width - cols.stop) <= margin
                  and (rows.stop - rows.start >= 0.3 * height or cols.stop - cols.start >= 0.3 * width)]
    if not candidates:
        return []
    inside = [stroke_width(labels[box] == i + 1) for i, box in enumerate(boxes) if not at_edge(box, labels.shape)]
    if len(inside) < 2:  # no writing inside to compare with
        return []
    writing = float(np.median(inside))
    band = 0.15 * min(height, width)
    slivers = []
    for i in candidates:
        rows, cols = boxes[i]
        own = labels[rows, cols] == i + 1
        if thickest(own) < 3 * writing:
            continue
        if _share_along_edges(labels.shape, own, rows, cols, band) > 0.95:
            slivers.append(i + 1)
    return slivers


def punched_holes(labels: np.ndarray, boxes: list[tuple[slice, slice]]) -> list[int]:
    """Labels (1-based) of the holes punched in a loose-leaf sheet, the desk dark through them:
    discs (filling their convex hull to `SOLID_AS_INK`, and at their broadest nearly as broad as
    they are high and wide) HOLE_BROAD times as broad as the strokes of the writing at least,
    with no writing near them (HOLE_CLEAR). No digit is a disc, a full stop or a speck is no
    broader than the pen, and a small bold digit whose counters closed (a blob at working
    resolution) has its neighbours beside it. A column of holes was read as a line of 0s, one
    beside a number as its first digit."""
    if len(boxes) < 2:
        return []
    areas = np.bincount(labels.ravel(), minlength=len(boxes) + 1)[1:]
    sides = np.array([(rows.stop - rows.start, cols.stop - cols.start) for rows, cols in boxes])
    # A disc fills pi/4 of its box and is about as high as wide; a digit's strokes fill far less.
    roundish = np.flatnonzero((areas >= 0.6 * sides.prod(axis=1)) & (sides.min(axis=1) >= 4)
                              & (sides.max(axis=1) <= 1.5 * sides.min(axis=1)))
    broadest = {int(i): thickest(labels[boxes[i]] == i + 1) for i in roundish}
    discs = [i for i in broadest
             if broadest[i] >= HOLE_ROUND * sides[i].min() and solidity(labels[boxes[i]] == i + 1) >= SOLID_AS_INK]
    writing = [j for j in range(len(boxes)) if j not in discs and areas[j] >= 0.01 * areas.max()]
    if not discs or not writing:
        return []
    stroke = float(np.median([stroke_width(labels[boxes[j]] == j + 1) for j in writing]))
    holes = []
    for i in discs:
        (rows, cols), reach = boxes[i], HOLE_CLEAR * sides[i].max()
        near = [j for j in writing if areas[j] >= 0.1 * areas[i]
                and boxes[j][0].start < rows.stop + reach and rows.start - reach < boxes[j][0].stop
                and boxes[j][1].start < cols.stop + reach and cols.start - reach < boxes[j][1].stop]
        if not near and broadest[i] >= HOLE_BROAD * stroke:
            holes.append(i + 1)
    return holes


def binding_row(labels: np.ndarray, boxes: list[tuple[slice, slice]]) -> list[int]:
    """Labels (1-based) of a spiral notebook's binding: BINDING_ROW or more pieces alike in size
    (the punched holes, the desk dark through them, each with or without its loop of wire) in a
    row along an edge of the picture and near it (BINDING_NEAR), evenly spaced (a hole hidden by
    the writing leaves a gap twice as long), with other ink beside them, and broader than a
    printed line (BINDING_BOLD). Such a row was read as a line of 6s or 1s. A number's digits
    are fewer, or unlike, or unevenly spaced."""
    if len(boxes) <= BINDING_ROW:
        return []
    spans = np.array([(rows.start, rows.stop, cols.start, cols.stop) for rows, cols in boxes], dtype=np.float64)
    sizes = spans[:, 1::2] - spans[:, ::2]           # high, wide
    middles = (spans[:, 1::2] + spans[:, ::2]) / 2   # down, across
    areas = None  # counted only once a row is found: most pictures have none
    for axis in (0, 1):  # 0: along the top or the bottom edge; 1: along the left or the right
        side = labels.shape[axis]
        start, stop = spans[:, 2 * axis], spans[:, 2 * axis + 1]
        for reach in (stop, side - start):  # how far each piece reaches in from the edge
            near = np.flatnonzero(reach <= BINDING_NEAR * side)
            if len(near) < BINDING_ROW:
                continue
            row = _even_row(near, sizes, middles[:, 1 - axis], middles[:, axis], axis, reach)
            if not row:
                continue
            if areas is None:
                areas = np.bincount(labels.ravel(), minlength=len(boxes) + 1)[1:]
            if areas.sum() - areas[row].sum() < np.median(areas[row]):
                continue
            # Holes, not the stubs of a squared page's fine lines left along its edge.
            if np.median([thickest(labels[boxes[i]] == i + 1) for i in row]) >= BINDING_BOLD:
                return [int(i) + 1 for i in row]
    return []


def _even_row(near: np.ndarray, sizes: np.ndarray, along: np.ndarray, across: np.ndarray, axis: int,
              reach: np.ndarray) -> list[int]:
    """Of the pieces `near` an edge, the most that are alike in size to one of them and in line
    with it (their middles within half its size of its own across the edge, give or take a
    6-degree slope), if they are BINDING_ROW or more and evenly spaced along the edge. `reach`:
    how far each piece reaches in from the edge."""
    best = np.array([], dtype=np.int64)
    for seed in near:
        alike = np.all(np.abs(sizes[near] - sizes[seed]) <= 0.3 * np.maximum(sizes[near], sizes[seed]) + 1.5, axis=1)
        slope = 0.1 * np.abs(along[near] - along[seed])
        in_line = np.abs(across[near] - across[seed]) <= 0.5 * sizes[seed, axis] + 1 + slope
        row = near[alike & in_line]
        if len(row) > len(best):
            best = row
    if len(best) < BINDING_ROW:
        return []
    best = best[np.argsort(along[best])]
    gaps = np.diff(along[best])
    pitch = max(float(np.median(gaps)), 1.0)
    steps = gaps / pitch
    if not np.all((np.abs(steps - np.round(steps)) <= BINDING_EVEN) & (np.round(steps) >= 1)):
        return []
    # Its ends cut by the picture's edge, a hole with more of its wire: in line, on the row's
    # spacing and at most twice the size of its pieces; or, its wire drawn all the way to the
    # edge, longer, but no further in from the edge than the row (read as a line of 1s and 6s).
    # The spacing is counted from the nearest hole of the row: a binding seen at a slant spaces
    # its holes a little closer at the far end, and counted from the row's first, a hole at the
    # other end fell off the pitch.
    typical = np.median(sizes[best], axis=0)
    steps, last = (along[near] - along[best[0]]) / pitch, (along[best[-1]] - along[best[0]]) / pitch
    distances = np.abs(along[near][:, None] - along[best][None, :])
    apart, nearest = distances.min(axis=1) / pitch, best[distances.argmin(axis=1)]
    in_band = reach[near] <= reach[best].max() + 1
    # In line: its middle beside the row's, or, its wire drawn to the edge, its inner end beside
    # that of the row's nearest hole (the middle of so long a piece lies nearer the edge).
    in_line = (np.abs(across[near] - np.median(across[best])) <= typical[axis]) | (
        in_band & (np.abs(reach[near] - reach[nearest]) <= 0.5 * typical[axis]))
    more = ((np.abs(apart - np.round(apart)) <= BINDING_EVEN) & (steps > -1.5) & (steps < last + 1.5)
            & (sizes[near, 1 - axis] <= 2 * typical[1 - axis]) & ((sizes[near, axis] <= 2 * typical[axis]) | in_band)
            & in_line)
    return sorted(set(best.tolist()) | set(near[more].tolist()))


def fine_stubs(labels: np.ndarray, boxes: list[tuple[slice, slice]], holes: Collection[int] = ()) -> list[int]:
    """Labels (1-based) of the stubs of fine print cut off by the picture's edge: on ruled or
    squared paper, a line that leaves the picture after a cell or two does not cross it and is
    not found for a ruled line (nor is a grid too faint to show but at the picture's darker
    edges), and its stub was read as a line of its own ("1"). Pieces at the picture's edge, small
    beside the ink inside it, whose strokes are under half as thick as that ink's: print is finer
    than a pen, and writing cut by the edge keeps its pen's width. `holes`: the labels of
    `punched_holes`, no writing, whose discs would pass for thick ink (a digit cut by the edge,
    written with a fine pen beside them, went for a stub: "59517" read "9517")."""
    edge = {i for i, box in enumerate(boxes) if at_edge(box, labels.shape)}
    inside = [i + 1 for i in range(len(boxes)) if i not in edge and i + 1 not in holes]
    if not edge or not inside:
        return []
    writing = np.isin(labels, inside)
    thick, area = stroke_width(writing), np.count_nonzero(writing)
    stubs = []
    for i in sorted(edge):
        own = labels[boxes[i]] == i + 1
        if np.count_nonzero(own) < 0.25 * area and stroke_width(own) < 0.5 * thick:
            stubs.append(i + 1)
    return stubs


def lines_across(faint: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """The straight, fine lines of the `faint` ink that run from the picture's edge across most
    of it, far longer than anything else on it: a notebook's margin ruled down the page beside the
    writing (found for a ruled line only among squared paper's many columns, and otherwise read
    as a 1 as long as the page; faint, it shows whole only in part), or a table's rules, which
    cross and are one piece; or a fold's crease at any slope, from the edge across a good part of
    the picture, that the digits it crosses join into one piece with it (only the line goes, the
    digits stay: `creases.line_through`). A digit cropped tight runs across the picture too, but
    is no longer than the digits beside it, and alone (but for specks) it is all the writing; a
    number's strokes are not straight for so long. Bool, the masks' shape; None when there are none."""
    # A piece runs down (or across) all the rows (columns) it spans: where no rows (columns) hold
    # ink for LINE_SPAN of the picture together (most pictures), no piece can be such a line; nor a
    # line at a slant under CREASE_SPAN, or with no ink at the picture's edge.
    spread = max(_longest_run(faint.any(axis=axis)) / faint.shape[1 - axis] for axis in (0, 1))
    at_border = faint[0].any() or faint[-1].any() or faint[:, 0].any() or faint[:, -1].any()
    if spread < LINE_SPAN and not (at_border and spread >= CREASE_SPAN):
        return None
    labels, _ = ndimage.label(faint, structure=np.ones((3, 3)))
    boxes = ndimage.find_objects(labels)
    height, width = labels.shape
    straight = {}  # the straight lines from an edge, by the axis they run along
    through = {}  # the fine lines at a slant from an edge that digits touch: their pixels, and their length
    runs = None
    for i, (rows, cols) in enumerate(boxes):
        tall, wide = rows.stop - rows.start, cols.stop - cols.start
        long_way = _from_an_edge(rows, height) or _from_an_edge(cols, width)
        if not long_way and not (at_edge((rows, cols), labels.shape)
                                 and max(tall / height, wide / width) >= CREASE_SPAN):
            continue
        own = labels[rows, cols] == i + 1
        if stroke_width(own) > LINE_WIDTH * max(height, width):  # print is fine (an 8x8 digit enlarged is blocky)
            continue
        down = _from_an_edge(rows, height) and wide <= LINE_LEAN * tall
        across = _from_an_edge(cols, width) and tall <= LINE_LEAN * wide
        if (down or across) and _straight(own, 0 if down else 1):
            straight[i] = 0 if down else 1
            continue
        if long_way:
            # A table's rules, crossing: one piece, all in long straight runs.
            if runs is None:
                runs = long_runs(faint, int(0.3 * width), 1) | long_runs(faint, int(0.3 * height), 0)
            if np.count_nonzero(own & runs[rows, cols]) >= GRID_SHARE * np.count_nonzero(own):
                straight[i] = 0 if tall / height >= wide / width else 1
                continue
        crossing = line_through(own, (rows, cols), faint, CREASE_SPAN * max(height, width))
        if crossing is not None:
            through[i] = crossing
    found = []
    for i, axis in straight.items():
        # Longer than anything but the other such lines: a table's columns, a double margin.
        longest = max((box[axis].stop - box[axis].start for j, box in enumerate(boxes) if j not in straight),
                      default=0)
        if longest and boxes[i][axis].stop - boxes[i][axis].start >= LONGER_THAN_WRITING * longest:
            found.append(i + 1)
    lines = np.isin(labels, found)
    if through:
        # Longer than anything left beside them (a crease's faint halves, apart, were two pieces).
        creases = creases_crossing(faint, list(through.values()), CREASE_SPAN * max(height, width))
        crossing = np.any([line for line, _ in creases], axis=0)
        rest = ndimage.find_objects(ndimage.label(faint & ~crossing & ~lines, structure=np.ones((3, 3)))[0])
        writing = max((max(r.stop - r.start, c.stop - c.start) for r, c in rest), default=0)
        for line, length in creases:
            if writing and length >= LONGER_THAN_WRITING * writing:
                lines |= line
    if not lines.any():
        return None
    # Writing beside the lines: a piece of the clear ink no speck beside theirs (a 1 cropped tight
    # beside specks of dust is nearly all the ink; a table's rules may outweigh a small number).
    beside, count = ndimage.label(mask & ~lines, structure=np.ones((3, 3)))
    largest = np.bincount(beside.ravel())[1:].max() if count else 0
    return lines if largest >= WRITING_BESIDE * np.count_nonzero(mask & lines) else None


def _longest_run(flags: np.ndarray) -> int:
    """The most consecutive True values in a 1-D boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.view(np.int8), [0]])))
    return int((edges[1::2] - edges[::2]).max(initial=0))


def _from_an_edge(span: slice, size: int) -> bool:
    """Whether a piece's rows (or columns) start or end at the picture's edge, give or take 3%,
    and run across most of it."""
    return (span.start <= 0.03 * size or span.stop >= 0.97 * size) and span.stop - span.start >= LINE_SPAN * size


def _straight(own: np.ndarray, axis: int) -> bool:
    """Whether a piece (its mask within its box) is a straight line along `axis` (0: down the
    picture): its middle, row by row (or column by column), within a couple of pixels of a
    straight line fitted to it."""
    along = own if axis == 0 else own.T
    filled = np.flatnonzero(along.any(axis=1))
    if filled.size < 0.8 * along.shape[0]:
        return False
    middles = np.array([np.flatnonzero(along[r]).mean() for r in filled])
    fit = np.polyval(np.polyfit(filled, middles, 1), filled)
    return bool(np.abs(middles - fit).max() <= max(2.0, 0.01 * along.shape[0]))


def _round_a_corner(labels: np.ndarray, label: int, rows: slice, cols: slice) -> bool:
    """Whether a component spans most of the picture one way at least yet lies almost wholly in a
    thin band along its edges, and is not the picture's only ink: a strip that turns a corner (a
    page's edge down one side and partway along the top and bottom)."""
    height, width = labels.shape
    if rows.stop - rows.start <= 0.8 * height and cols.stop - cols.start <= 0.8 * width:
        return False
    own = labels[rows, cols] == label
    # A thin, square "0" cropped tight lies along the edges too, but alone: a desk comes with writing.
    area = np.count_nonzero(own)
    if np.count_nonzero(labels) - area < 0.02 * area:
        return False
    return _share_along_edges(labels.shape, own, rows, cols, 0.08 * min(height, width)) > 0.95


def _share_along_edges(shape: tuple[int, ...], own: np.ndarray, rows: slice, cols: slice, band: float) -> float:
    """The share of a piece's pixels (`own`, its mask within its box) lying within `band` pixels of
    the picture's edges."""
    height, width = shape
    r, c = np.nonzero(own)
    r, c = r + rows.start, c + cols.start
    return float(np.mean((np.minimum(r, height - 1 - r) < band) | (np.minimum(c, width - 1 - c) < band)))
