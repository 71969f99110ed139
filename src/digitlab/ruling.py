"""Ruled and squared paper: the lines printed across a page found in a mask of its ink and
removed, and the strokes that crossed them rejoined. A photo is seldom square to the page, so the
lines are looked for at the slope that lines the ink up best (within FAR_TILT degrees), and squared
paper's columns, which a photo in perspective fans out, each at its own lean too."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

RULE_TILT = 6.0  # degrees either way, looked at in half degrees: most photos of a page are this square to it
SLOPES = np.tan(np.radians(np.arange(-RULE_TILT, RULE_TILT + 0.25, 0.5)))
# A notebook photographed askew by more (a digit on it read 95% at 20 degrees, its lines taken for
# the digit) is looked at up to FAR_TILT degrees in 2-degree steps, on a quarter of the ink, and
# the best of those looked at again in half degrees round it.
FAR_TILT = 30.0
FAR_SLOPES = np.tan(np.radians(np.concatenate([np.arange(-FAR_TILT, -RULE_TILT, 2.0),
                                               np.arange(RULE_TILT + 2.0, FAR_TILT + 0.25, 2.0)])))
LEVEL_BIAS = 1.05  # a level page by default: a slope must pile the ink up this much better to win
# Squared paper photographed in perspective (`fanned_columns`): its columns lean apart by up to
# this much (columns moved per row), and cross this share of the picture's height, their ink
# covering FAN_SUPPORT of it.
FAN_LEAN, FAN_LENGTH, FAN_SUPPORT = 0.35, 0.6, 0.5
WRITING_OVER_LINES = 2.5  # ink this many times as strong as the lines' own is writing on them


def long_runs(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """The ink of a boolean mask that lies in straight runs at least `length` long along `axis`
    (1: rows, 0: columns): an opening with 1-D min and max filters. Under one pixel long, every
    ink pixel is such a run (a picture a few pixels across asks for a share of its side)."""
    length = max(1, length)
    # A run that leaves the mask counts twice, mirrored at its edge: where no row (column) holds
    # half of `length` (most masks), none can pass, and the filters need not run.
    if mask.shape[axis] >= length and np.count_nonzero(mask, axis=axis).max(initial=0) < length // 2:
        return np.zeros(mask.shape, dtype=bool)
    return ndimage.maximum_filter1d(ndimage.minimum_filter1d(mask.view(np.uint8), length, axis=axis),
                                    length, axis=axis) > 0


def gaps_closed(mask: np.ndarray, gap: int, axis: int) -> np.ndarray:
    """A boolean mask with its gaps shorter than `gap` pixels along `axis` closed (a 1-D closing:
    a max then a min filter): a printed line broken into dashes where the light is poor."""
    return ndimage.minimum_filter1d(ndimage.maximum_filter1d(mask.view(np.uint8), gap, axis=axis), gap, axis=axis) > 0


def leaning_lines(mask: np.ndarray, support: int, length: int, shears: np.ndarray, gap: int = 1,
                  strongest: bool = False) -> np.ndarray:
    """The ink of straight lines down a boolean mask, each leaning by one of `shears` (columns
    moved per row). A line's path and the columns either side of it hold `support` pixels of ink
    or more (a digit it passes through counting; with `strongest`, only the paths that hold more
    than those beside them at the next lean or column, fewer to follow); its ink is what lies
    within a column of the path where the ink along it runs `length` rows or more (half as many
    where a run leaves the mask at its top or bottom, as `long_runs` counts them), gaps shorter
    than `gap` rows closed. Within a column of the path, because a line between two of the leans
    looked at, or one a little curved, steps a column."""
    height, width = mask.shape
    found = np.zeros_like(mask)
    if not mask.any():
        return found
    ys, xs = np.nonzero(mask)
    shifts = np.rint(np.asarray(shears)[:, None] * (np.arange(height) - height / 2)[None, :]).astype(int)
    shifts -= shifts.max(axis=1, keepdims=True)
    # Every lean's paths counted at once: path c of a lean holds pixel (y, x) when x = c + shift[y].
    span = width - int(shifts.min())
    paths = xs[None, :] - shifts[:, ys] + 1 + (span + 2) * np.arange(len(shears))[:, None]
    counts = np.bincount(paths.ravel(), minlength=(span + 2) * len(shears)).reshape(len(shears), span + 2)
    near = counts[:, :-2] + counts[:, 1:-1] + counts[:, 2:]
    supported = near >= support
    if strongest:
        supported &= near == ndimage.maximum_filter(near, size=3, mode="constant")
    lean, column = np.nonzero(supported)
    if lean.size == 0:
        return found
    # Past the picture by two columns or more, a path holds no ink there.
    x = np.clip(column[:, None] + shifts[lean], -2, width + 1)
    padded = np.pad(mask, ((0, 0), (3, 3)))
    rows = np.arange(height)[None, :]
    beside = np.stack([padded[rows, x + 2], padded[rows, x + 3], padded[rows, x + 4]])
    along = beside.any(axis=0)
    if gap > 1:
        along = gaps_closed(along, gap, 1)
    runs = long_runs(along, length, 1)
    for step in range(3):
        line, y = np.nonzero(runs & beside[step])
        found[y, x[line, y] + step - 1] = True
    return found


def fanned_columns(mask: np.ndarray) -> np.ndarray | None:
    """The columns of squared paper photographed in perspective, each at its own lean (up to
    FAN_LEAN; a phone held below or above a page's middle fans them out), that run down
    FAN_LENGTH of the picture, gaps of a 25th of it closed; None unless three or more (a page's
    edge, or a pen, is one)."""
    height = mask.shape[0]
    length = int(FAN_LENGTH * height)
    if length < 8:
        return None
    # Half a column apart at either end of a line as long as the shortest looked for.
    shears = np.arange(-FAN_LEAN, FAN_LEAN + 1e-9, 2.0 / length)
    found = leaning_lines(mask, int(FAN_SUPPORT * height), length, shears, max(3, height // 25), strongest=True)
    return found if ndimage.label(found, structure=np.ones((3, 3)))[1] >= 3 else None


def remove_ruled_lines(mask: np.ndarray, faint: np.ndarray | None = None,
                       strength: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Drop horizontal lines that cross most of the page, and on ruled paper vertical ones too
    (squared paper, whose columns would join every digit on the page into one mesh); rejoin
    strokes that crossed them. The lines are looked for in `faint` (a mask with fainter ink
    than `mask`'s, where they show whole) when given; with the ink's `strength`, what is
    clearly darker than the lines on them is writing, and stays, and so is what is far thicker
    across a line than the line (`without_ruling`). Returns the mask without them (`mask`
    itself when there are none) and the lines' ink that went (None when there are none)."""
    lines = ruling_ink(mask, faint, strength)
    if lines is None:
        return mask, None
    return without_ruling(mask, *lines)


def ruling_ink(mask: np.ndarray, faint: np.ndarray | None = None,
               strength: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The ink of the ruled lines that `remove_ruled_lines` drops: (rows, columns), or None."""
    faint = mask if faint is None else faint | mask
    found = ruled_lines(faint)
    if found is None:
        return None
    rows, count = found
    # Squared paper has many columns as it has many rows; a page's edge along a desk is one line.
    found = ruled_lines(faint.T, least=3) if count >= 3 else None
    columns = np.zeros_like(mask) if found is None else found[0].T
    if count >= 3:
        fanned = fanned_columns(faint & ~columns)
        if fanned is not None:
            columns = columns | fanned
    if strength is not None and (rows | columns).any():
        # A stroke written along a line would go with it: pen and pencil are darker than print.
        rows, columns = rows & ~darker_than_lines(strength, rows, 0), columns & ~darker_than_lines(strength, columns, 1)
    return rows, columns


def darker_than_lines(strength: np.ndarray, lines: np.ndarray, axis: int) -> np.ndarray:
    """The pixels of `lines` (axis 0: lines along the rows) whose ink is WRITING_OVER_LINES times
    the lines' usual, on its own and summed across the line. Summed too, because a thin line a
    little off level lies in one row here and is shared by two there: one pixel's strength
    doubles along it, and where it does the line was taken for writing and stayed, in dashes."""
    if not lines.any():
        return np.zeros_like(lines)
    across = ndimage.convolve1d(np.where(lines, strength, 0.0), np.ones(3), axis=axis, mode="constant")
    return (lines & (strength > WRITING_OVER_LINES * float(np.median(strength[lines])))
            & (across > WRITING_OVER_LINES * float(np.median(across[lines]))))


def without_ruling(mask: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`mask` less the ruling's `rows` and `columns`, the strokes that crossed them rejoined (a
    closing across the line, applied only where the line was); and the ruling's ink that went.
    Ink far thicker across a line than the line is (`thicker_than_lines`) is writing on it, and
    stays: a stroke crossing it, a 7's bar written along it."""
    rows = rows & ~thicker_than_lines(mask & ~columns, rows, axis=0)
    # A row's blurred edge, a pixel beyond what went with it, made a column's pixel where the two
    # cross part of a run across as long as the row: each crossing stayed, a dash to read as a 1.
    # Such edges count for nothing in a run's length.
    beside_rows = ndimage.binary_dilation(rows, structure=np.ones((3, 1), dtype=bool))
    columns = columns & ~thicker_than_lines(mask & ~rows, columns, axis=1, uncounted=beside_rows)
    kept = mask & ~(rows | columns)
    rejoined = ((ndimage.binary_closing(kept, structure=np.ones((7, 1), dtype=bool)) & rows)
                | (ndimage.binary_closing(kept, structure=np.ones((1, 7), dtype=bool)) & columns))
    return kept | rejoined, rows | columns


def thicker_than_lines(ink: np.ndarray, lines: np.ndarray, axis: int,
                       uncounted: np.ndarray | None = None) -> np.ndarray:
    """Where `ink` runs across the `lines` (axis 0: lines along the rows, runs down the columns)
    over twice as far as it does along most of them: there writing lies on a line or crosses it.
    A ruled line is about as thick all along; its thickness is taken from the ink itself, since
    a photo's blur and the paper's print make it anything from one pixel to several. The pixels
    `uncounted` add nothing to a run's length."""
    structure = np.zeros((3, 3), dtype=bool)
    structure[:, 1] = axis == 0
    structure[1, :] = axis == 1
    labels, _ = ndimage.label(ink, structure=structure)
    weights = None if uncounted is None else (~uncounted).ravel().astype(np.float64)
    runs = np.bincount(labels.ravel(), weights)[labels]
    on_lines = runs[lines & ink]
    if on_lines.size == 0:
        return np.zeros_like(ink)
    return ink & (runs > 2 * max(1.0, float(np.median(on_lines))))


def ruled_lines(mask: np.ndarray, least: int = 1) -> tuple[np.ndarray, int] | None:
    """The ink of the (nearly) horizontal lines that cross most of the page, and how many lines
    clearly cross it (None when fewer than `least`): found where they lie level, at `level_slope`."""
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    if width < 40 or ys.size < 0.4 * width:
        return None
    centred = xs - width / 2
    slope = level_slope(ys, centred)
    # `level_lines` looks for a row (with the next: a line a shade off level steps a row) that
    # holds ink across 0.4 of the page at that slope: where no two rows hold that much together
    # (most pictures of writing), it would find none.
    shifts = np.rint(slope * centred).astype(np.int64)
    counts = np.bincount(ys + shifts - shifts.min())
    if (counts[:-1] + counts[1:]).max(initial=counts[0]) <= 0.4 * width:
        return None
    if slope == 0.0:
        return level_lines(mask, least)
    # Askew, three lines at least: a lone straight edge across the picture is more likely a
    # sheet's edge on a desk (`edges.py` drops those) than a ruled line.
    sheared, rows = shear_columns(mask, slope)
    found = level_lines(sheared, max(least, 3))
    return None if found is None else (found[0][rows, np.arange(width)], found[1])


def level_slope(ys: np.ndarray, centred: np.ndarray) -> float:
    """The slope (within FAR_TILT degrees) at which a mask's ink (its pixels' rows `ys`, and
    `centred`: their columns less the middle's) piles up in the fewest rows: the slope of ruled
    lines, if there are any; 0 unless another slope does clearly better."""
    best = _piled_up(ys, centred, SLOPES)
    if len(ys) < 8:
        return best
    # A quarter of the ink shows lines as well, at a quarter of the cost: the far slopes are
    # looked at on every photo, and are seldom the lines' own. The near best goes first, so it
    # stays unless a far slope does strictly better.
    far = _piled_up(ys[::4], centred[::4], np.append(best, FAR_SLOPES))
    if far != best:
        round_far = np.tan(np.arctan(far) + np.radians(np.arange(-1.5, 1.75, 0.5)))
        best = _piled_up(ys, centred, np.append(round_far, best))
    return best


def _piled_up(ys: np.ndarray, centred: np.ndarray, slopes: np.ndarray) -> float:
    """Of `slopes`, the first at which the pixels (`ys`, and `centred`: x less the middle's) fall
    in the fewest rows (the largest sum of squared row counts); the level slope's sum is counted
    LEVEL_BIAS times, so that near ties keep a page level. All slopes at once: one histogram of
    (slope, row) pairs."""
    rows = ys[None, :].astype(np.int32) + np.rint(slopes[:, None] * centred[None, :]).astype(np.int32)
    rows -= rows.min(axis=1, keepdims=True)
    span = int(rows.max()) + 1
    counts = np.bincount((rows + span * np.arange(len(slopes))[:, None]).ravel(), minlength=span * len(slopes))
    scores = (counts.reshape(len(slopes), span).astype(np.float64) ** 2).sum(axis=1)
    scores[np.abs(slopes) < 1e-9] *= LEVEL_BIAS
    best = int(np.argmax(scores))
    return 0.0 if abs(slopes[best]) < 1e-9 else float(slopes[best])


def shear_columns(mask: np.ndarray, slope: float) -> tuple[np.ndarray, np.ndarray]:
    """`mask` with each column moved down by `slope` times its distance from the middle, so lines
    at that slope lie level; and the row each pixel went to (index with `[rows, columns]` to move
    a mask of the sheared picture back)."""
    height, width = mask.shape
    shifts = np.round(slope * (np.arange(width) - width / 2)).astype(int)
    shifts -= shifts.min()
    rows = np.arange(height)[:, None] + shifts[None, :]
    sheared = np.zeros((height + int(shifts.max()), width), dtype=bool)
    sheared[rows, np.arange(width)[None, :]] = mask
    return sheared, rows


def level_lines(mask: np.ndarray, least: int) -> tuple[np.ndarray, int] | None:
    """`ruled_lines` of a page whose lines lie level."""
    height, width = mask.shape
    # A line a shade off level (the slopes tried are half a degree apart) steps between two rows.
    stepped = mask.copy()
    stepped[:-1] |= mask[1:]
    if not (stepped.mean(axis=1) > 0.4).any():
        return None
    # A line breaks into dashes where the light is poor: gaps of a 25th of the page close.
    gap = max(3, width // 25)
    runs = long_runs(gaps_closed(stepped, gap, 1), width // 10, axis=1)
    coverage = runs.sum(axis=1) / width
    line_rows, count = thin_bands(coverage > 0.6, height)
    if count >= max(least, 3) and far_apart(line_rows):
        # A ruled page: its lines count where they are fainter too. Where none is left thin
        # then, the bands were strokes of writing that fills the picture (the edges of hollow
        # lettering cropped tight), whose fainter ink thickens them.
        clear_rows = line_rows
        line_rows, fainter = thin_bands(coverage > 0.3, height)
        if fainter == 0:
            return None
        # A line that runs along a form's box, or along writing, is thick at the fainter level.
        line_rows |= clear_rows
    else:
        # One or two lines, level: each whole in a row of its own. (Closed and stepped, the
        # strokes of a number written across the picture would pass for a line.)
        runs = long_runs(mask, width // 10, axis=1)
        line_rows, count = thin_bands(runs.sum(axis=1) > 0.6 * width, height)
        line_rows, count = without_box_edges(mask, runs, line_rows)
        if count < least or count == 0 or (least >= 3 and not far_apart(line_rows)):
            return None
    # The rows beside a line hold its blurred edges: their long runs go too.
    lines = runs & ndimage.binary_dilation(line_rows, iterations=1)[:, None]
    lines[1:] |= lines[:-1]
    return lines & mask, count


def without_box_edges(mask: np.ndarray, runs: np.ndarray, line_rows: np.ndarray) -> tuple[np.ndarray, int]:
    """`line_rows` less the bands whose runs turn a corner at both ends, inside the picture: the
    top or bottom of a box drawn round the writing (a form's field photographed whole), which
    would leave its sides, read as 1s, were its edges taken for ruled lines. A ruled line runs to
    the picture's sides, or crosses the lines of squared paper. And how many bands are left."""
    bands, count = ndimage.label(line_rows)
    height, width = mask.shape
    reach = max(4, height // 12)
    upright = long_runs(mask, reach, axis=0)

    def corner(rows: slice, column: int) -> bool:
        # An upright stroke leaves the line on one side only (a tilted box's side may poke a
        # pixel or two past it); a line of squared paper crosses it.
        near = slice(max(0, column - 2), column + 3)
        above = upright[max(0, rows.start - reach):rows.start, near].any(axis=1).sum()
        below = upright[rows.stop:rows.stop + reach, near].any(axis=1).sum()
        return 2 < column < width - 3 and max(above, below) >= reach / 2 and min(above, below) <= reach / 4

    for band, (rows,) in enumerate(ndimage.find_objects(bands), 1):
        cols = np.flatnonzero(runs[rows].any(axis=0))
        if corner(rows, int(cols[0])) and corner(rows, int(cols[-1])):
            line_rows = line_rows & (bands != band)
            count -= 1
    return line_rows, count


def far_apart(line_rows: np.ndarray) -> bool:
    """Whether bands of rows lie as a ruling's lines do: far apart for their thickness (the
    median gap three times the median band or more) and spread over a third of the picture's
    height or more. The edges of a row of outlined digits lie in bands too, but a stroke apart,
    or all within the digits' height."""
    bands, count = ndimage.label(line_rows)
    if count < 2:
        return True
    starts = np.array([s[0].start for s in ndimage.find_objects(bands)])
    thickness = np.bincount(bands)[1:]
    spread = (starts[-1] - starts[0]) >= len(line_rows) / 3
    return spread and bool(np.median(np.diff(starts) - thickness[:-1]) >= 3 * np.median(thickness))


def thin_bands(rows: np.ndarray, height: int) -> tuple[np.ndarray, int]:
    """The rows of `rows` in bands thin enough for ruled lines, and how many bands. A band
    thicker than a fortieth of the picture is the bar of a digit that fills the picture (a
    tightly cropped 2, 5 or 7); one on the picture's first or last row is a sliver of desk
    beside a sheet turned a little (`edges.py` drops those)."""
    bands, count = ndimage.label(rows)
    if count == 0:
        return rows, 0
    thin = np.bincount(bands)[1:] <= max(3, height // 40)
    thin[np.setdiff1d([bands[0], bands[-1]], [0]) - 1] = False
    kept = np.flatnonzero(thin) + 1
    return np.isin(bands, kept), len(kept)
