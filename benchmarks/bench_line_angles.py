"""Line-angle benchmark: how far from the writing's true direction `read` finds the line of a
number, on numbers drawn at known angles. A line found off its direction is straightened askew
for the line reader, and one far off splits into lines of a digit or two.

    python benchmarks/bench_line_angles.py --split locked [--n 250]

Numbers are drawn as bench_reading.py draws them (its faces, MNIST digits and photo style), on
paper turned by a known angle: -6..6 degrees for ordinary, leaning (italic, 0.3-0.8), joined
(cursive), set whole by a face, and hollow numbers; 15-45 degrees either way for slanted ones.
Prints, per row, the mean angle error (each capped at 30 degrees), the share of lines over 4 and
over 7 degrees off, and the share found as more than one line (or none). No targets: the
measure guides the line finder (`digitlab/linefinding.py`); its settings are chosen with
`--split val` only.
"""

from __future__ import annotations

import argparse
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.bench_reading import (  # noqa: E402
    handwriting_fonts,
    number_glyph,
    number_scan,
    random_number,
    test_digits,
    validation_split,
)
from digitlab.errors import DigitlabError  # noqa: E402
from digitlab.ink import find_ink  # noqa: E402
from digitlab.linefinding import find_lines  # noqa: E402
from digitlab.reading import READ_SIDE  # noqa: E402

KINDS = ("plain", "leaning", "joined", "set", "hollow", "slanted")
_SOURCES: dict = {}  # each worker's faces and digits, loaded once


def sources(split: str) -> tuple[list[Path], tuple[np.ndarray, np.ndarray]]:
    if split not in _SOURCES:
        _SOURCES[split] = validation_split() if split == "val" else (handwriting_fonts(split), test_digits())
    return _SOURCES[split]


def angle_error(job: tuple[str, str, int, int]) -> float | None:
    """Degrees between the line found in case `i` of row `kind` and the writing's direction;
    None when it was found as more than one line, or none."""
    split, kind, i, seed = job
    fonts, mnist = sources(split)
    rng = np.random.default_rng([seed, KINDS.index(kind), i])
    text = random_number(rng)
    glyph = number_glyph("plain" if kind == "slanted" else kind, text, i, fonts, mnist, rng)
    # The paper turned counterclockwise by `turn` degrees: the writing runs at -turn in the
    # image's coordinates (y down), as `TextLine.angle` measures it.
    turn = float(rng.uniform(15, 45) * rng.choice([-1, 1]) if kind == "slanted" else rng.uniform(-6, 6))
    scan = number_scan(glyph, rng, angle=turn)
    try:
        lines = find_lines(find_ink(scan, work_side=READ_SIDE))
    except DigitlabError:
        return None
    return abs(math.degrees(lines[0].angle) + turn) if len(lines) == 1 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "locked", "val"), required=True)
    parser.add_argument("--n", type=int, default=250, help="numbers per row")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    jobs = [(args.split, kind, i, args.seed) for kind in KINDS for i in range(args.n)]
    with ProcessPoolExecutor(2) as pool:
        errors = list(pool.map(angle_error, jobs, chunksize=8))
    print(f"| row ({args.split}, {args.n} each) | mean error (degrees) | over 4 degrees | over 7 degrees | "
          "not one line |\n|---|---|---|---|---|")
    for kind in (*KINDS, "all"):
        found = [e for (_, k, _, _), e in zip(jobs, errors) if kind in (k, "all")]
        off = np.array([30.0 if e is None else min(e, 30.0) for e in found])
        print(f"| {kind} | {off.mean():.2f} | {np.mean(off > 4):.1%} | {np.mean(off > 7):.1%} | "
              f"{np.mean([e is None for e in found]):.1%} |")


if __name__ == "__main__":
    main()
