"""Streaming `digitlab predict DIR`: time to the first answer, images/s and peak memory over many files.

    python benchmarks/bench_predict_stream.py --model RUN_DIR_OR_ONNX [--counts 1000 10000]
        [--max-first-s 1.0] [--min-images-per-s 0] [--max-memory-growth-mb 50] [--src SRC_DIR]

Writes N small JPEG scans (real mnist-5k test digits drawn on paper by tests/scanmaker.py, 200x200,
named INDEX-LABEL.jpg) into benchmarks/out/ once, then runs `digitlab predict --json DIR` as a
subprocess for each count and measures: seconds from start to the first JSON line, images/s over
the whole run, accuracy against the labels, and peak memory — the proportional set size of the
process tree (the CLI and its preprocessing workers) summed, sampled every 20 ms from /proc. Memory is
flat when the peak over the largest count is within --max-memory-growth-mb of the smallest's.
`--src` runs another source tree (e.g. an older digitlab, for a before/after comparison).
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.common import tree_pss_mb  # noqa: E402

sys.path.insert(0, str(REPO / "src"))
OUT = Path(__file__).resolve().parent / "out"


def write_scans(folder: Path, start: int, stop: int, side: int) -> None:
    from digitlab.datasets import load_dataset
    from tests.scanmaker import draw_scan, glyph_from_mnist, random_style

    test = load_dataset("mnist-5k").test
    for i in range(start, stop):
        rng = np.random.default_rng(i)
        k = i % len(test)
        style = random_style(rng)
        style.side, style.jpeg_quality = side, None  # saved as JPEG below, once
        style.fill = float(rng.uniform(0.4, 0.8))  # a 200 px scan with a tiny digit is not a fair question
        image = draw_scan(glyph_from_mnist(test.images[k].numpy()), style, rng)
        image.save(folder / f"{i:05d}-{int(test.labels[k])}.jpg", "JPEG", quality=85)


def scans(count: int, side: int) -> Path:
    """A folder of `count` scans, made once (in parallel) and reused."""
    folder = OUT / f"predict-stream-{side}px-{count}"
    if folder.is_dir() and len(list(folder.glob("*.jpg"))) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    starts = range(0, count, 250)
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(write_scans, [folder] * len(starts), starts, [min(count, s + 250) for s in starts],
                      [side] * len(starts)))
    return folder


def run_predict(model: str, folder: Path, src: Path) -> dict:
    env = os.environ | {"PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "digitlab", "predict", "--model", model, "--json", str(folder)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], tree_pss_mb(process.pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    first, lines = None, 0
    correct = 0
    for line in process.stdout:
        if first is None:
            first = time.perf_counter() - started
        record = json.loads(line)
        correct += record["digit"] == int(Path(record["path"]).stem.split("-")[1])
        lines += 1
    errors = process.stderr.read()
    process.wait()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return {"files": len(list(folder.glob("*.jpg"))), "answers": lines, "refused": errors.count("\n"),
            "returncode": process.returncode, "first_answer_s": first, "seconds": seconds,
            "images_per_s": lines / seconds, "accuracy": correct / max(1, lines), "peak_tree_pss_mb": peak[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="run directory or .onnx file")
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--side", type=int, default=200, help="scan size in pixels")
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the digitlab source tree to run")
    parser.add_argument("--max-first-s", type=float, default=1.0, help="target: first answer within this")
    parser.add_argument("--min-images-per-s", type=float, default=0.0)
    parser.add_argument("--max-memory-growth-mb", type=float, default=50.0,
                        help="target: peak memory of the largest count over the smallest's")
    args = parser.parse_args()
    rows = []
    for count in args.counts:
        folder = scans(count, args.side)
        rows.append({"count": count} | run_predict(args.model, folder, args.src.resolve()))
        print(json.dumps(rows[-1]), flush=True)
    print(f"\nmodel {args.model}, source {args.src}, {os.cpu_count()} cores")
    print("| files | answered | refused | first answer s | total s | images/s | accuracy | peak PSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['files']:,} | {r['answers']:,} | {r['refused']} | {r['first_answer_s']:.2f} | "
              f"{r['seconds']:.1f} | {r['images_per_s']:.0f} | {r['accuracy']:.1%} | {r['peak_tree_pss_mb']:.0f} |")
    growth = rows[-1]["peak_tree_pss_mb"] - rows[0]["peak_tree_pss_mb"]
    targets = [
        (f"first answer within {args.max_first_s} s", max(r["first_answer_s"] for r in rows) <= args.max_first_s),
        (f"at least {args.min_images_per_s:.0f} images/s",
         min(r["images_per_s"] for r in rows) >= args.min_images_per_s),
        (f"peak memory grows at most {args.max_memory_growth_mb:.0f} MB from {rows[0]['count']:,} to "
         f"{rows[-1]['count']:,} files (grew {growth:.0f} MB)", growth <= args.max_memory_growth_mb),
        ("every file answered or refused", all(r["answers"] + r["refused"] == r["files"] for r in rows)),
    ]
    for text, met in targets:
        print(f"{text}: {'met' if met else 'MISSED'}")
    return 0 if all(met for _, met in targets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
