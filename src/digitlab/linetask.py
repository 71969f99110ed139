"""Training the line reader through `fit`: its data (lines generated afresh each epoch by
`textlines`), its loss (CTC), its measure (lines read exactly), the calibration of its
"not sure" flag and its report (curves and a gallery of misread lines).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from digitlab.config import TrainConfig
from digitlab.datasets import VALIDATION_FACES, is_validation, load_mnist_5k
from digitlab.errors import DigitlabError
from digitlab.models import LineReader, build_model
from digitlab.reading import ctc_best_path
from digitlab.second_opinion import DigitOpinion, with_second_opinion
from digitlab.textlines import LineBatches, LineSources, LineTargets, collate, fixed_lines

LINE_CLASSES = ("blank",) + tuple(str(d) for d in range(10))
VAL_LINES, TEST_LINES = 400, 600
STRIDE = LineReader.stride


def ctc_loss(output: torch.Tensor, target: LineTargets) -> torch.Tensor:
    """CTC loss of logits `(N, T, 11)`, per line averaged over its digits (PyTorch's 'mean')."""
    log_probs = F.log_softmax(output.float(), dim=2).transpose(0, 1)  # (T, N, C)
    return F.ctc_loss(log_probs, target.labels, target.frames, target.lengths, blank=0, zero_infinity=True)


def decode(output: torch.Tensor, frames: torch.Tensor) -> list[str]:
    """Greedy CTC decoding of a batch of logits `(N, T, 11)`, each line's first `frames[i]` frames
    (the rest is padding), into digit strings."""
    probabilities = F.softmax(output.detach().float(), dim=2).cpu().numpy()
    return ["".join(str(d) for d, _, _, _ in ctc_best_path(p[:int(n)])) for p, n in zip(probabilities, frames)]


def lines_read_exactly(output: torch.Tensor, target: LineTargets) -> int:
    return sum(a == b for a, b in zip(decode(output, target.frames), target.texts))


class _EpochBatches(Dataset):
    """Batch b of one epoch, built in a loader worker process while the model trains."""

    def __init__(self, batches: LineBatches) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, b: int) -> tuple[torch.Tensor, LineTargets]:
        return self.batches.batch(b)


def _one_thread(_: int) -> None:
    """A loader worker's torch runs on one thread: the training process has the cores."""
    torch.set_num_threads(1)


def loader_workers(device: torch.device, cores: int | None = None) -> int:
    """Processes that generate training lines. On the CPU one: generating a line costs about as
    much as training on it, and the training process needs the other cores. On a GPU a step takes
    a few milliseconds and a batch about 0.1 s to draw, so as many as the cores allow (up to 8)."""
    if device.type == "cpu":
        return 1
    return max(1, min(8, (cores or os.cpu_count() or 2) - 1))


class LineLoader:
    """The epoch's generated batches from `workers` background processes, in the same order and
    content as without them (a batch depends only on its seed, epoch and index)."""

    def __init__(self, batches: LineBatches, workers: int = 1) -> None:
        self.batches, self.workers = batches, workers

    def set_epoch(self, epoch: int) -> None:
        self.batches.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, LineTargets]]:
        loader = DataLoader(_EpochBatches(self.batches), batch_size=None, num_workers=self.workers, prefetch_factor=4,
                            worker_init_fn=_one_thread)
        yield from loader


def line_sources(parts: list[str], images: np.ndarray, labels: np.ndarray, fonts: list[Path]) -> LineSources:
    unknown = [p for p in parts if p not in ("mnist-5k", "styles", "fonts", "condensed")]
    if unknown or "mnist-5k" not in parts:
        raise DigitlabError(f"the line reader learns from mnist-5k, optionally with styles, fonts and condensed "
                            f"lines (data 'mnist-5k+styles+fonts+condensed'), not {'+'.join(parts)!r}.")
    return LineSources.from_arrays(images, labels, fonts if "fonts" in parts else [], styles="styles" in parts,
                                   condensed="condensed" in parts)


