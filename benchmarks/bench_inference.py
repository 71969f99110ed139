"""Inference throughput: PyTorch vs onnxruntime, seed, default and wide archs, batch 1 / 64 / 1024.

    python benchmarks/bench_inference.py [--seconds 3]

Also counts each model's FLOPs per image (as direct convolution) and compares the FLOP/s reached
with a measured ceiling, a large fp32 matrix multiply. A nominal peak from cores x clock x vector
width is not given: CPU flags do not say how wide the FMA pipes really are nor how far the clock
turbos. The ceiling is only what torch's matrix multiply reaches: a runtime with better kernels for
the CPU, or a fast convolution algorithm (fewer multiplies than the direct count), can pass 100%.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from digitlab.checkpoint import save_model  # noqa: E402
from digitlab.export import export_onnx, load_onnx_session  # noqa: E402
from digitlab.models import build_model, to_model_input  # noqa: E402


def flops_per_image(model: nn.Module) -> int:
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            total += 2 * output.numel() * k
        elif isinstance(module, nn.Linear):
            total += 2 * module.in_features * module.out_features * output.shape[0]

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 1, 28, 28))
    for h in hooks:
        h.remove()
    return total


def measured_gemm_flops(seconds: float) -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        n += 1
    return n * 2 * 2048 ** 3 / (time.perf_counter() - start)


def rate(fn, batch: int, seconds: float) -> float:
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--min-gemm-share", type=float, default=0.5,
                        help="target: the wide and default archs on onnxruntime reach this share of a fp32 GEMM")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    gemm = measured_gemm_flops(args.seconds)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ("seed", "default", "wide"):
            model = build_model(arch, 11 if arch == "wide" else 10).eval()
            run_dir = Path(tmp) / arch
            classes = tuple(str(d) for d in range(10)) + (("not a digit",) if arch == "wide" else ())
            save_model(run_dir / "model.safetensors", model, arch, classes)
            session, _ = load_onnx_session(export_onnx(run_dir, run_dir / "model.onnx"))
            flops = flops_per_image(model)
            torch_model = model.to(memory_format=torch.channels_last)
            for batch in (1, 64, 1024):
                # uint8 MNIST-form images: the contract of the exported graph (it scales them itself).
                x = np.random.randint(0, 256, (batch, 28, 28), dtype=np.uint8)
                xt = to_model_input(torch.from_numpy(x))

                def run_torch(xt=xt, model=torch_model):
                    with torch.inference_mode():
                        model(xt)

                def run_onnx(x=x, session=session):
                    session.run(None, {"image": x})

                for backend, fn in (("pytorch", run_torch), ("onnxruntime", run_onnx)):
                    per_s = rate(fn, batch, args.seconds)
                    rows.append({"arch": arch, "backend": backend, "batch": batch, "images_per_s": per_s,
                                 "mflops_per_image": flops / 1e6, "gflops_per_s": per_s * flops / 1e9})
                    print(json.dumps(rows[-1]), flush=True)
    print(f"\n{cores} cores; measured fp32 GEMM {gemm / 1e9:.0f} GFLOP/s; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| arch | MFLOP/image | backend | batch 1 img/s | batch 64 img/s | batch 1024 img/s | best GFLOP/s "
          "| % of GEMM |")
    print("|---|---|---|---|---|---|---|---|")
    missed = 0
    for arch in ("seed", "default", "wide"):
        for backend in ("pytorch", "onnxruntime"):
            sel = [r for r in rows if r["arch"] == arch and r["backend"] == backend]
            best = max(r["gflops_per_s"] for r in sel) * 1e9
            verdict = ""
            if arch != "seed" and backend == "onnxruntime":  # the seed CNN is too small to be compute-bound
                met = best / gemm >= args.min_gemm_share
                missed += not met
                verdict = f" (>= {args.min_gemm_share:.0%} of GEMM: {'met' if met else 'MISSED'})"
            print(f"| {arch} | {sel[0]['mflops_per_image']:.2f} | {backend} | "
                  + " | ".join(f"{r['images_per_s']:.0f}" for r in sel)
                  + f" | {best / 1e9:.1f} | {best / gemm:.0%}{verdict} |")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
