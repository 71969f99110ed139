"""Prediction on real images: `Predictor` wraps a trained model (PyTorch run or ONNX file) and
applies the one scan pipeline from `preprocessing` before it.

The ONNX path never imports torch, so `digitlab predict --model model.onnx` starts quickly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digitlab.errors import DigitlabError
from digitlab.images import ImageSource
from digitlab.preprocessing import deskew_by_moments, normalize_scan, normalize_stream, other_polarity, segment_digits

UNCERTAIN_BELOW = 0.6  # confidence under which an answer is flagged "not sure"


@dataclass
class Prediction:
    path: str
    digit: int
    confidence: float
    probabilities: list[float]
    uncertain: bool
    label: str
    image: np.ndarray = field(repr=False)  # the 28x28 the model saw

    @property
    def runner_up(self) -> tuple[int, float]:
        order = np.argsort(self.probabilities)[::-1]
        return int(order[1]), float(self.probabilities[order[1]])

    def to_json(self) -> dict:
        second, second_p = self.runner_up
        return {"path": self.path, "digit": self.digit, "label": self.label,
                "confidence": round(self.confidence, 6),
                "probabilities": [round(p, 6) for p in self.probabilities],
                "uncertain": self.uncertain, "runner_up": {"digit": second, "confidence": round(second_p, 6)}}


@dataclass
class Reading:
    path: str
    text: str
    digits: list[dict]
    uncertain: bool
    images: list[np.ndarray] = field(repr=False)

    def to_json(self) -> dict:
        return {"path": self.path, "text": self.text, "uncertain": self.uncertain, "digits": self.digits}


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def latest_run(runs_dir: Path = Path("runs")) -> Path:
    candidates = sorted(runs_dir.glob("*/model.safetensors"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise DigitlabError(f"no trained model found under {runs_dir}/: train one with `digitlab train` "
                            "(or `make demo`), or pass --model RUN_DIR.")
    return candidates[-1].parent


class Predictor:
    """Classifies digits. Build with `Predictor.load(path)` (a run directory, a model.safetensors
    or an .onnx file); `predict_proba` takes MNIST-form uint8 images as the model sees them,
    `scan_probabilities` digits cut from scans, and `predict` and `read` take
    photos and scans."""

    def __init__(self, run_batch: Callable[[np.ndarray], np.ndarray], classes: list[str], info: dict,
                 uncertain_below: float = UNCERTAIN_BELOW) -> None:
        self._run_batch = run_batch  # float32 (N, 1, 28, 28) in [0, 1] -> logits (N, C)
        self.classes = classes
        self.info = info
        self.uncertain_below = uncertain_below

    @classmethod
    def load(cls, path: str | Path | None = None, runs_dir: Path = Path("runs")) -> Predictor:
        path = Path(path) if path is not None else latest_run(runs_dir)
        if path.suffix == ".onnx":
            return cls.from_onnx(path)
        if path.is_dir():
            return cls.from_run(path)
        if path.suffix == ".safetensors":
            return cls.from_safetensors(path, run_dir=path.parent)
        raise DigitlabError(f"--model {path}: expected a run directory, a .safetensors or an .onnx file.")

    @classmethod
    def from_run(cls, run_dir: str | Path) -> Predictor:
        run_dir = Path(run_dir)
        if not (run_dir / "model.safetensors").is_file():
            raise DigitlabError(f"{run_dir} has no model.safetensors: is it a digitlab run directory?")
        return cls.from_safetensors(run_dir / "model.safetensors", run_dir)

    @classmethod
    def from_safetensors(cls, path: Path, run_dir: Path | None = None) -> Predictor:
        import torch

        from digitlab.checkpoint import load_model

        model, metadata = load_model(path)

        @torch.inference_mode()
        def run_batch(batch: np.ndarray) -> np.ndarray:
            return model(torch.from_numpy(batch)).numpy()

        info = {"model": str(run_dir or path), "arch": metadata["arch"], "backend": "pytorch",
                "version": metadata.get("digitlab_version")}
        metrics_path = (run_dir or path.parent) / "metrics.json"
        if metrics_path.is_file():
            try:
                metrics = json.loads(metrics_path.read_text())
                info["test_accuracy"], info["dataset"] = metrics.get("test_accuracy"), metrics.get("dataset")
            except ValueError:
                pass
        return cls(run_batch, metadata["classes"], info)

    @classmethod
    def from_onnx(cls, path: Path) -> Predictor:
        from digitlab.export import load_onnx_session

        session, metadata = load_onnx_session(path)
        input_name = session.get_inputs()[0].name

        def run_batch(batch: np.ndarray) -> np.ndarray:
            return session.run(None, {input_name: batch})[0]

        info = {"model": str(path), "arch": metadata.get("arch"), "backend": "onnxruntime",
                "version": metadata.get("digitlab_version"),
                "test_accuracy": float(metadata["test_accuracy"]) if metadata.get("test_accuracy") else None,
                "dataset": metadata.get("dataset")}
        return cls(run_batch, json.loads(metadata["classes"]), info)

    def predict_proba(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Probabilities `(N, C)` for uint8 MNIST-form images `(N, 28, 28)`."""
        images = np.asarray(images)
        out = []
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size, None].astype(np.float32) / 255.0
            out.append(softmax(self._run_batch(np.ascontiguousarray(batch)).astype(np.float64)))
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)))

    def scan_probabilities(self, images: np.ndarray) -> np.ndarray:
        """Probabilities for digits cut from photos and scans (uint8 MNIST form): the average of
        the model's reading of each digit as written and straightened by its moments. People slant
        their digits far more than MNIST's writers did; the two views disagree mostly where one of
        them is wrong, and the average settles many of those (see BENCHMARKS.md)."""
        images = np.asarray(images)
        straightened = np.stack([deskew_by_moments(image.astype(np.float32)) for image in images])
        both = self.predict_proba(np.concatenate([images, np.clip(straightened, 0, 255).astype(np.uint8)]))
        return (both[:len(images)] + both[len(images):]) / 2

    def _prediction(self, name: str, image: np.ndarray, probabilities: np.ndarray) -> Prediction:
        best = int(probabilities.argmax())
        confidence = float(probabilities[best])
        return Prediction(name, best, confidence, [float(p) for p in probabilities],
                          confidence < self.uncertain_below, self.classes[best], image)

    def predict(self, sources: Sequence[ImageSource], names: Sequence[str] | None = None,
                deskew: bool = False) -> list[Prediction | DigitlabError]:
        """One result per source: a `Prediction`, or the `DigitlabError` that explains why not."""
        return list(self.predict_iter(sources, names, deskew))

    def predict_iter(self, sources: Sequence[ImageSource], names: Sequence[str] | None = None,
                     deskew: bool = False) -> Iterator[Prediction | DigitlabError]:
        """`predict`'s results one at a time, in input order, as they are ready: the sources are
        normalized a chunk at a time ahead of the model (`normalize_stream`, in worker processes
        when there are many), so the first answers come at once and memory stays flat."""
        names = names or [str(s) if isinstance(s, str | Path) else f"image{i}" for i, s in enumerate(sources)]
        start = 0
        for images in normalize_stream(sources, names, deskew=deskew):
            end = start + len(images)
            yield from self._predict_normalized(sources[start:end], names[start:end], images, deskew)
            start = end

    def _predict_normalized(self, sources: Sequence[ImageSource], names: Sequence[str],
                            images: list[np.ndarray | DigitlabError], deskew: bool) -> list[Prediction | DigitlabError]:
        good = [im for im in images if not isinstance(im, DigitlabError)]
        probabilities = iter(self.scan_probabilities(np.stack(good)) if good else [])
        results = [im if isinstance(im, DigitlabError) else self._prediction(name, im, next(probabilities))
                   for im, name in zip(images, names)]
        for i, result in enumerate(results):
            if isinstance(result, Prediction) and result.uncertain:
                results[i] = self._other_polarity(sources[i], names[i], deskew) or result
        return results

    def _other_polarity(self, source: ImageSource, name: str, deskew: bool) -> Prediction | None:
        """An unsure answer for a picture as dark as it is light (a hard shadow over half of it) may
        come from taking the paper for the ink: read it the other way too and keep that reading if
        it is confident."""
        try:
            polarity = other_polarity(source, name)
            if polarity is None:
                return None
            image = normalize_scan(source, name, deskew=deskew, polarity=polarity)
        except DigitlabError:
            return None
        prediction = self._prediction(name, image, self.scan_probabilities(image[None])[0])
        return None if prediction.uncertain else prediction

    def read(self, source: ImageSource, name: str | None = None, deskew: bool = False) -> Reading:
        """Read a number written on one line, e.g. "2026", left to right."""
        name = name or (str(source) if isinstance(source, str | Path) else "image")
        crops = segment_digits(source, name, deskew=deskew,
                               score=lambda images: self.scan_probabilities(images).max(axis=1))
        probabilities = self.scan_probabilities(np.stack([c.image for c in crops]))
        digits = []
        for crop, p in zip(crops, probabilities):
            best = int(p.argmax())
            digits.append({"digit": best, "confidence": round(float(p[best]), 6),
                           "box": crop.box.as_list(), "uncertain": bool(p[best] < self.uncertain_below)})
        text = "".join(self.classes[d["digit"]] if len(self.classes[d["digit"]]) == 1 else str(d["digit"])
                       for d in digits)
        return Reading(name, text, digits, any(d["uncertain"] for d in digits), [c.image for c in crops])
