"""Evaluate a model on a split: loss, accuracy, confusion matrix, scikit-learn's report.

Probabilities come from `Predictor.predict_proba`, the one way digitlab gets them, so a run
directory and its ONNX export are evaluated the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix, precision_recall_fscore_support

from digitlab.calibration import NOT_A_DIGIT, best_digit
from digitlab.datasets import DIGITS, Split
from digitlab.predict import Predictor


@dataclass
class Evaluation:
    """Predictions of a model on a labelled split, and the measures derived from them."""

    labels: np.ndarray          # (N,) true class
    probabilities: np.ndarray   # (N, C) calibrated softmax output
    classes: tuple[str, ...]

    @property
    def reject_class(self) -> int | None:
        return self.classes.index(NOT_A_DIGIT) if NOT_A_DIGIT in self.classes else None

    @property
    def predictions(self) -> np.ndarray:
        """The answer `predict` gives for each image: the most probable digit (a model that knows
        "not a digit" flags such an image "not sure" besides, and `flagged_not_a_digit` counts it)."""
        return best_digit(self.probabilities, self.reject_class)

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
        present = support > 0  # a class the split never holds ("not a digit" on MNIST) has no F1 to average
        metrics = {"test_accuracy": self.accuracy, "test_loss": self.loss, "n_test": int(len(self.labels)),
                   "macro_f1": float(np.mean(f1[present])), "per_class": per_class}
        if self.reject_class is not None:
            taken = self.probabilities.argmax(1) == self.reject_class
            metrics["flagged_not_a_digit"] = int((taken & (self.labels != self.reject_class)).sum())
        if n_train is not None:
            metrics["n_train"] = n_train
        if train_seconds is not None:
            metrics["train_seconds"] = round(train_seconds, 2)
        return metrics


def evaluate(model: Predictor | object, split: Split, classes: tuple[str, ...] = DIGITS) -> Evaluation:
    """Run a model over a labelled split of MNIST-form images: a `Predictor` (a run, an ONNX file,
    the shipped model) or a PyTorch module in memory with its class names, as in the lab."""
    predictor = model if isinstance(model, Predictor) else Predictor.from_module(model, list(classes), {})
    probabilities = predictor.predict_proba(split.images.numpy())
    return Evaluation(split.labels.numpy(), probabilities, tuple(predictor.classes))

