"""Training benchmark: the lab's seed CNN and recipe vs the default model, on mnist-5k and Fashion-MNIST.

    python benchmarks/bench_training.py [--data mnist-5k fashion-mnist] [--fashion-epochs 24]

Prints a table (test accuracy, training seconds, training and inference images/s) and writes
benchmarks/out/training.json. Targets: mnist-5k default >= 98.5% in <= 60 s; fashion-mnist
default >= 93.5% in <= 600 s (24 epochs, bfloat16 autocast on this AVX-512 BF16 CPU).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from digitlab.config import TrainConfig  # noqa: E402
from digitlab.datasets import load_dataset  # noqa: E402
from digitlab.evaluation import predict_probabilities  # noqa: E402
from digitlab.training import fit  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


def inference_images_per_second(run_dir: Path, images: torch.Tensor) -> float:
    from digitlab.checkpoint import load_model

    model, _ = load_model(run_dir / "model.safetensors")
    model = model.to(memory_format=torch.channels_last)
    predict_probabilities(model, images[:1024])  # warm-up
    start = time.perf_counter()
    predict_probabilities(model, images, batch_size=1024)
    return len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["mnist-5k", "fashion-mnist"])
    parser.add_argument("--fashion-epochs", type=int, default=24)
    parser.add_argument("--fashion-batch-size", type=int, default=128)
    parser.add_argument("--fashion-precision", default="bf16", help="bf16 needs a CPU with AVX-512 BF16 to pay")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
