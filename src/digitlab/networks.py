"""Trained networks from their files: where the shipped ones lie, and a network as a plain
function of its input batch, from PyTorch weights or an ONNX export alike."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np

from digitlab.errors import DigitlabError

SHIPPED_DIGITS = "digits.safetensors"  # the digit model in the package's weights/ folder
SHIPPED_LINES = "lines.safetensors"    # the line reader beside it
SHIPPED_SECOND_READER = "second-reader.safetensors"  # the line reader that checks it (`crosscheck`)


def shipped_model(name: str = SHIPPED_DIGITS) -> Path:
    """A model that ships inside the package (see `make models`)."""
    path = Path(str(resources.files("digitlab") / "weights" / name))
    if not path.is_file():
        raise DigitlabError(f"this installation of digitlab has no shipped model {name} (rebuild it with "
                            "`make models`); pass --model RUN_DIR or model.onnx instead.")
    return path


def metadata_number(value) -> float | None:
    """A number stored in a model's metadata (as text), or None when it is missing or no number."""
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def network_from_file(path: str | Path | None, shipped: str, flag: str, threads: int | None = None
                 ) -> tuple[Callable[[np.ndarray], np.ndarray], dict, dict]:
    """A network (a run directory, its model.safetensors or an .onnx export; None: the `shipped`
    file) as a function of its input batch (the line models': float32 `(N, 1, 32, W)`), its
    metadata (`stride` among it), and what `info` says of it. `threads`: an .onnx file's
    (`load_onnx_session`)."""
    path = Path(path) if path is not None else shipped_model(shipped)
    if not path.exists():
        raise DigitlabError(f"{flag} {path}: no such run directory or model file.")
    if path.suffix == ".onnx":
        from digitlab.export import load_onnx_session

        session, metadata = load_onnx_session(path, threads)
        input_name = session.get_inputs()[0].name

        def run_batch(batch: np.ndarray) -> np.ndarray:
            return session.run(None, {input_name: batch})[0]
        backend = "onnxruntime"
    else:
        import torch

        from digitlab.checkpoint import load_model

        weights = path / "model.safetensors" if path.is_dir() else path
        if path.is_dir() and not weights.is_file():
            raise DigitlabError(f"{path} has no model.safetensors: is it a digitlab run directory?")
        if weights.suffix != ".safetensors":
            raise DigitlabError(f"{flag} {path}: expected a run directory, a .safetensors or an .onnx file.")
        model, metadata = load_model(weights)
        metadata["stride"] = getattr(model, "stride", None)
        path = weights

        @torch.inference_mode()
        def run_batch(batch: np.ndarray) -> np.ndarray:
            return model(torch.from_numpy(batch)).float().numpy()
        backend = "pytorch"
    info = {"model": str(path), "arch": metadata.get("arch"), "backend": backend,
            "version": metadata.get("digitlab_version"),
            "test_accuracy": metadata_number(metadata.get("test_accuracy"))}
    return run_batch, metadata, info
