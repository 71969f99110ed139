"""A run directory: the one place that knows its files, how they are written and their errors.

    config.json              every setting (`TrainConfig`), the data set, versions, device
    train_state.safetensors  the checkpoint: weights, optimizer, random generators, finished
                             epochs and every history row, in one atomic write per epoch
    model.safetensors        the trained weights, for prediction and export
    history.csv              the history rows as a table
    metrics.json             test metrics, written when training ends
    report/                  plots and the HTML report

`train_state.safetensors` is the run's single commit point. Each epoch it is written first, then
`model.safetensors` and `history.csv` are written from the same values. A run killed anywhere is
either before the commit (the epoch is lost and will be trained again) or after it (the other two
files may lag by one epoch, and resuming writes them again from the state). So no history row is
ever lost, and the temporary files a kill leaves behind are cleared on resume.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

from digitlab.atomic import remove_leftovers, write_text
from digitlab.config import TrainConfig
from digitlab.errors import DigitlabError

if TYPE_CHECKING:  # the ONNX prediction path imports this module and must not import torch
    import torch
    from torch import nn

CONFIG = "config.json"
TRAIN_STATE = "train_state.safetensors"
MODEL = "model.safetensors"
HISTORY = "history.csv"
METRICS = "metrics.json"
REPORT = "report"
HISTORY_FIELDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")


# ---------------------------------------------------------------- starting and resuming


def refuse_to_overwrite(run_dir: Path) -> None:
    if (run_dir / TRAIN_STATE).exists() or (run_dir / MODEL).exists():
        raise DigitlabError(f"{run_dir} already holds a run: pass --resume to continue it, or choose "
                            "another --out.")


def config_to_resume(run_dir: Path) -> TrainConfig:
    if not (run_dir / TRAIN_STATE).is_file():
        raise DigitlabError(f"nothing to resume in {run_dir}: it has no {TRAIN_STATE}.")
    return TrainConfig.from_run(run_dir)


def refuse_changed_settings(run_dir: Path, given: dict) -> None:
    """`--resume` continues a run with the settings it was started with; options that would change
    them are an error rather than silently ignored. (More epochs for a finished run would also
    change its learning-rate schedule, so the result would match neither run.)"""
    saved = config_to_resume(run_dir)
    changed = {key: value for key, value in given.items() if getattr(saved, key, value) != value}
    if changed:
        wanted = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in changed.items())
        has = ", ".join(f"--{k.replace('_', '-')} {getattr(saved, k)}" for k in changed)
        raise DigitlabError(f"{run_dir} was started with {has}; --resume continues a run with its own settings, "
                            f"so {wanted} cannot apply: start a new run with another --out instead.")


def start(run_dir: Path, info: dict) -> None:
    """Create the run directory with its config.json (clearing what an attempt killed before its
    first checkpoint left behind)."""
    remove_leftovers(run_dir)
    write_text(run_dir / CONFIG, json.dumps(info, indent=2) + "\n")


def save_checkpoint(run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    generator: torch.Generator, epoch: int, history: list[dict], arch: str,
                    classes: tuple[str, ...], averaged: nn.Module | None = None) -> None:
    """Commit `epoch`: the training state first (the commit point), then the files derived from it."""
    from digitlab.checkpoint import save_model, save_train_state

    save_train_state(run_dir / TRAIN_STATE, model, optimizer, generator, epoch, history, averaged)
    save_model(run_dir / MODEL, model, arch, classes)
    write_history(run_dir, history)


def restore_checkpoint(run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                       generator: torch.Generator, arch: str, classes: tuple[str, ...],
                       write: bool = True, averaged: nn.Module | None = None) -> tuple[int, list[dict]]:
    """Load the last committed epoch into `model`, `optimizer`, `generator` (and `averaged`, the
    running average of the weights, when the run keeps one); returns the finished
    epoch count and the history rows. With `write` (the process that writes the run: all but
    torchrun's other ranks), files a kill left behind (temporary files, a model or history one
    epoch behind the state) are cleared or written again first."""
    from digitlab.checkpoint import load_train_state, save_model

    if write:
        remove_leftovers(run_dir)
        remove_leftovers(run_dir / REPORT)
    epoch, history = load_train_state(run_dir / TRAIN_STATE, model, optimizer, generator, averaged)
    if history is None:  # a state written before it kept the history: history.csv is all there is
        history = [row for row in read_history(run_dir) if row["epoch"] <= epoch]
    if write:
        save_model(run_dir / MODEL, model, arch, classes)
        write_history(run_dir, history)
    return epoch, history


# ---------------------------------------------------------------- history and metrics


def read_history(run_dir: Path) -> list[dict]:
    path = run_dir / HISTORY
    if not path.is_file():
        return []
    try:
        with open(path, newline="") as f:
            return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()} for row in csv.DictReader(f)]
    except (OSError, ValueError, TypeError) as exc:
        raise DigitlabError(f"{path} is damaged ({exc}); `digitlab train --resume` writes it again.") from None


def write_history(run_dir: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(run_dir / HISTORY, buffer.getvalue())


def save_trained(run_dir: Path, model: nn.Module, arch: str, classes: tuple[str, ...], model_info: dict[str, str],
                 metrics: dict) -> None:
    """The end of a run: the model again, with what it is and how well it did in its metadata
    (so the file says so wherever it is copied), then metrics.json."""
    from digitlab.checkpoint import save_model

    save_model(run_dir / MODEL, model, arch, classes, extra=model_info)
    write_metrics(run_dir, metrics)


def write_metrics(folder: Path, metrics: dict) -> None:
    write_text(folder / METRICS, json.dumps(metrics, indent=2) + "\n")


def read_metrics(run_dir: Path) -> dict:
    """metrics.json of a run, or {} when training has not finished."""
    path = run_dir / METRICS
    if not path.is_file():
        return {}
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DigitlabError(f"{path} is damaged ({exc}); `digitlab evaluate {run_dir}` writes it again.") from None
    if not isinstance(metrics, dict):
        raise DigitlabError(f"{path} is damaged (not a JSON object); `digitlab evaluate {run_dir}` writes it again.")
    return metrics
