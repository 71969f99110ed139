"""Evaluate a model on a split: loss, accuracy, confusion matrix, scikit-learn's report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import classification_report, confusion_matrix, precision_recall_fscore_support
from torch import nn

from digitlab.atomic import write_text
from digitlab.datasets import Split


@dataclass
class Evaluation:
    """Predictions of a model on a labelled split, and the measures derived from them."""

    labels: np.ndarray          # (N,) true class
    probabilities: np.ndarray   # (N, C) softmax output
    classes: tuple[str, ...]

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(1)

    @property
    def accuracy(self) -> float:
        return float((self.predictions == self.labels).mean())

    @property
    def loss(self) -> float:
        picked = self.probabilities[np.arange(len(self.labels)), self.labels]
        return float(-np.log(np.clip(picked, 1e-12, None)).mean())

    def confusion_matrix(self) -> np.ndarray:
        return confusion_matrix(self.labels, self.predictions, labels=range(len(self.classes)))

    def classification_report(self) -> str:
        return classification_report(self.labels, self.predictions, labels=range(len(self.classes)),
                                     target_names=list(self.classes), digits=4, zero_division=0)

    def metrics(self, n_train: int | None = None, train_seconds: float | None = None) -> dict:
        precision, recall, f1, support = precision_recall_fscore_support(
            self.labels, self.predictions, labels=range(len(self.classes)), zero_division=0)
        per_class = {name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                     for name, p, r, f, s in zip(self.classes, precision, recall, f1, support)}
        metrics = {"test_accuracy": self.accuracy, "test_loss": self.loss, "n_test": int(len(self.labels)),
                   "macro_f1": float(np.mean(f1)), "per_class": per_class}
        if n_train is not None:
            metrics["n_train"] = n_train
        if train_seconds is not None:
            metrics["train_seconds"] = round(train_seconds, 2)
        return metrics


@torch.no_grad()
def predict_probabilities(model: nn.Module, images: torch.Tensor, device: torch.device | None = None,
                          batch_size: int = 1024) -> np.ndarray:
    """Softmax outputs for uint8 images `(N, 28, 28)`, computed in batches."""
    from digitlab.training import to_model_input

    device = device or next(model.parameters()).device
    model.eval()
    chunks = [F.softmax(model(to_model_input(images[i:i + batch_size].to(device))), dim=1).cpu()
              for i in range(0, len(images), batch_size)]
    return torch.cat(chunks).numpy() if chunks else np.zeros((0, 10), dtype=np.float32)


def evaluate(model: nn.Module, split: Split, classes: tuple[str, ...], device: torch.device | None = None
             ) -> Evaluation:
    """Run `model` over a labelled split."""
    return Evaluation(split.labels.numpy(), predict_probabilities(model, split.images, device), tuple(classes))


def write_metrics(path: Path, metrics: dict) -> None:
    write_text(path, json.dumps(metrics, indent=2) + "\n")
