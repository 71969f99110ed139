"""Training benchmark: the lab's seed CNN and recipe vs the default model, on mnist-5k and Fashion-MNIST.

    python benchmarks/bench_training.py [--data mnist-5k fashion-mnist] [--fashion-epochs 24]
    python benchmarks/bench_training.py --processes 1 2 [--max-accuracy-gap 0.5]

Prints a table (test accuracy, training seconds, training and inference images/s) and writes
benchmarks/out/training.json. Targets: mnist-5k default >= 98.5% in <= 60 s; fashion-mnist
default >= 93.5% in <= 600 s (24 epochs, bfloat16 autocast on this AVX-512 BF16 CPU).

With --processes, the default model is trained instead by `digitlab train` (1 process) and by
`torchrun --standalone --nproc_per_node=N -m digitlab train` (N processes), the same command
otherwise, and the accuracy of each must be within --max-accuracy-gap percentage points of the
single process's; writes benchmarks/out/training-processes.json and exits 1 on a miss.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from digitlab.config import TrainConfig  # noqa: E402
from digitlab.datasets import load_dataset  # noqa: E402
from digitlab.predict import Predictor  # noqa: E402
from digitlab.training import fit  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


def inference_images_per_second(run_dir: Path, images: torch.Tensor) -> float:
    """The trained model's probabilities, as `digitlab evaluate` gets them (PyTorch, batch 1024)."""
    predictor = Predictor.load(run_dir)
    predictor.predict_proba(images[:1024].numpy())  # warm-up
    start = time.perf_counter()
    predictor.predict_proba(images.numpy(), batch_size=1024)
    return len(images) / (time.perf_counter() - start)


def train_with_processes(data: str, processes: int, options: list[str]) -> dict:
    """`digitlab train` by `processes` processes (torchrun for more than one) in a subprocess."""
    run_dir = OUT / "runs" / f"{data}-default-{processes}proc"
    shutil.rmtree(run_dir, ignore_errors=True)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] \
        if processes > 1 else [sys.executable]
    env = os.environ | {"PYTHONPATH": f"{OUT.parents[1] / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    started = time.perf_counter()
    result = subprocess.run([*launcher, "-m", "digitlab", "train", "--data", data, "--out", str(run_dir),
                             "--no-report", *options], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"training {data} with {processes} processes failed: {result.stderr[-2000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    return {"data": data, "processes": processes, "threads_each": config["threads"],
            "epochs": config["train"]["epochs"], "precision": config["train"]["precision"],
            "test_accuracy": metrics["test_accuracy"], "train_seconds": metrics["train_seconds"],
            "wall_seconds": wall}


def compare_processes(args: argparse.Namespace) -> int:
    rows = []
    for data in args.data:
        options = ["--epochs", str(args.fashion_epochs), "--batch-size", str(args.fashion_batch_size),
                   "--precision", args.fashion_precision] if data == "fashion-mnist" else []
        for processes in args.processes:
            rows.append(train_with_processes(data, processes, options))
            print(json.dumps(rows[-1]), flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "training-processes.json").write_text(json.dumps(rows, indent=2))
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print("| data | processes x threads | epochs | precision | test accuracy | training s | command s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['data']} | {r['processes']} x {r['threads_each'] or 'default'} | {r['epochs']} | "
              f"{r['precision']} | {r['test_accuracy']:.2%} | {r['train_seconds']:.1f} | {r['wall_seconds']:.1f} |")
    status = 0
    for r in rows:
        single = next((s for s in rows if s["data"] == r["data"] and s["processes"] == 1), None)
        if r["processes"] == 1 or single is None:
            continue
        gap = 100 * abs(r["test_accuracy"] - single["test_accuracy"])
        met = gap <= args.max_accuracy_gap
        print(f"{r['data']}: {r['processes']} processes within {args.max_accuracy_gap} points of 1 process "
              f"({gap:.2f}), {single['train_seconds'] / r['train_seconds']:.2f}x the speed: "
              f"{'met' if met else 'MISSED'}")
        status |= not met
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["mnist-5k", "fashion-mnist"])
    parser.add_argument("--fashion-epochs", type=int, default=24)
    parser.add_argument("--fashion-batch-size", type=int, default=128)
    parser.add_argument("--fashion-precision", default="bf16", help="bf16 needs a CPU with AVX-512 BF16 to pay")
    parser.add_argument("--processes", type=int, nargs="+", default=None,
                        help="compare the default model trained by these numbers of processes")
    parser.add_argument("--max-accuracy-gap", type=float, default=0.5,
                        help="percentage points between N processes' test accuracy and 1 process's")
    args = parser.parse_args()
    if args.processes:
        return compare_processes(args)
    rows = []
    for data in args.data:
        dataset = load_dataset(data)
        default = TrainConfig(data=data)
        if data == "fashion-mnist":
            default.epochs, default.batch_size = args.fashion_epochs, args.fashion_batch_size
            default.precision = args.fashion_precision
        for label, config in (("seed, lab recipe", TrainConfig.lab_recipe(data)), ("default", default)):
            run_dir = OUT / "runs" / f"{data}-{config.arch}"
            shutil.rmtree(run_dir, ignore_errors=True)
            result = fit(config, run_dir, dataset=dataset, report=False, log=lambda s: None)
            seconds = result.metrics["train_seconds"]
            rows.append({"data": data, "model": label, "epochs": config.epochs,
                         "test_accuracy": result.metrics["test_accuracy"], "train_seconds": seconds,
                         "train_images_per_s": len(dataset.train) * config.epochs / seconds,
                         "inference_images_per_s": inference_images_per_second(run_dir, dataset.test.images)})
            print(json.dumps(rows[-1]), flush=True)
    OUT.mkdir(exist_ok=True)
    machine = f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    (OUT / "training.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
    print(f"\nmachine: {machine}")
    print("| data | model | epochs | test accuracy | training s | train img/s | inference img/s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['data']} | {r['model']} | {r['epochs']} | {r['test_accuracy']:.2%} | {r['train_seconds']:.1f} | "
              f"{r['train_images_per_s']:.0f} | {r['inference_images_per_s']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
