"""Training the orientation model through `fit`: the line reader's generated lines (`textlines`,
afresh each epoch), each shown upright or turned by 180 degrees; its loss is cross-entropy on the
mean of the columns' logits, its measure the lines whose way up it tells right.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from digitlab.calibration import fit_temperature
from digitlab.config import TrainConfig
from digitlab.linetask import LineLoader, loader_workers, split_sources
from digitlab.models import LineOrientation, build_model
from digitlab.orientation import SHORT_LINE, line_log_odds
from digitlab.reading import LINE_HEIGHT
from digitlab.textlines import LineBatches, fixed_lines

TURN_CLASSES = ("upright", "turned")
VAL_LINES, TEST_LINES = 400, 600  # each shown both ways up
STRIDE = LineOrientation.stride


@dataclass
class TurnTargets:
    """A batch's answers (0 upright, 1 turned) and each line's columns of output (the rest of
    its row is padding)."""

    classes: torch.Tensor
    frames: torch.Tensor

    def to(self, device) -> TurnTargets:
        return TurnTargets(self.classes.to(device), self.frames.to(device))

    def __len__(self) -> int:
        return len(self.classes)


def turn_batch(images: list[np.ndarray], turned: list[bool]) -> tuple[torch.Tensor, TurnTargets]:
    """Line images, each turned by 180 degrees where asked, padded (black) to one width."""
    width = int(math.ceil(max(image.shape[1] for image in images) / STRIDE) * STRIDE)
    batch = np.zeros((len(images), 1, LINE_HEIGHT, width), dtype=np.float32)
    for i, (image, turn) in enumerate(zip(images, turned)):
        batch[i, 0, :, :image.shape[1]] = image[::-1, ::-1] if turn else image
    frames = torch.tensor([int(math.ceil(image.shape[1] / STRIDE)) for image in images], dtype=torch.long)
    return torch.from_numpy(batch), TurnTargets(torch.tensor(turned, dtype=torch.long), frames)


def line_logits(output: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """The mean of each line's columns' logits `(N, T, 2)` over its own columns: `(N, 2)`."""
    mask = (torch.arange(output.shape[1], device=output.device)[None, :] < frames[:, None]).to(output.dtype)
    return (output * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)


def turn_loss(output: torch.Tensor, target: TurnTargets) -> torch.Tensor:
    return F.cross_entropy(line_logits(output.float(), target.frames), target.classes)


def turns_told(output: torch.Tensor, target: TurnTargets) -> int:
    return int((line_logits(output.detach().float(), target.frames).argmax(1) == target.classes).sum().item())


class TurnBatches(LineBatches):
    """The line reader's generated batches (`textlines.LineBatches`), each line turned by 180
    degrees or not at random; like the lines, the turns depend only on (seed, epoch, batch)."""

    def batch(self, b: int) -> tuple[torch.Tensor, TurnTargets]:
        lines = self.lines(b)
        rng = np.random.default_rng([self.seed, self.epoch, b, 180])
        return turn_batch([image for image, _ in lines], [bool(t) for t in rng.random(len(lines)) < 0.5])


def both_ways(lines: list[tuple[np.ndarray, str]]) -> tuple[list[np.ndarray], list[bool], list[str]]:
    """Every line upright and turned: images (as found, before turning), turns, texts."""
    return ([image for image, _ in lines for _ in (0, 1)], [False, True] * len(lines),
            [text for _, text in lines for _ in (0, 1)])


@torch.no_grad()
def log_odds_of(model: nn.Module, device: torch.device, images: list[np.ndarray], turned: list[bool]) -> np.ndarray:
    """Each line's log-odds of being turned, as `Orientation.turned_log_odds` computes them."""
    model.eval()
    out = np.zeros(len(images))
    for i, (image, turn) in enumerate(zip(images, turned)):
        batch, _ = turn_batch([image], [turn])
        out[i] = line_log_odds(model(batch.to(device)).float()[0].cpu().numpy())
    return out


