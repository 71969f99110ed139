"""Finding the lines of writing on a photo or scan, at any angle: where the digits' pieces lie,
which way the writing runs (the docstrum idea, refined by a projection profile), and which pieces
make up each line, top to bottom and left to right. `reading` straightens and reads each line.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from digitlab.decorations import long_strokes, nested_pieces, underlines
from digitlab.ink import InkMap
from digitlab.linerows import PEN_HEIGHT, along_centres, band_height, by_band, no_written_one, rows_at, straight
from digitlab.strokes import stroke_width, turned

# `refined_angle`: how much neighbouring digits' tops and bottoms lining up weighs beside the
# projection profile's sharpness (the log of it), and the misalignment, in shares of the digits'
# height, past which a top or a bottom counts no more (a 6's tall stem, a 9 hanging below the
# line). Chosen on the validation faces' numbers drawn at known angles (1,500): alone, the profile
# was sharpest with italic digits turned towards upright, and 7.5% of the lines were found over 7
# degrees off (2.8% with these; weights 4-16 and clips 0.15-0.4 did about as well).
ALIGN_WEIGHT = 8.0
ALIGN_CLIP = 0.25
# Two pieces whose boxes overlap by this share of the smaller's, both ways, are one digit's (`overlapping`).
OVERLAP = 0.5


@dataclass
class TextLine:
    """A line of writing found at working resolution: its components and its rectangle in the
    frame turned by `angle` (u along the line, v across it)."""

    components: list[int]
    angle: float                  # radians: the writing runs along (cos, sin) in image x, y
    u0: float
    u1: float
    v0: float
    v1: float
    foreign: tuple[int, ...] = ()  # components near it that are not its writing (`find_lines`)

    @property
    def height(self) -> float:
        return self.v1 - self.v0


def neighbour_distances(centres: np.ndarray) -> np.ndarray:
    """The distances between the pieces' `centres` `(N, 2)`, each piece's from itself infinite:
    no piece is its own neighbour."""
    distance = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(distance, np.inf)
    return distance


def writing_angle(pieces: list[tuple[np.ndarray, np.ndarray]], stroke: float) -> float:
    """The direction of the writing, in radians, from its pieces' (xs, ys): the docstrum idea
    (O'Gorman, 1993). Digits of one number stand closer together than lines do, so the direction
    to each piece's nearest neighbours votes for the writing's direction; a piece much longer than
    it is thick, and thicker than a stroke (a number written joined up), votes along its length.
    No vote (a single digit): horizontal."""
    # The parts of one digit come apart (a 7's bar and its stem, a broken stroke) are each other's
    # nearest neighbours, and voted across the writing: they vote as one piece.
    centres = np.array([np.mean(np.concatenate([pieces[k][:2] for k in part], axis=1), axis=1)
                        for part in overlapping(pieces)])
    votes, weights = [], []
    if len(centres) >= 2:
        distance = neighbour_distances(centres)
        for i in range(len(centres)):
            for j in np.argsort(distance[i])[:2]:
                if np.isfinite(distance[i, j]):
                    dx, dy = centres[j] - centres[i]
                    votes.append(math.atan2(dy, dx))
                    weights.append(1.0)
    axes = []
    for xs, ys in pieces:
        if len(xs) < 3:
            axes.append((0.0, 0.0, 0.0))
            continue
        # The principal axes of the pieces' covariance, in closed form for 2x2 (np.cov and eigh
        # cost more than the rest of the vote).
        dx, dy = xs - xs.mean(), ys - ys.mean()
        a, b, c = float(dx @ dx), float(dx @ dy), float(dy @ dy)
        half_sum, root = (a + c) / 2, math.hypot((a - c) / 2, b)
        axes.append((math.sqrt(max((half_sum + root) / (len(xs) - 1), 1e-9)),
                     math.sqrt(max((half_sum - root) / (len(xs) - 1), 1e-9)), 0.5 * math.atan2(2 * b, a - c)))
    for k, (major, minor, along) in enumerate(axes):
        # A joined-up number is longer than the pieces beside it; digits of one size that each
        # lean far (a thin, italic hand) are not, and voted the writing down their slant.
        others = [axis[0] for m, axis in enumerate(axes) if m != k]
        if major > 2.5 * minor and minor > 1.5 * stroke and (not others or major > 1.5 * statistics.median(others)):
            votes.append(along)
            weights.append(major / minor)
    if not votes:
        return 0.0
    # Directions are axial (a vector and its opposite are one direction): double, average, halve.
    doubled = 2 * np.array(votes)
    histogram = np.zeros(72)
    np.add.at(histogram, (((doubled % (2 * math.pi)) / (2 * math.pi)) * 72).astype(int) % 72, weights)
    smooth = np.convolve(np.concatenate([histogram[-2:], histogram, histogram[:2]]), [1, 2, 3, 2, 1], "valid")
    peak = (np.argmax(smooth) + 0.5) / 72 * 2 * math.pi
    near = np.abs(np.angle(np.exp(1j * (doubled - peak)))) < math.radians(30)
    mean = np.angle(np.sum(np.array(weights)[near] * np.exp(1j * doubled[near])))
    angle = mean / 2
    # Within the axial direction, the one nearer left-to-right; a page upside down is found later.
    return float(angle - math.pi if angle > math.pi / 2 else angle + math.pi if angle <= -math.pi / 2 else angle)


def overlapping(pieces: list[tuple[np.ndarray, np.ndarray]]) -> list[list[int]]:
    """The pieces (xs, ys) in groups whose boxes overlap, each pair by OVERLAP of the smaller's
    extent both ways, and together no longer than the pieces' median length by a quarter (the
    parts of one digit, not a digit and a frame drawn round the number); each piece alone otherwise."""
    if len(pieces) < 2:
        return [[k] for k in range(len(pieces))]
    boxes = np.array([(xs.min(), xs.max() + 1, ys.min(), ys.max() + 1) for xs, ys in pieces])
    low, high = boxes[:, [0, 2]], boxes[:, [1, 3]]
    # Every pair at once, (N, N, 2): x and y.
    shared = np.minimum(high[:, None], high[None]) - np.maximum(low[:, None], low[None])
    smaller = np.minimum((high - low)[:, None], (high - low)[None])
    union = (np.maximum(high[:, None], high[None]) - np.minimum(low[:, None], low[None])).max(axis=2)
    digit = 1.25 * float(np.median((high - low).max(axis=1)))
    together = ((shared / smaller).min(axis=2) >= OVERLAP) & (union <= digit)
    _, group = connected_components(csr_matrix(together), directed=False)
    return [list(np.flatnonzero(group == g)) for g in np.unique(group)]


def refined_angle(pixels: dict, pieces: list[int], angle: float, bin_width: float) -> float:
    """The angle within 12 degrees of `angle` across which the ink falls into the narrowest bands
    (the projection profile, Postl's method) and neighbouring digits' tops and bottoms line up
    (`misalignment`): centres of neighbours alone tilt a short line by how its digits are shaped."""
    xs = np.concatenate([pixels[i][0] for i in pieces])
    ys = np.concatenate([pixels[i][1] for i in pieces])
    candidates = angle + np.radians(np.arange(-12.0, 12.01, 1.0))
    # All candidates at once, each one's bands numbered apart from the others' in one bincount.
    u, v = turned(xs, ys, candidates[:, None])
    bands = ((v - v.min(axis=1, keepdims=True)) / bin_width).astype(np.int64)
    width = int(bands.max()) + 1
    counts = np.bincount((bands + width * np.arange(len(candidates))[:, None]).ravel(),
                         minlength=width * len(candidates)).astype(np.float64)
    sharpness = np.log((counts.reshape(len(candidates), width) ** 2).sum(axis=1))
    # Each piece's extent across the writing at every candidate, along it at `angle` (the middle one).
    starts = np.cumsum([0] + [len(pixels[i][0]) for i in pieces[:-1]])
    middle = len(candidates) // 2
    tops, bottoms = np.minimum.reduceat(v, starts, axis=1).T, np.maximum.reduceat(v, starts, axis=1).T
    lengths = np.maximum.reduceat(u[middle], starts) - np.minimum.reduceat(u[middle], starts)
    centres = np.stack([np.add.reduceat(xs, starts), np.add.reduceat(ys, starts)], axis=1)
    centres /= np.diff(np.append(starts, len(xs)))[:, None]
    score = sharpness - ALIGN_WEIGHT * misalignment(tops, bottoms, lengths, centres, middle)
    return float(candidates[np.argmax(score)])


def misalignment(tops: np.ndarray, bottoms: np.ndarray, lengths: np.ndarray, centres: np.ndarray,
                 middle: int) -> np.ndarray:
    """For each candidate angle (the columns of the pieces' `tops` and `bottoms` across the
    writing), how far the digits' tops and bottoms lie from their nearest neighbours' (by
    `centres`), in shares of the digits' height, each clipped at ALIGN_CLIP and averaged; zeros
    when fewer than two digits. Only the pieces as tall, at the `middle` candidate, as a digit
    count (a 5's bar come apart would pull the line to its own height), and none much shorter
    along the writing (`lengths`) than tall: a box's walls, a ruled line's stub across it."""
    heights = bottoms[:, middle] - tops[:, middle]
    tall = float(np.median(np.sort(heights)[-max(1, len(heights) // 2):]))
    digits = (heights >= 0.6 * tall) & (heights > 0) & (lengths >= 0.25 * heights)
    if digits.sum() < 2:
        return np.zeros(tops.shape[1])
    tops, bottoms, centres = tops[digits], bottoms[digits], centres[digits]
    nearest = np.argmin(neighbour_distances(centres), axis=1)
    height = np.maximum(np.median(bottoms - tops, axis=0), 1.0)  # pixels: a flat dash's is 0
    off = [np.minimum(((ends - ends[nearest]) / height) ** 2, ALIGN_CLIP ** 2) for ends in (tops, bottoms)]
    return (off[0] + off[1]).mean(axis=0)


def writing_direction(ink: InkMap, pixels: dict, pieces: list[int], inner: set[int]) -> float:
    """The direction of the writing made of `pieces` (`writing_angle` of the pieces of fair size,
    `refined_angle`), in radians."""
    large = float(np.median(np.sort(ink.areas[pieces])[-12:]))
    significant = [i for i in pieces if ink.areas[i] >= 0.15 * large and i not in inner] or pieces
    # The writing's own stroke: a thin frame round bold digits would make each of them a stroke
    # of joined-up writing, voting along its height.
    stroke = max(1.0, stroke_width(np.isin(ink.labels, np.asarray(significant) + 1)))
    # Dust and dots of ink, when many, would outvote the digits with their neighbours' directions.
    # A speck is far smaller across than the largest pieces and no longer than three strokes; a
    # digit inside a box or an oval may be the first, never the second.
    sides = {i: sorted((ink.boxes[i][0].stop - ink.boxes[i][0].start, ink.boxes[i][1].stop - ink.boxes[i][1].start))
             for i in significant}
    size = {i: long for i, (_, long) in sides.items()}
    sizes = np.array(list(size.values()))
    small = 0.3 * float(np.median(sizes[sizes >= 0.5 * sizes.max()]))
    significant = [i for i in significant if size[i] >= small or size[i] >= 3 * stroke]
    # A stub of a ruled or squared paper's line left under a digit (or a 5's bar, come apart) is
    # no thicker than two strokes and shorter than the digits; the direction from it to its
    # neighbours, the digit over it first, says nothing of the writing's.
    usual = float(np.median([size[i] for i in significant]))
    thin = {i for i in significant if sides[i][0] <= 2 * stroke and size[i] < 0.8 * usual}
    significant = [i for i in significant if i not in thin] or significant
    # Nor does a pen lying by the writing, too short for `long_strokes`: from a number of two
    # digits, the directions to it outvoted theirs.
    sticks = {i for i in significant if size[i] >= PEN_HEIGHT * usual and straight(pixels[i])}
    significant = [i for i in significant if i not in sticks] or significant
    angle = writing_angle([pixels[i] for i in significant], stroke)
    return refined_angle(pixels, significant, angle, max(1.0, 0.25 * float(np.median([size[i] for i in significant]))))


def find_lines(ink: InkMap) -> list[TextLine]:
    """The lines of writing on a page, top to bottom and left to right within a row: components
    grouped by where they lie across the writing's direction, split where a gap along it is wider
    than a few digits."""
    keep = ink.significant()
    if not keep:
        return []
    pixels = {i: ink.pixels(i) for i in keep}
    # The inner rings of outlined digits lie in their outer rings: their neighbours' directions say
    # nothing of the writing's, and they join the line around them as small pieces do. A frame
    # round the writing, or a line under it, is no writing (and would pull the writing's angle).
    inner, frames = nested_pieces(ink, keep)
    keep = [i for i in keep if i not in frames] or keep
    under = underlines(ink, keep)
    sticks = long_strokes(ink, pixels, [i for i in keep if i not in under], inner)
    keep = [i for i in keep if i not in sticks]
    angle = writing_direction(ink, pixels, [i for i in keep if i not in under] or keep, inner)
    if under and abs(angle) > math.pi / 4:
        # The rest runs up or down the picture: a number turned on its side, whose 1s lie flat.
        under = set()
        angle = writing_direction(ink, pixels, keep, inner)
    keep = [i for i in keep if i not in under] or keep
    layout = rows_at(pixels, keep, inner, angle)
    digits = [i for i in layout.big if i not in layout.pens]
    if layout.staggered and len(digits) >= 3:
        # Digits that rise and fall lead the neighbours' directions up and down from one to the
        # next: along the digits' centres the writing may be one line, or a narrower one.
        along = along_centres(pixels, digits, angle)
        other = rows_at(pixels, keep, inner, along, pens_in_one_row=True)
        if len(other.writing) == 1 and set(digits) <= set(other.writing[0]) and (
                len(layout.writing) != 1 or band_height(other) < band_height(layout)):
            layout, angle = other, along
    extent, typical, dashes, big, rows = layout.extent, layout.typical, layout.dashes, layout.big, layout.rows
    keep = [i for i in keep if i not in dashes]
    # Small pieces (a dot, a detached bar) join the row whose band holds them.
    for i in set(keep) - set(big):
        near = by_band(rows, extent, typical, (extent[i][2] + extent[i][3]) / 2)
        if near:
            near[0].append(i)
    lines, drawn_sides, strays, tall = [], set(), set(), set(big)
    # Top to bottom by rows, left to right within one: two numbers on a row (a table, a date and
    # an amount) are read in that order even where the right one sits a little higher.
    rows.sort(key=lambda row: statistics.median((extent[j][2] + extent[j][3]) / 2 for j in row))
    for row in rows:
        row.sort(key=lambda j: extent[j][0])
        start = 0
        for k in range(1, len(row) + 1):
            gap = extent[row[k]][0] - max(extent[j][1] for j in row[start:k]) if k < len(row) else None
            if gap is None or gap > 2.5 * typical:
                members = row[start:k]
                start = k
                if not tall.intersection(members):
                    # Only small pieces, far along the row from its digits: the end of a ruled
                    # line past a thin hand's writing, a speck; no digit stands alone so small.
                    strays.update(members)
                    continue
                sides = frame_sides(members, extent)
                drawn_sides |= sides
                members = [j for j in members if j not in sides]
                lines.append(TextLine(members, angle, min(extent[j][0] for j in members),
                                      max(extent[j][1] for j in members), min(extent[j][2] for j in members),
                                      max(extent[j][3] for j in members)))
    pens = lone_sticks(lines, pixels, extent, tall)
    lines = [line for line in lines if not pens.intersection(line.components)]
    # What each line's crop must leave out: the ink drawn round or under the writing, a pen lying
    # by it, and the other lines' digits.
    drawn = frames | under | dashes | drawn_sides | sticks | strays | pens
    placed = {j for line in lines for j in line.components}
    for line in lines:
        line.foreign = tuple(sorted(drawn | (placed - set(line.components))))
    return lines


def lone_sticks(lines: list[TextLine], pixels: dict, extent: dict[int, tuple[float, float, float, float]],
                tall: set[int]) -> set[int]:
    """The pieces of lines that are one straight stroke, beside lines of other writing, that no
    hand writes as a 1: lying nearer flat than upright, leaning far and taller than the other
    lines' digits, or half again as tall as them. A pen or a pencil on the paper, too short for
    `decorations.long_strokes` (twice the other pieces' length), was read as a line "1" of its
    own."""
    alone = {}
    for line in lines:
        big = [j for j in line.components if j in tall]
        if len(big) == 1 and straight(pixels[big[0]]):
            alone[big[0]] = line
    others = [extent[j][3] - extent[j][2] for line in lines for j in line.components
              if j in tall and j not in alone]
    if not alone or not others:
        return set()
    usual = float(np.median(others))
    return {i for j, line in alone.items() if no_written_one(pixels[j], extent[j], line.angle, usual)
            for i in line.components}


def frame_sides(members: list[int], extent: dict[int, tuple[float, float, float, float]]) -> set[int]:
    """The first and last of a line's pieces (`members`, left to right; `extent`: their u0, u1, v0,
    v1), when they are the sides of a box drawn round the rest whose top and bottom the working
    mask lost (a thin pen, faint): two thin upright strokes, each reaching past all the pieces
    between them both above and below. Two 1s standing so round a number are rare; read as
    writing, the sides are read as 1s."""
    if len(members) < 3:
        return set()
    left, right = members[0], max(members, key=lambda j: extent[j][1])
    inside = [j for j in members if j not in (left, right)]
    if left == right or not inside:
        return set()
    u0, u1 = min(extent[j][0] for j in inside), max(extent[j][1] for j in inside)
    v0, v1 = min(extent[j][2] for j in inside), max(extent[j][3] for j in inside)
    reach = 0.08 * (v1 - v0)

    def side(j: int) -> bool:
        a0, a1, b0, b1 = extent[j]
        return a1 - a0 <= 0.35 * (b1 - b0) and b0 <= v0 - reach and b1 >= v1 + reach

    if side(left) and side(right) and extent[left][1] <= u0 + reach and extent[right][0] >= u1 - reach:
        return {left, right}
    return set()
