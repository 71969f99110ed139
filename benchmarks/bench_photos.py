"""Phone-photo situations the scan benchmark's generator does not make: faint pencil, blue ink on
a yellow sticky note, a hard shadow over most of the photo, a small digit in a 12 MP photo, a
page on a dark desk (covering half, or a seventh, of the photo), dim light (the paper grey), a
notebook's red margin beside the digit, a thick marker, loose-leaf paper's punched holes, a spiral
notebook's binding above the digit; and (drawn by tests/photomaker.py) chalk on a blackboard,
marker on a whiteboard under a glare, red or green ink, brown kraft paper, grey ink on grey paper,
a photo out of focus, a shaken photo, a JPEG saved at a messenger's quality.

    python benchmarks/bench_photos.py --model runs/demo [--per-case 40]

Each case draws the same digits (0-9 in turn, by tens from a handwriting font and from real MNIST
test digits), and prints how many were read correctly and how many were refused ("no digit
found"), and of the correct answers how many were flagged "not sure". The control row is the same
digits as a plain scan.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from digitlab.datasets import load_dataset  # noqa: E402
from digitlab.errors import DigitlabError  # noqa: E402
from digitlab.predict import Predictor  # noqa: E402
from tests.photomaker import (  # noqa: E402
    compressed_hard,
    in_coloured_ink,
    on_blackboard,
    on_whiteboard,
    out_of_focus,
    shaken,
)
from tests.scanmaker import glyph_from_font, glyph_from_mnist, handwriting_fonts  # noqa: E402

DESK = np.array([60, 45, 35]) / 255


def place(glyph: np.ndarray, size: tuple[int, int], height: int, centre: tuple[int, int]) -> np.ndarray:
    """Ink coverage (1 = ink) of a `size` (width, height) photo with `glyph` `height` pixels tall."""
    width = max(1, int(glyph.shape[1] * height / glyph.shape[0]))
    ink = np.zeros(size[::-1], np.float32)
    scaled = np.asarray(Image.fromarray((glyph * 255).astype(np.uint8)).resize((width, height),
                                                                                 Image.Resampling.BILINEAR))
    top, left = centre[1] - height // 2, centre[0] - width // 2
    ink[top:top + height, left:left + width] = scaled / 255
    return ink


def photo(ink: np.ndarray, paper: tuple, ink_rgb: tuple, rng: np.random.Generator,
          light: Callable[[np.ndarray], np.ndarray] | None = None) -> Image.Image:
    paper_c, ink_c = np.array(paper, np.float32) / 255, np.array(ink_rgb, np.float32) / 255
    rgb = paper_c * (1 - ink[..., None]) + ink_c * ink[..., None]
    if light is not None:
        rgb = light(rgb)
    rgb = rgb + rng.normal(0, 0.02, rgb.shape)
    return Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))


def on_desk(top: int, bottom: int, left: int, right: int) -> Callable[[np.ndarray], np.ndarray]:
    def light(rgb: np.ndarray) -> np.ndarray:
        out = np.empty_like(rgb)
        out[:] = DESK
        out[top:bottom, left:right] = rgb[top:bottom, left:right]
        return out
    return light


def margin(rgb: np.ndarray) -> np.ndarray:
    """A notebook's red margin ruled down the page, left of the digit."""
    out = rgb.copy()
    out[:, 180:184] = np.array([225, 90, 100]) / 255
    return out


def holes(rgb: np.ndarray) -> np.ndarray:
    """Loose-leaf paper: three holes punched down the page left of the digit, half as wide as it is
    high, the desk dark through them."""
    out = rgb.copy()
    yy, xx = np.mgrid[:rgb.shape[0], :rgb.shape[1]]
    for y in (0.16, 0.5, 0.84):
        out[np.hypot(xx - 95, yy - y * rgb.shape[0]) <= 75] = DESK
    return out


def binding(rgb: np.ndarray) -> np.ndarray:
    """A spiral notebook: a row of square holes 32 pixels apart along the top, the desk dark
    through them, each with its loop of wire running out over the edge."""
    out = rgb.copy()
    for x in range(14, rgb.shape[1], 32):
        out[22:34, x - 6:x + 6] = DESK
        out[0:22, x - 1:x + 2] = np.array([120, 120, 125]) / 255
    return out


def shadow(rgb: np.ndarray) -> np.ndarray:
    yy, xx = np.mgrid[:rgb.shape[0], :rgb.shape[1]]
    return np.where((xx + 0.5 * yy > 0.75 * rgb.shape[1])[..., None], rgb * 0.45, rgb)


def plain(glyph: np.ndarray, rng: np.random.Generator, paper: tuple = (245, 245, 240),
          ink: tuple = (20, 20, 30)) -> Image.Image:
    """The control: dark ink on white paper (or `ink` on `paper`), the digit 300 pixels tall in
    an 800-pixel photo."""
    return photo(place(glyph, (800, 800), 300, (400, 400)), paper, ink, rng)