def calibrate_orientation(odds: np.ndarray, turned: list[bool], texts: list[str]) -> dict[str, float]:
    """Temperatures (Guo et al., 2017) for the log-odds of lines of SHORT_LINE digits or fewer and
    of longer ones, fitted on the validation lines. The two differ: a short line shows few shapes,
    and the model is surer of it than it should be (its own validation lines: 85% told right)."""
    short = np.array([len(text) <= SHORT_LINE for text in texts])
    labels = np.array(turned, dtype=int)

    def fit(chosen: np.ndarray) -> float:
        return fit_temperature(np.stack([np.zeros(int(chosen.sum())), odds[chosen]], axis=1), labels[chosen])

    return {"temperature": fit(~short), "temperature_short": fit(short)}


def orientation_task(config: TrainConfig, device: torch.device) -> dict:
    """The pieces of `training.Task` for the orientation model."""
    train_sources, val_sources, test_sources = split_sources(config.data)
    model = build_model(config.arch, len(TURN_CLASSES)).to(device, memory_format=torch.channels_last)
    train_loader = LineLoader(TurnBatches(train_sources, config.steps_per_epoch, config.batch_size, config.seed,
                                          STRIDE), loader_workers(device))
    val = both_ways(fixed_lines(val_sources, VAL_LINES, 1))
    test = both_ways(fixed_lines(test_sources, TEST_LINES, 2))
    test_loader = [turn_batch(test[0][i:i + 100], test[1][i:i + 100]) for i in range(0, len(test[0]), 100)]

    def finish(model: nn.Module, history: list[dict], run_dir: Path, report: bool,
               log: Callable[[str], None]) -> tuple[dict, dict]:
        metrics: dict = {"n_train_lines_per_epoch": config.steps_per_epoch * config.batch_size,
                         "train_seconds": round(sum(row["seconds"] for row in history), 2), "dataset": config.data,
                         "arch": config.arch, "n_test": len(test[0]),
                         "test_loss": history[-1]["val_loss"] if history else 0.0}
        odds = {}
        for name, (images, turned, texts) in (("val", val), ("test", test)):
            odds[name] = log_odds_of(model, device, images, turned)
            told = (odds[name] > 0) == np.array(turned)
            short = np.array([len(text) <= SHORT_LINE for text in texts])
            metrics |= {f"{name}_accuracy": float(told.mean()),
                        f"{name}_upright_kept": float(told[~np.array(turned)].mean()),
                        f"{name}_turned_found": float(told[np.array(turned)].mean()),
                        f"{name}_accuracy_1_2_digits": float(told[short].mean()),
                        f"{name}_accuracy_3_digits_or_more": float(told[~short].mean())}
        calibration = calibrate_orientation(odds["val"], val[1], val[2])
        metrics |= calibration
        log(f"way up told right: test lines {metrics['test_accuracy']:.4f} (1-2 digits "
            f"{metrics['test_accuracy_1_2_digits']:.4f}, 3 or more {metrics['test_accuracy_3_digits_or_more']:.4f}), "
            f"validation lines {metrics['val_accuracy']:.4f}; temperature {calibration['temperature']:.3f}, "
            f"{calibration['temperature_short']:.3f} for lines of {SHORT_LINE} digits or fewer")
        if report:
            from digitlab.report import write_line_report

            results = [(TURN_CLASSES[t], TURN_CLASSES[int(o > 0)], float(1 / (1 + np.exp(-abs(o)))))
                       for t, o in zip(test[1], odds["test"])]
            seen = [image[::-1, ::-1] if t else image for image, t in zip(test[0], test[1])]
            write_line_report(run_dir / "report", history, seen, results, metrics, title=str(run_dir),
                              orientation=True)
        return metrics, {key: str(value) for key, value in calibration.items()}

    data = {"name": config.data, "source": "lines generated from mnist-5k's training digits and the training "
            "faces (textlines.py), each upright or turned by 180 degrees", "n_train": config.steps_per_epoch *
            config.batch_size, "n_test": len(test[0]), "classes": list(TURN_CLASSES)}
    return dict(model=model, classes=TURN_CLASSES, train_loader=train_loader, test_loader=test_loader,
                criterion=turn_loss, test_criterion=turn_loss, correct_in=turns_told, data=data, finish=finish,
                loss_of_last_epoch=True)
