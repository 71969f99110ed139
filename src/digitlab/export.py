"""ONNX export of a trained run, and loading an exported model without torch."""

from __future__ import annotations

import json
import os
from pathlib import Path

from digitlab.config import LINE_ARCHS, ORIENTATION_ARCHS
from digitlab.errors import DigitlabError

OPSET = 17
ONNX_FORMAT = "digitlab-onnx-2"  # 2: the graph takes uint8 images


# Model metadata that the ONNX file carries over, so onnxruntime answers as PyTorch does.
CARRIED = ("temperature", "temperature_short", "uncertain_below", "uncertain_below_asking", "recipe", "data")


def export_onnx(model_path: str | Path, out: str | Path) -> Path:
    """Write a model (a run directory or a .safetensors file) as ONNX with a dynamic batch
    dimension. A digit classifier's graph takes uint8 MNIST-form images, as
    `Predictor.predict_proba` does; the line reader's (and the orientation model's) takes line
    images of any width, as `Reader.line_probabilities` does. The class names, the arch, the
    calibration, the test accuracy and the input contract go into the model's metadata."""
    import onnx
    import torch

    from digitlab.atomic import atomic_path
    from digitlab.checkpoint import load_model
    from digitlab.models import FromPixels, input_contract
    from digitlab.runs import MODEL, read_metrics

    model_path, out = Path(model_path), Path(out)
    if out.suffix != ".onnx":
        raise DigitlabError(f"--onnx {out}: the file name should end in .onnx.")
    weights = model_path / MODEL if model_path.is_dir() else model_path
    model, metadata = load_model(weights)
    contract = input_contract(metadata["arch"])
    if metadata["arch"] in LINE_ARCHS + ORIENTATION_ARCHS:
        network, example = model.eval(), torch.zeros(1, 1, 32, 96)
        axes = {"image": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "frames"}}
        extra = {"stride": str(model.stride)}
    else:
        network, example = FromPixels(model).eval(), torch.zeros(1, 28, 28, dtype=torch.uint8)
        axes, extra = {"image": {0: "batch"}, "logits": {0: "batch"}}, {}
    metrics = read_metrics(model_path) if model_path.is_dir() else {}
    metrics = metrics or {"test_accuracy": metadata.get("test_accuracy", ""), "dataset": metadata.get("dataset", "")}
    with atomic_path(out) as tmp:
        torch.onnx.export(network, (example,), str(tmp), input_names=["image"], output_names=["logits"],
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)
        proto = onnx.load(str(tmp))
        entries = {"format": ONNX_FORMAT, "arch": metadata["arch"],
                   "classes": json.dumps(metadata["classes"]), "input": contract, **extra,
                   "output": "logits (N, C); softmax(logits / temperature) gives the class probabilities",
                   "digitlab_version": metadata.get("digitlab_version", ""),
                   "test_accuracy": str(metrics.get("test_accuracy", "")), "dataset": str(metrics.get("dataset", "")),
                   **{key: metadata[key] for key in CARRIED if key in metadata}}
        for key, value in entries.items():
            proto.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
    return out


def load_onnx_session(path: str | Path, threads: int | None = None):
    """An onnxruntime session for an exported digitlab model, with its metadata.

    `threads`: the session's intra-op threads; None follows OMP_NUM_THREADS, the setting by which
    PyTorch and this project's servers and pools give each process its share of the cores, and
    without it onnxruntime's default (one per core). The share matters: onnxruntime's threads spin
    while they wait, so two processes whose sessions each claim both cores of a 2-core machine read
    no faster than one (43 number images/s with two workers against 82 with one thread each)."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise DigitlabError(f"no ONNX model at {path}: create one with `digitlab export --onnx {path}`.")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is None:
        share = os.environ.get("OMP_NUM_THREADS", "")
        threads = int(share) if share.isdigit() else 0
    options.intra_op_num_threads = max(0, threads)
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise DigitlabError(f"{path} cannot be loaded as an ONNX model ({str(exc)[:160]}).") from None
    metadata = session.get_modelmeta().custom_metadata_map
    if metadata.get("format") != ONNX_FORMAT:
        raise DigitlabError(f"{path} is not an ONNX model exported by this version of digitlab (format "
                            f"{metadata.get('format')!r}); export it again with `digitlab export --onnx`.")
    check_metadata(path, metadata)
    return session, metadata


def check_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Refuse an exported model whose metadata was damaged or edited: `classes` must be a JSON list
    of names and `test_accuracy` empty or a number."""
    try:
        classes = json.loads(metadata.get("classes", ""))
    except ValueError:
        classes = None
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise DigitlabError(f"{path}: the model's metadata has no valid class names ('classes' should be a JSON "
                            "list of names); export it again with `digitlab export`.")
    accuracy = metadata.get("test_accuracy", "")
    try:
        float(accuracy or 0)
    except ValueError:
        raise DigitlabError(f"{path}: the model's metadata gives test_accuracy {accuracy[:40]!r}, not a number; "
                            "export it again with `digitlab export`.") from None