def split_sources(data: str) -> tuple[LineSources, LineSources, LineSources]:
    """Where training, validation and test lines come from: mnist-5k's training digits less its
    validation tenth and the training faces; that tenth and the validation faces; mnist-5k's test
    digits and the validation faces."""
    from digitlab import fonts as faces

    parts = data.split("+")
    base = load_mnist_5k()
    images, labels = base.train.images.numpy(), base.train.labels.numpy()
    is_val = is_validation(labels)
    files = faces.face_files() if "fonts" in parts else {}
    train_fonts = [p for face, paths in files.items() if face not in VALIDATION_FACES for p in paths]
    held_out_fonts = [p for face in VALIDATION_FACES if face in files for p in files[face]]
    return (line_sources(parts, images[~is_val], labels[~is_val], train_fonts),
            line_sources(parts, images[is_val], labels[is_val], held_out_fonts),
            line_sources(parts, base.test.images.numpy(), base.test.labels.numpy(), held_out_fonts))


def held_out_lines(val_sources: LineSources, test_sources: LineSources
                   ) -> tuple[list[tuple[np.ndarray, str]], list[tuple[np.ndarray, str]]]:
    """The validation and test lines (the same every run): what calibrates and what judges."""
    return fixed_lines(val_sources, VAL_LINES, 1), fixed_lines(test_sources, TEST_LINES, 2)


def line_task(config: TrainConfig, device: torch.device) -> dict:
    """The pieces of `training.Task` for the line reader."""
    train_sources, val_sources, test_sources = split_sources(config.data)
    val_lines, test_lines = held_out_lines(val_sources, test_sources)
    model = build_model(config.arch, len(LINE_CLASSES)).to(device, memory_format=torch.channels_last)
    train_loader = LineLoader(LineBatches(train_sources, config.steps_per_epoch, config.batch_size, config.seed,
                                          STRIDE), loader_workers(device))
    # Loaded now, so that a wrong path stops the run before training, not after it.
    opinion = second_opinion_of(config.digit_model) if config.digit_model is not None else None

    def finish(model: nn.Module, history: list[dict], run_dir: Path, report: bool,
               log: Callable[[str], None]) -> tuple[dict, dict]:
        # The reader's frames are computed once per set: both calibrations and readings reuse them.
        val_frames = line_probabilities(model, device, val_lines)
        test_frames = line_probabilities(model, device, test_lines)
        threshold, val_flagged = calibrate_lines(read_lines(val_lines, val_frames), config.flag_rate)
        results = read_lines(test_lines, test_frames)
        exact = [truth == read for truth, read, _ in results]
        digits_wrong = sum(edit_distance(truth, read) for truth, read, _ in results)
        digits_total = sum(len(truth) for truth, _, _ in results)
        metrics = {"test_accuracy": float(np.mean(exact)), "test_loss": history[-1]["val_loss"] if history else 0.0,
                   "digit_error_rate": digits_wrong / max(1, digits_total), "n_test": len(results),
                   "n_train_lines_per_epoch": config.steps_per_epoch * config.batch_size,
                   "train_seconds": round(sum(row["seconds"] for row in history), 2),
                   "uncertain_below": threshold, "val_correct_flagged": val_flagged, "dataset": config.data,
                   "arch": config.arch}
        log(f"lines read exactly {metrics['test_accuracy']:.4f}, digit error rate {metrics['digit_error_rate']:.4f}, "
            f"'not sure' under {threshold:.3f}")
        extra = {"uncertain_below": str(threshold)}
        if opinion is not None:
            metrics |= asking_metrics(val_lines, val_frames, test_lines, test_frames, opinion, config)
            extra["uncertain_below_asking"] = str(metrics["uncertain_below_asking"])
            log(f"asking {config.digit_model}: lines read exactly {metrics['test_accuracy_asking']:.4f}, 'not sure' "
                f"under {metrics['uncertain_below_asking']:.3f}")
        if report:
            from digitlab.report import write_line_report
            write_line_report(run_dir / "report", history, [image for image, _ in test_lines], results, metrics,
                              title=str(run_dir))
        return metrics, extra

    data = {"name": config.data, "source": "lines generated from mnist-5k's training digits and the training "
            "faces (textlines.py)", "n_train": config.steps_per_epoch * config.batch_size, "n_test": TEST_LINES,
            "classes": list(LINE_CLASSES)}
    test_loader = [collate(test_lines[i:i + 100], STRIDE) for i in range(0, len(test_lines), 100)]
    return dict(model=model, classes=LINE_CLASSES, train_loader=train_loader, test_loader=test_loader,
                criterion=ctc_loss, test_criterion=ctc_loss, correct_in=lines_read_exactly, data=data, finish=finish,
                loss_of_last_epoch=True)