CASES: dict[str, Callable[[np.ndarray, np.random.Generator], Image.Image]] = {
    "control: plain dark ink on white": plain,
    "faint pencil (grey on white)": lambda g, r: plain(g, r, ink=(150, 150, 150)),
    "blue ink on a yellow sticky note": lambda g, r: photo(place(g, (700, 700), 300, (350, 350)), (250, 235, 120),
                                                           (30, 60, 170), r),
    "hard shadow over most of the photo": lambda g, r: photo(place(g, (800, 800), 300, (400, 400)), (240, 240, 235),
                                                             (20, 20, 30), r, shadow),
    "small digit in a 4000x3000 photo": lambda g, r: photo(place(g, (4000, 3000), 120, (2300, 1400)),
                                                           (235, 235, 230), (25, 25, 40), r),
    "page on a dark desk, 35% of the photo": lambda g, r: photo(place(g, (1000, 1000), 250, (500, 500)),
                                                                (245, 245, 240), (20, 20, 30), r,
                                                                on_desk(150, 850, 250, 750)),
    "page on a dark desk, 14% of the photo": lambda g, r: photo(place(g, (1000, 1000), 200, (500, 500)),
                                                                (245, 245, 240), (20, 20, 30), r,
                                                                on_desk(300, 700, 330, 670)),
    "dim light: the paper grey": lambda g, r: photo(place(g, (800, 800), 300, (400, 400)), (115, 110, 100),
                                                    (15, 15, 25), r),
    "beside a notebook's margin": lambda g, r: photo(place(g, (800, 800), 300, (400, 400)), (245, 245, 240),
                                                     (20, 20, 30), r, margin),
    "loose-leaf paper: punched holes left of the digit": lambda g, r: photo(
        place(g, (800, 800), 300, (450, 400)), (245, 245, 240), (20, 20, 30), r, holes),
    "spiral notebook: its binding along the top": lambda g, r: photo(
        place(g, (800, 800), 300, (400, 430)), (245, 245, 240), (20, 20, 30), r, binding),
    "thick marker": lambda g, r: photo(place(np.asarray(Image.fromarray((g * 255).astype(np.uint8)).filter(
        ImageFilter.MaxFilter(9)), np.float32) / 255, (800, 800), 300, (400, 400)), (245, 245, 240), (10, 10, 10), r),
    "chalk on a blackboard": lambda g, r: on_blackboard(plain(g, r), r),
    "marker on a whiteboard under a lamp's glare": lambda g, r: on_whiteboard(plain(g, r), r),
    "red or green ink, on white or brown kraft paper": lambda g, r: in_coloured_ink(plain(g, r), r),
    "grey ink on grey paper": lambda g, r: plain(g, r, (200, 200, 200), (150, 150, 150)),
    "out of focus": lambda g, r: out_of_focus(plain(g, r), r),
    "shaken: blurred along a line": lambda g, r: shaken(plain(g, r), r),
    "a JPEG saved at quality 5-15": lambda g, r: compressed_hard(plain(g, r), r),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="run directory or .onnx file (default: the shipped model)")
    parser.add_argument("--split", choices=("dev", "locked"), default="locked", help="which half of the test faces")
    parser.add_argument("--per-case", type=int, default=40)
    parser.add_argument("--max-gap", type=float, default=0.1,
                        help="target: each situation below the control by at most")
    args = parser.parse_args()
    predictor = Predictor.load(args.model)
    fonts = handwriting_fonts(args.split)
    test = load_dataset("mnist-5k").test
    labels = test.labels.numpy()
    print(f"model: {predictor.info.get('model')}; faces: {args.split} half")
    print("| situation | images | correct | correct, flagged | refused | target |")
    print("|---|---|---|---|---|---|")
    control, missed = None, 0
    for name, make in CASES.items():
        rng = np.random.default_rng(0)
        images, digits = [], []
        for k in range(args.per_case):
            digit = k % 10
            if k // 10 % 2:
                glyph = glyph_from_mnist(test.images[np.flatnonzero(labels == digit)[k // 10]].numpy())
            else:
                glyph = glyph_from_font(str(digit), fonts[k // 10 % len(fonts)])
            images.append(make(glyph, rng))
            digits.append(digit)
        results = predictor.predict(images)
        right = [r for r, d in zip(results, digits) if not isinstance(r, DigitlabError) and r.digit == d]
        correct, flagged = len(right), sum(r.uncertain for r in right)
        refused = sum(isinstance(r, DigitlabError) for r in results)
        share = correct / len(images)
        if control is None:
            control, verdict = share, ""
        else:
            met = share >= control - args.max_gap
            missed += not met
            verdict = f"within {args.max_gap:.0%} of control: {'met' if met else 'MISSED'}"
        print(f"| {name} | {len(images)} | {share:.0%} | {flagged} | {refused} | {verdict} |")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
