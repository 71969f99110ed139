"""ONNX export of a trained run, and loading an exported model without torch."""

from __future__ import annotations

import json
from pathlib import Path

from digitlab.errors import DigitlabError

OPSET = 17


def export_onnx(run_dir: str | Path, out: str | Path) -> Path:
    """Write the run's model as ONNX with a dynamic batch dimension; the class names, the arch,
    the test accuracy and the preprocessing contract go into the model's metadata."""
    import onnx
    import torch

    from digitlab.atomic import atomic_path
    from digitlab.checkpoint import INPUT_CONTRACT, load_model
    from digitlab.runs import MODEL, read_metrics

    run_dir, out = Path(run_dir), Path(out)
    if out.suffix != ".onnx":
        raise DigitlabError(f"--onnx {out}: the file name should end in .onnx.")
    model, metadata = load_model(run_dir / MODEL)
    example = torch.zeros(1, 1, 28, 28)
    metrics = read_metrics(run_dir)
    with atomic_path(out) as tmp:
        torch.onnx.export(model, (example,), str(tmp), input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=OPSET,
                          dynamo=False)
        proto = onnx.load(str(tmp))
        entries = {"format": "digitlab-onnx-1", "arch": metadata["arch"],
                   "classes": json.dumps(metadata["classes"]), "input": INPUT_CONTRACT,
                   "output": "logits (N, C); softmax gives the class probabilities",
                   "preprocessing": "digitlab.preprocessing.normalize_scan (photo -> MNIST-form 28x28), "
                                    "then uint8 / 255",
                   "digitlab_version": metadata.get("digitlab_version", ""),
                   "test_accuracy": str(metrics.get("test_accuracy", "")), "dataset": str(metrics.get("dataset", ""))}
        for key, value in entries.items():
            proto.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
    return out


def load_onnx_session(path: str | Path):
    """An onnxruntime session for an exported digitlab model, with its metadata."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise DigitlabError(f"no ONNX model at {path}: create one with `digitlab export --onnx {path}`.")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise DigitlabError(f"{path} cannot be loaded as an ONNX model ({str(exc)[:160]}).") from None
    metadata = session.get_modelmeta().custom_metadata_map
    if metadata.get("format") != "digitlab-onnx-1":
        raise DigitlabError(f"{path} is not an ONNX model exported by digitlab (no digitlab metadata).")
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
