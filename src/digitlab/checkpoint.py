"""Model weights and training state in safetensors files (no pickle), written atomically.

`model.safetensors` holds the weights plus, in its metadata, what is needed to rebuild the model
(arch, class names, input contract) and a SHA-256 checksum of the weights. `train_state.safetensors`
adds the optimizer moments, the random generators, the finished epoch count and the history rows,
so `--resume` continues exactly where a killed run stopped; it is a run's commit point (see
`runs.py`). Both checksums are checked on load: a flipped byte is an error, not a quietly wrong
model. Files saved before the checksum existed still load.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from digitlab import __version__
from digitlab.atomic import atomic_path
from digitlab.errors import DigitlabError, reason
from digitlab.models import build_model, input_contract

FORMAT = "digitlab-1"


def weights_checksum(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the tensors' names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    metadata = metadata | {"weights_sha256": weights_checksum(tensors)}
    with atomic_path(path) as tmp:
        try:
            save_file(tensors, str(tmp), metadata=metadata)
        except SafetensorError as exc:  # safetensors writes from Rust: a full disk arrives as this
            raise DigitlabError(f"cannot write {path} ({str(exc)[:160]}): check that the disk has room and "
                                "the folder is writable.") from None


def read_safetensors(path: Path, what: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of `path`, checked against the stored checksum where there is one."""
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise DigitlabError(f"{path} cannot be read as {what} ({str(exc)[:160]}).") from None
    if metadata.get("format") != FORMAT:
        raise DigitlabError(f"{path} is not a digitlab {FORMAT} file (format {metadata.get('format')!r}); "
                            "retrain with this version of digitlab.")
    stored = metadata.get("weights_sha256")
    if stored is not None and stored != weights_checksum(tensors):
        raise DigitlabError(f"{path}: the weights are corrupt (their checksum does not match); restore the file "
                            "from a copy or retrain.")
    return tensors, metadata


def save_model(path: Path, model: nn.Module, arch: str, classes: tuple[str, ...],
               extra: dict[str, str] | None = None) -> None:
    """The weights, and in the metadata what rebuilding and running them needs; `extra` adds
    string entries (a calibration, a recipe, metrics)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {"format": FORMAT, "arch": arch, "classes": json.dumps(list(classes)),
                "digitlab_version": __version__, "input": input_contract(arch), **(extra or {})}
    write_safetensors(path, tensors, metadata)


def parse_classes(path: Path | str, text: str | None) -> list[str]:
    """The class names stored in a model's metadata (a JSON list of strings)."""
    try:
        classes = json.loads(text) if text is not None else None
    except ValueError:
        classes = None
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise DigitlabError(f"{path}: the model's metadata has no valid class names ('classes' should be a "
                            "JSON list of names); export or retrain it with digitlab.")
    return classes


def load_model(path: Path) -> tuple[nn.Module, dict]:
    """Rebuild the model stored at `path`; returns it in eval mode with its metadata."""
    path = Path(path)
    if not path.is_file():
        raise DigitlabError(f"no model at {path}: train one with `digitlab train`.")
    tensors, metadata = read_safetensors(path, "a safetensors model")
    classes = parse_classes(path, metadata.get("classes"))
    if "arch" not in metadata:
        raise DigitlabError(f"{path}: the model's metadata does not say its arch; retrain it with digitlab.")
    if not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
        raise DigitlabError(f"{path}: the weights hold NaN or infinite values (did training diverge?); "
                            "retrain, perhaps with a lower --lr.")
    model = build_model(metadata["arch"], num_classes=len(classes))
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        raise DigitlabError(f"{path}: weights do not fit arch {metadata['arch']!r} ({one_line(exc)}).") from None
    metadata["classes"] = classes
    return model.eval(), metadata


def one_line(exc: Exception, most: int = 200) -> str:
    """The start of a (torch) error's message on one line: its own runs over many."""
    return " ".join(str(exc).split())[:most]


def start_from(model: nn.Module, path: Path) -> None:
    """Give `model` the weights of the model stored at `path` (a run directory or its
    model.safetensors): the same parameters, names and shapes, whatever its arch."""
    path = Path(path)
    path = path / "model.safetensors" if path.is_dir() else path
    source, _ = load_model(path)  # its checksum, arch and finite weights checked as for any model
    try:
        model.load_state_dict(source.state_dict())
    except RuntimeError as exc:
        raise DigitlabError(f"{path}: its weights do not fit this run's arch ({one_line(exc)}).") from None


def save_train_state(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                     generator: torch.Generator, epoch: int, history: list[dict],
                     averaged: nn.Module | None = None) -> None:
    """Everything `--resume` needs after `epoch`, history rows included (and the running average of
    the weights, when the run keeps one), in one atomic write."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if averaged is not None:
        tensors |= {f"average.{k}": v.detach().cpu().contiguous() for k, v in averaged.state_dict().items()}
    opt_state = optimizer.state_dict()
    for index, state in opt_state["state"].items():
        for key, value in state.items():
            tensors[f"optimizer.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["rng.generator"] = generator.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    metadata = {"format": FORMAT, "epoch": str(epoch), "param_groups": json.dumps(opt_state["param_groups"]),
                "history": json.dumps(history)}
    write_safetensors(path, tensors, metadata)


def load_train_state(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                     generator: torch.Generator, averaged: nn.Module | None = None) -> tuple[int, list[dict] | None]:
    """Restore model, optimizer, generators (and `averaged`, the running average of the weights)
    from `path`; returns the finished epoch count and the history rows (None for a state saved
    before they were kept in it)."""
    tensors, metadata = read_safetensors(path, "a training state (start a new run instead of --resume)")
    device = next(model.parameters()).device
    # Whatever does not fit (a key missing, weights of another shape, another optimizer's state) is
    # one line about the file, never a traceback.
    try:
        epoch = int(metadata["epoch"])
        param_groups = json.loads(metadata["param_groups"])
        history = json.loads(metadata["history"]) if "history" in metadata else None
        model.load_state_dict({k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")})
        if averaged is not None:
            averaged.load_state_dict({k.removeprefix("average."): v.to(device) for k, v in tensors.items()
                                      if k.startswith("average.")})
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optimizer."):
                _, index, name = key.split(".", 2)
                # Adam keeps `step` on the CPU and the moments beside their parameters.
                state.setdefault(int(index), {})[name] = value if name == "step" else value.to(device)
        optimizer.load_state_dict({"state": state, "param_groups": param_groups})
        generator.set_state(tensors["rng.generator"])
        torch.set_rng_state(tensors["rng.torch"])
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise DigitlabError(f"{path}: damaged training state ({reason(exc)}); start a new run instead of "
                            "--resume.") from None
    return epoch, history
