"""Thresholding ink: the paper's level and noise in a picture of ink strength, the strongest
ink above them, and the mask of what stands out (with the fainter ink that touches it), or
nothing where nothing does: a blank page, and a ruled page blank but for its printed lines; and
apart from that mask, what may be writing fainter than it (a number in pencil among ones in pen)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

PRINTED_SPAN = 0.5  # fainter ink across this share of the picture is no writing (`fainter_writing`), ...
SPECK = 4           # ... nor a piece with fewer pixels above the noise
EDGE = 3  # pixels along the picture's edge that `only_printed_lines` leaves out


def sample(image: np.ndarray) -> np.ndarray:
    """Every third pixel each way (every ninth of pixels picked out flat): plenty for medians, nine
    times cheaper."""
    if image.size <= 4096:
        return image
    return image[::3, ::3] if image.ndim == 2 else image[::9]


def binomial_blur(image: np.ndarray) -> np.ndarray:
    """The [1, 2, 1] / 4 kernel each way: a Gaussian of sigma 0.71, several times faster than
    `ndimage.gaussian_filter` on these small images."""
    padded = np.pad(image, 1, mode="edge")
    rows = padded[:-2] + 2 * padded[1:-1] + padded[2:]
    return (rows[:, :-2] + 2 * rows[:, 1:-1] + rows[:, 2:]) * (1 / 16)


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


def paper_and_noise(few: np.ndarray) -> tuple[float, float, float]:
    """Otsu's split of a sample of the blurred ink strength, and the paper's level and noise."""
    split = otsu_threshold(few)
    paper = few[few < split]
    # The paper's level and noise, from the pixels that are not ink. When ink is a small share of
    # the picture all pixels do; when it covers a fifth or more (a digit cropped tight) the ink
    # would pass for noise. (On a blank page Otsu splits the noise itself, about in half, and its
    # lower half would understate it: hence all pixels, unless the split finds ink clearly apart.)
    background = few
    if paper.size < 0.67 * few.size:
        background = paper
    elif paper.size < 0.8 * few.size:
        paper_level = float(np.median(paper))
        if np.median(few[few >= split]) - paper_level > 20 * float(np.median(np.abs(paper - paper_level))) * 1.4826:
            background = paper
    middle = float(np.median(background))
    return split, middle, float(np.median(np.abs(background - middle))) * 1.4826


def blank_below(noise: float) -> float:
    """The strength under which ink does not stand out of a picture with this noise: a blank page."""
    return max(0.08, 8 * noise)


def fewest_ink_pixels(picture_size: int) -> int:
    """The pixels that must stand out for a picture to hold ink: 0.03% of them, enough for a small
    digit and more than a few specks."""
    return max(1, int(picture_size * 0.0003))


def strongest(values: np.ndarray, middle: float, noise: float, picture_size: int) -> float:
    """The ink's peak: the strongest `fewest_ink_pixels` of the picture's pixels among `values`,
    robust to a few specks; 0 when that many do not stand out of the noise."""
    candidates = values[values > middle + 3 * noise]
    k = fewest_ink_pixels(picture_size)
    return float(np.partition(candidates, candidates.size - k)[candidates.size - k]) if candidates.size >= k else 0.0


def threshold_ink(strength: np.ndarray) -> np.ndarray | None:
    """Boolean ink mask, or None when nothing stands out from the noise (a blank page)."""
    found = ink_and_faint(strength, fainter=False)
    return None if found is None else found[0]


def ink_and_faint(strength: np.ndarray, judged_on: np.ndarray | None = None,
                  fainter: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """`threshold_ink`'s mask, the faint ink: every pixel above the level at which fainter ink
    counts where it touches clear ink, touching it or not (printed lines show whole in it), and
    the pieces of it that may be writing too faint for the mask (`fainter_writing`), if any.
    `judged_on`: where the paper's level and the ink's peak are judged (the sheet of a page on a
    desk), else the whole picture."""
    # A light blur, not a median: a median would erase the 1-pixel strokes of small digits.
    clean = binomial_blur(strength)
    # The desk round a sheet is no ink, but where it is narrower than the background filter (a
    # wedge of it by a sheet askew) it stands out as the strongest "ink" of all: judged with it,
    # thin light writing fell under the threshold and a whole line of it went missing.
    judged = clean if judged_on is None else clean[judged_on]
    split, middle, noise = paper_and_noise(sample(judged))
    peak = strongest(judged.ravel(), middle, noise, clean.size)
    if peak < blank_below(noise):
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
    apart = fainter_writing(clean, labels, keep, noise) if fainter else None
    return keep[labels], weak, None if apart is None else apart[labels]


def fainter_writing(clean: np.ndarray, labels: np.ndarray, keep: np.ndarray, noise: float) -> np.ndarray | None:
    """Which pieces of the faint ink (`labels`; `keep`: those that hold clear ink) may be writing
    too faint for the clear ink's threshold, apart from it (a number in pencil on a page written in
    pen), or None: those that stand out as far as a blank page's noise never does, when they do over
    as many pixels as the threshold asks of the ink; a faint thing across half the picture is
    printed (a ruled line, a table's rule) or the light's edge, and is not. `faint.writing_apart`
    judges them once the printed lines are known."""
    floor = blank_below(noise)
    counts = np.bincount(labels[clean > floor], minlength=len(keep))
    counts[keep] = 0
    counts[0] = 0
    candidates = np.flatnonzero(counts >= SPECK)
    if counts[candidates].sum() < fewest_ink_pixels(clean.size):
        return None
    found = np.zeros_like(keep)
    boxes = ndimage.find_objects(labels, max_label=int(candidates[-1]))
    for label in candidates:
        rows, cols = boxes[label - 1]
        found[label] = (rows.stop - rows.start <= PRINTED_SPAN * clean.shape[0]
                        and cols.stop - cols.start <= PRINTED_SPAN * clean.shape[1])
    return found if found.any() else None


def only_printed_lines(strength: np.ndarray, printed: np.ndarray) -> bool:
    """Whether a page would be blank without its ruled lines (`printed`, with whatever else was
    set aside as no writing): the ink's threshold is set from the strongest ink, the lines
    themselves on a blank page, and a JPEG's blocks or the noise along the lines then pass for
    small digits. Away from the lines nothing stands out."""
    clean = binomial_blur(strength)
    _, middle, noise = paper_and_noise(sample(clean))
    # Two pixels either side: a line's blurred edge is not in its mask, and is as strong as the line.
    # Nor the picture's outer pixels, where the lines' ends and the paper's edge show: no writing
    # lies wholly there.
    near = ndimage.binary_dilation(printed, iterations=2)
    near[:EDGE], near[-EDGE:], near[:, :EDGE], near[:, -EDGE:] = True, True, True, True
    away = clean[~near]
    return strongest(away, middle, noise, clean.size) < blank_below(noise)