@torch.no_grad()
def line_probabilities(model: nn.Module, device: torch.device, lines: list[tuple[np.ndarray, str]]
                       ) -> list[np.ndarray]:
    """Per-frame probabilities `(T, 11)` of each line, batched by similar width."""
    model.eval()
    order = sorted(range(len(lines)), key=lambda i: lines[i][0].shape[1])
    out: list[np.ndarray] = [np.zeros(0)] * len(lines)
    for start in range(0, len(order), 64):
        chosen = order[start:start + 64]
        batch, target = collate([lines[i] for i in chosen], STRIDE)
        probabilities = F.softmax(model(batch.to(device).contiguous(memory_format=torch.channels_last)).float(), 2)
        for k, i in enumerate(chosen):
            out[i] = probabilities[k, :int(target.frames[k])].cpu().numpy()
    return out


def read_lines(lines: list[tuple[np.ndarray, str]], frames: list[np.ndarray], opinion: DigitOpinion | None = None
               ) -> list[tuple[str, str, float]]:
    """(truth, reading, lowest digit confidence) for each line, from the reader's per-frame
    probabilities (`line_probabilities`); with `opinion`, the digit model asked about the digits
    the line reader doubts, as `read` asks it."""
    results = []
    for (image, truth), p in zip(lines, frames):
        digits = ctc_best_path(p)
        if opinion is not None:
            digits = with_second_opinion(p, digits, image, STRIDE, opinion)
        lowest = min((c for _, c, _, _ in digits), default=0.0)
        results.append((truth, "".join(str(d) for d, _, _, _ in digits), lowest))
    return results


def second_opinion_of(path: str) -> DigitOpinion:
    """The digit model at `path`, as the line reader's second opinion."""
    from digitlab.predict import Predictor, check_reads_digits

    predictor = Predictor.load(path, flag="--digit-model")
    check_reads_digits(predictor)
    return predictor.scan_probabilities


def asking_metrics(val_lines: list[tuple[np.ndarray, str]], val_frames: list[np.ndarray],
                   test_lines: list[tuple[np.ndarray, str]], test_frames: list[np.ndarray], opinion: DigitOpinion,
                   config: TrainConfig) -> dict:
    """The line reader with its digit model: the "not sure" threshold calibrated for the pair on
    the validation lines (the second opinion changes the confidences of the digits it is asked
    about), and the test lines read."""
    threshold, flagged = calibrate_lines(read_lines(val_lines, val_frames, opinion), config.flag_rate)
    exact = [truth == read for truth, read, _ in read_lines(test_lines, test_frames, opinion)]
    return {"uncertain_below_asking": threshold, "val_correct_flagged_asking": flagged,
            "test_accuracy_asking": float(np.mean(exact)), "digit_model": config.digit_model}


def calibrate_lines(results: list[tuple[str, str, float]], flag_rate: float) -> tuple[float, float]:
    """The digit confidence under which a reading is flagged "not sure": at most `flag_rate` of
    the correctly read validation lines (`read_lines`' results) have a digit below it. Returns it
    and the share flagged."""
    lowest = np.array([low for truth, read, low in results if truth == read])
    if len(lowest) == 0:
        return 0.5, 0.0
    threshold = float(np.quantile(lowest, flag_rate))
    return threshold, float(np.mean(lowest < threshold))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: digits inserted, dropped or misread."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]

