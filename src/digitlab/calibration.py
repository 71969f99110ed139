"""Confidence that means what it says: temperature scaling (Guo et al., 2017) fitted on a held-out
split, and the confidence under which an answer is flagged "not sure".

Both are fitted on the validation split of the training data (never on the test split) and are
stored in the model file, so every way of running a model (PyTorch, ONNX, the server) applies them.
"""

from __future__ import annotations

import numpy as np

NOT_A_DIGIT = "not a digit"  # the class of letters, symbols and scribbles, for models that learn it


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T that minimises the negative log-likelihood of `softmax(logits / T)`."""
    from scipy.optimize import minimize_scalar  # fitting only: a third of a second of every CLI start
    from scipy.special import log_softmax

    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels)

    def nll(log_t: float) -> float:
        return -float(log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(labels)), labels].mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))


def calibrated(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return softmax(np.asarray(logits, dtype=np.float64) / temperature)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis. Not SciPy's: importing scipy.special costs 0.3 s, a quarter of
    `digitlab predict`'s start on 2 cores, for four lines of NumPy."""
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def flag_threshold(probabilities: np.ndarray, labels: np.ndarray, flag_rate: float,
                   reject_class: int | None = None) -> float:
    """The confidence under which answers are flagged "not sure", set so that at most `flag_rate`
    of the correct answers on a held-out split are flagged. Images of the `reject_class` (not a
    digit) are left out: they are meant to be flagged."""
    digits = labels != reject_class if reject_class is not None else np.ones(len(labels), dtype=bool)
    best = best_digit(probabilities, reject_class)
    confidence = probabilities[np.arange(len(labels)), best]
    correct = confidence[digits & (best == labels)]
    if len(correct) == 0:
        return 0.5
    return float(np.quantile(correct, flag_rate))


def best_digit(probabilities: np.ndarray, reject_class: int | None) -> np.ndarray:
    """The most probable class that is not `reject_class`."""
    if reject_class is None:
        return probabilities.argmax(axis=1)
    masked = probabilities.copy()
    masked[:, reject_class] = -1.0
    return masked.argmax(axis=1)


def is_uncertain(probabilities: np.ndarray, threshold: float, reject_class: int | None) -> np.ndarray:
    """An answer is "not sure" when its best class is below `threshold` or the image is more
    likely not a digit at all."""
    best = best_digit(probabilities, reject_class)
    confidence = probabilities[np.arange(len(probabilities)), best]
    flagged = confidence < threshold
    if reject_class is not None:
        flagged |= probabilities[:, reject_class] >= confidence
    return flagged
