"""Model weights and training state in safetensors files (no pickle), written atomically.

`model.safetensors` holds the weights plus, in its metadata, what is needed to rebuild the model
(arch, class names, input contract). `train_state.safetensors` adds the optimizer moments, the
random generators and the finished epoch count, so `--resume` continues exactly where a killed
run stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from digitlab import __version__
from digitlab.atomic import atomic_path
from digitlab.errors import DigitlabError
from digitlab.models import INPUT_CONTRACT, build_model

FORMAT = "digitlab-1"


def save_model(path: Path, model: nn.Module, arch: str, classes: tuple[str, ...],
               extra: dict[str, str] | None = None) -> None:
    """The weights, and in the metadata what rebuilding and running them needs; `extra` adds
    string entries (a calibration, a recipe, metrics)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {"format": FORMAT, "arch": arch, "classes": json.dumps(list(classes)),
                "digitlab_version": __version__, "input": INPUT_CONTRACT, **(extra or {})}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def read_metadata(path: Path) -> dict:
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except (OSError, SafetensorError) as exc:
        raise DigitlabError(f"{path} cannot be read as a safetensors model ({exc}).") from None
    if metadata.get("format") != FORMAT:
        raise DigitlabError(f"{path} is not a digitlab {FORMAT} model (format "
                            f"{metadata.get('format')!r}); retrain it with this version of digitlab.")
    return metadata


def load_model(path: Path) -> tuple[nn.Module, dict]:
    """Rebuild the model stored at `path`; returns it in eval mode with its metadata."""
    path = Path(path)
    if not path.is_file():
        raise DigitlabError(f"no model at {path}: train one with `digitlab train`.")
    metadata = read_metadata(path)
    classes = json.loads(metadata["classes"])
    model = build_model(metadata["arch"], num_classes=len(classes))
    try:
        model.load_state_dict(load_file(str(path)))
    except (RuntimeError, SafetensorError) as exc:
        raise DigitlabError(f"{path}: weights do not fit arch {metadata['arch']!r} ({str(exc)[:200]}).") from None
    metadata["classes"] = classes
    return model.eval(), metadata


def save_train_state(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                     generator: torch.Generator, epoch: int) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt_state = optimizer.state_dict()
    for index, state in opt_state["state"].items():
        for key, value in state.items():
            tensors[f"optimizer.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["rng.generator"] = generator.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    metadata = {"format": FORMAT, "epoch": str(epoch),
                "param_groups": json.dumps(opt_state["param_groups"])}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def load_train_state(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                     generator: torch.Generator) -> int:
    """Restore model, optimizer and generators from `path`; returns the finished epoch count."""
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise DigitlabError(f"{path} cannot be read ({exc}); start a new run instead of --resume.") from None
    device = next(model.parameters()).device
    model.load_state_dict({k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            # Adam keeps `step` on the CPU and the moments beside their parameters.
            state.setdefault(int(index), {})[name] = value if name == "step" else value.to(device)
    optimizer.load_state_dict({"state": state, "param_groups": json.loads(metadata["param_groups"])})
    generator.set_state(tensors["rng.generator"])
    torch.set_rng_state(tensors["rng.torch"])
    return int(metadata["epoch"])
