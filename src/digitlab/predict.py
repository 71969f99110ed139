"""Prediction on real images: `Predictor` wraps a trained model (PyTorch run or ONNX file) and
applies the one scan pipeline from `preprocessing` before it.

The ONNX path never imports torch, so `digitlab predict --model model.onnx` starts quickly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from digitlab.calibration import NOT_A_DIGIT, best_digit, calibrated, is_uncertain, softmax
from digitlab.config import LINE_ARCHS, ORIENTATION_ARCHS
from digitlab.errors import DigitlabError, NoDigitFound
from digitlab.images import ImageSource, describe, image_errors
from digitlab.ink import other_polarity
from digitlab.networks import (
    SHIPPED_DIGITS,
    SHIPPED_LINES,
    SHIPPED_SECOND_READER,
    metadata_number,
    network_from_file,
    shipped_model,
)
from digitlab.orientation import Orientation
from digitlab.preprocessing import ScanDigit, deskew_by_moments, normalize_stream, scan_digit
from digitlab.runs import read_metrics

if TYPE_CHECKING:  # reading pulls in the page pipeline, which `predict` alone does without
    from digitlab.reading import PageReading

UNCERTAIN_BELOW = 0.6  # "not sure" under this confidence, for models without a calibrated threshold
# How sure the widened view of a narrow "1" must be of another digit for the 1 to be "not sure".
WIDENED_SURE = 0.9


@dataclass
class Prediction:
    path: str
    digit: int
    confidence: float
    probabilities: list[float]
    uncertain: bool
    label: str
    image: np.ndarray = field(repr=False)  # the 28x28 the model saw
    not_a_digit: float | None = None       # the model's probability that this is no digit at all
    others_beside: bool = False            # ink the size of a digit beside it, left out: maybe a number

    @property
    def runner_up(self) -> tuple[int, float]:
        order = np.argsort(self.probabilities)[::-1]
        return int(order[1]), float(self.probabilities[order[1]])

    def to_json(self) -> dict:
        second, second_p = self.runner_up
        record = {"path": self.path, "digit": self.digit, "label": self.label,
                  "confidence": round(self.confidence, 6),
                  "probabilities": [round(p, 6) for p in self.probabilities],
                  "uncertain": self.uncertain, "runner_up": {"digit": second, "confidence": round(second_p, 6)}}
        if self.not_a_digit is not None:
            record["not_a_digit"] = round(self.not_a_digit, 6)
        return record


@dataclass
class Reading:
    """The numbers on a picture: `text` (lines joined by newlines), every digit with its box and
    confidence, and the lines, each with its four corners in the picture."""

    path: str
    text: str
    digits: list[dict]
    uncertain: bool
    images: list[np.ndarray] = field(repr=False)  # each line as the reader saw it
    lines: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"path": self.path, "text": self.text, "uncertain": self.uncertain, "digits": self.digits,
                "lines": self.lines}


class Predictor:
    """Classifies digits. Build with `Predictor.load(path)` (a run directory, a model.safetensors
    or an .onnx file; by default the model shipped in the package). `predict_proba` takes
    MNIST-form uint8 images as the model sees them, `scan_probabilities` digits cut from scans,
    and `predict` and `read` take photos and scans.

    Probabilities are calibrated (divided by the model's fitted temperature), and an answer is
    flagged `uncertain` under the model's calibrated threshold, or when the model finds the image
    more likely not a digit at all (models trained with the class "not a digit")."""

    def __init__(self, run_batch: Callable[[np.ndarray], np.ndarray], classes: list[str], info: dict,
                 temperature: float = 1.0, uncertain_below: float = UNCERTAIN_BELOW) -> None:
        self._run_batch = run_batch  # uint8 (N, 28, 28) -> logits (N, C)
        self.classes = list(classes)
        self.info = info
        self.temperature = temperature
        self.uncertain_below = uncertain_below
        self.reject_class = self.classes.index(NOT_A_DIGIT) if NOT_A_DIGIT in self.classes else None

    @property
    def reads_digits(self) -> bool:
        """Whether the model's first ten classes are the digits 0-9 (not, say, Fashion-MNIST's)."""
        return [str(c) for c in self.classes[:10]] == [str(d) for d in range(10)]

    @classmethod
    def load(cls, path: str | Path | None = None, flag: str = "--model") -> Predictor:
        """A run directory, a model.safetensors or an .onnx file; None: the shipped digit model.
        `flag` is the option that named `path`, for the error messages."""
        path = Path(path) if path is not None else shipped_model()
        if not path.exists():
            raise DigitlabError(f"{flag} {path}: no such run directory or model file.")
        if path.suffix == ".onnx":
            return cls.from_onnx(path)
        if path.is_dir():
            return cls.from_run(path)
        if path.suffix == ".safetensors":
            return cls.from_safetensors(path)
        raise DigitlabError(f"{flag} {path}: expected a run directory, a .safetensors or an .onnx file.")

    @classmethod
    def from_run(cls, run_dir: str | Path) -> Predictor:
        run_dir = Path(run_dir)
        if not (run_dir / "model.safetensors").is_file():
            raise DigitlabError(f"{run_dir} has no model.safetensors: is it a digitlab run directory?")
        return cls.from_safetensors(run_dir / "model.safetensors", run_dir)

    @classmethod
    def from_safetensors(cls, path: Path, run_dir: Path | None = None) -> Predictor:
        from digitlab.checkpoint import load_model

        model, metadata = load_model(path)
        check_kind(metadata["arch"], run_dir or path, line_reader=False)
        info = {"model": str(run_dir or path), "arch": metadata["arch"], "backend": "pytorch",
                "version": metadata.get("digitlab_version"),
                "test_accuracy": metadata_number(metadata.get("test_accuracy")),
                "dataset": metadata.get("dataset")}
        if info["test_accuracy"] is None:
            try:
                metrics = read_metrics(run_dir or path.parent)
            except DigitlabError:  # the metrics only describe the model: damaged ones must not stop predictions
                metrics = {}
            info["test_accuracy"], info["dataset"] = metrics.get("test_accuracy"), metrics.get("dataset")
        return cls.from_module(model, metadata["classes"], info, metadata)

    @classmethod
    def from_module(cls, model, classes: list[str], info: dict, metadata: dict | None = None) -> Predictor:
        """A Predictor over a PyTorch module in memory (a model being trained, for instance)."""
        import torch

        from digitlab.models import FromPixels

        network = FromPixels(model).eval()
        device = next(model.parameters()).device

        @torch.inference_mode()
        def run_batch(batch: np.ndarray) -> np.ndarray:
            return network(torch.from_numpy(batch).to(device)).float().cpu().numpy()

        return cls(run_batch, classes, info, **calibration_of(metadata or {}))

    @classmethod
    def from_onnx(cls, path: Path) -> Predictor:
        run_batch, metadata, info = network_from_file(path, SHIPPED_DIGITS, "--model")
        check_kind(metadata.get("arch"), path, line_reader=False)
        info["dataset"] = metadata.get("dataset")
        return cls(run_batch, json.loads(metadata["classes"]), info, **calibration_of(metadata))

    def predict_proba(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Calibrated probabilities `(N, C)` for uint8 MNIST-form images `(N, 28, 28)`."""
        images = np.ascontiguousarray(images, dtype=np.uint8)
        logits = [self._run_batch(images[start:start + batch_size]) for start in range(0, len(images), batch_size)]
        if not logits:
            return np.zeros((0, len(self.classes)))
        logits = np.concatenate(logits).astype(np.float64)
        if not np.isfinite(logits).all():
            raise DigitlabError(f"the model {self.info.get('model')} answers NaN or infinity: its weights are "
                                "broken; retrain it (or export it again).")
        return calibrated(logits, self.temperature)

    def scan_probabilities(self, images: np.ndarray) -> np.ndarray:
        """Probabilities for digits cut from photos and scans (uint8 MNIST form): the average of
        the model's reading of each digit as written and straightened by its moments. People slant
        their digits far more than MNIST's writers did; the two views disagree mostly where one of
        them is wrong, and the average settles many of those (see BENCHMARKS.md)."""
        images = np.asarray(images)
        straightened = np.stack([deskew_by_moments(image.astype(np.float32)) for image in images])
        both = self.predict_proba(np.concatenate([images, np.clip(straightened, 0, 255).astype(np.uint8)]))
        return (both[:len(images)] + both[len(images):]) / 2

    def uncertain(self, probabilities: np.ndarray) -> np.ndarray:
        return is_uncertain(probabilities, self.uncertain_below, self.reject_class)

    def _answer(self, name: str, image: np.ndarray, probabilities: np.ndarray) -> Prediction:
        best = int(best_digit(probabilities[None], self.reject_class)[0])
        digit_probabilities = [float(p) for i, p in enumerate(probabilities) if i != self.reject_class]
        not_a_digit = float(probabilities[self.reject_class]) if self.reject_class is not None else None
        label = NOT_A_DIGIT if not_a_digit is not None and not_a_digit > probabilities[best] else self.classes[best]
        return Prediction(name, best, float(probabilities[best]), digit_probabilities,
                          bool(self.uncertain(probabilities[None])[0]), label, image, not_a_digit)

    def predict(self, sources: Sequence[ImageSource], names: Sequence[str] | None = None,
                deskew: bool = False) -> list[Prediction | DigitlabError]:
        """One result per source: a `Prediction`, or the `DigitlabError` that explains why not."""
        return list(self.predict_iter(sources, names, deskew))

    def predict_iter(self, sources: Sequence[ImageSource], names: Sequence[str] | None = None,
                     deskew: bool = False) -> Iterator[Prediction | DigitlabError]:
        """`predict`'s results one at a time, in input order, as they are ready: the sources are
        normalized a chunk at a time ahead of the model (`normalize_stream`, in worker processes
        when there are many), so the first answers come at once and memory stays flat."""
        if is_one_picture(sources):
            raise DigitlabError(f"predict takes a list of pictures and was given one ({describe(sources)}): "
                                "pass [picture] to read one.")
        names = names or [describe(source, index=i) for i, source in enumerate(sources)]
        start = 0
        for scans in normalize_stream(sources, names, deskew=deskew, scan=scan_digit):
            end = start + len(scans)
            yield from self._predict_normalized(sources[start:end], names[start:end], scans, deskew)
            start = end

    def _predict_normalized(self, sources: Sequence[ImageSource], names: Sequence[str],
                            scans: list[ScanDigit | DigitlabError], deskew: bool) -> list[Prediction | DigitlabError]:
        good = [scan.image for scan in scans if not isinstance(scan, DigitlabError)]
        probabilities = iter(self.scan_probabilities(np.stack(good)) if good else [])
        results: list[Prediction | DigitlabError] = []
        for source, name, scan in zip(sources, names, scans):
            if isinstance(scan, DigitlabError):
                result, doubt = scan, isinstance(scan, NoDigitFound)
            else:
                digit = next(probabilities)
                # only the model's own doubt asks for the other polarity: digit-sized ink beside
                # the digit says the picture may be a number, not that the paper was taken for ink
                result, doubt = self._prediction(name, scan, digit), bool(self.uncertain(digit[None])[0])
            results.append(doubt and self._other_polarity(source, name, deskew) or result)
        return results

    def _prediction(self, name: str, scan: ScanDigit, probabilities: np.ndarray) -> Prediction:
        """The model's answer for a scan's digit; "not sure" too where digit-sized ink beside it
        was left out, since the picture may then be a number, and the digit only one of it.

        A narrow digit read as a 1 is read widened too (`ScanDigit.widened`), and "not sure" where
        that view is surely another digit: in MNIST form a condensed 4 or 8 (a third as wide as
        high) is a sliver the model takes for a 1. The answer stays the 1: a real 1 drawn with a
        wobble reads, widened, as a 3 as surely, and real 1s are by far the more common."""
        prediction = self._answer(name, scan.image, probabilities)
        if prediction.label == "1" and scan.widened is not None and not prediction.uncertain:
            wide = self._answer(name, scan.widened, self.scan_probabilities(scan.widened[None])[0])
            # Not for a 7: a 1 with a flag, widened, has a 7's shape.
            if wide.label not in ("1", "7", NOT_A_DIGIT) and wide.confidence > WIDENED_SURE:
                prediction = replace(prediction, uncertain=True)
        return replace(prediction, uncertain=True, others_beside=True) if scan.others_beside else prediction

    def _other_polarity(self, source: ImageSource, name: str, deskew: bool) -> Prediction | None:
        """An unsure answer, or none, for a picture whose polarity is in doubt (a hard shadow over
        half of it, a bold digit cropped tight) may come from taking the paper for the ink: read it
        the other way too and keep that reading if it is confident."""
        try:
            polarity = other_polarity(source, name)
            if polarity is None:
                return None
            scan = scan_digit(source, name, deskew=deskew, polarity=polarity)
        except Exception:  # a second reading is only a try: whatever stops it leaves the first answer
            return None
        prediction = self._prediction(name, scan, self.scan_probabilities(scan.image[None])[0])
        return None if prediction.uncertain else prediction


def check_kind(arch: str | None, path: str | Path, line_reader: bool) -> None:
    """One line when a model of another kind is given: a digit classifier or an orientation model
    where a line reader is wanted, or the reverse (their inputs differ, so any would fail deep in
    the network)."""
    kind = ("a line reader" if arch in LINE_ARCHS else "an orientation model" if arch in ORIENTATION_ARCHS
            else "a digit classifier")
    if line_reader and arch not in LINE_ARCHS:
        raise DigitlabError(f"{path} is {kind} (arch {arch}), not a line reader: read with the shipped "
                            "reader (no --model) or one trained with `--recipe lines`.")
    if not line_reader and kind != "a digit classifier":
        raise DigitlabError(f"{path} is {kind}, not a digit classifier"
                            + (": read numbers with it (`digitlab read --model ...`)." if arch in LINE_ARCHS
                               else ": `digitlab read --orientation-model` takes it."))


def check_reads_digits(digit_model: Predictor) -> None:
    """One line when the model given as a line reader's second opinion does not read digits."""
    if not digit_model.reads_digits:
        raise DigitlabError(f"--digit-model {digit_model.info.get('model')}: its classes are not the digits 0-9, so "
                            "it cannot read the digits of a number.")


def calibration_of(metadata: dict) -> dict:
    """The temperature and flag threshold stored with a model (absent in uncalibrated models)."""
    return {"temperature": metadata_number(metadata.get("temperature")) or 1.0,
            "uncertain_below": metadata_number(metadata.get("uncertain_below")) or UNCERTAIN_BELOW}


class Reader:
    """Reads whole numbers, and every line of a page, with the line reader (`models.LineReader`),
    and the digits it doubts that stand alone in a line also with a digit model (`second_opinion`,
    see `second_opinion.with_second_opinion`), and which way up each picture is with the orientation
    model (`orientation.Orientation`). Build with `Reader.load(path)` (a line-reader run directory,
    its model.safetensors or its .onnx export; by default the reader shipped in the package)."""

    def __init__(self, run_batch: Callable[[np.ndarray], np.ndarray], info: dict, stride: int = 4,
                 uncertain_below: float = UNCERTAIN_BELOW, second_opinion: Predictor | None = None,
                 asking_below: float | None = None, orientation: Orientation | None = None,
                 crosscheck: Reader | None = None) -> None:
        self._run_batch = run_batch  # float32 (N, 1, 32, W) -> logits (N, W / stride, 11)
        self.info = info
        self.stride = stride
        # "Not sure" under these digit confidences: the line reader's alone, and with a second
        # opinion (calibrated for the pair when the reader was trained with `--digit-model`).
        self.uncertain_below = uncertain_below
        self.asking_below = asking_below if asking_below is not None else uncertain_below
        self.second_opinion = second_opinion
        self.orientation = orientation
        self.crosscheck = crosscheck  # a second line reader (`crosscheck.crosschecked`)
        if crosscheck is not None:
            self.info = {**self.info, "second_reader": crosscheck.info.get("model")}
        if orientation is not None:
            self.info = {**self.info, "orientation_model": orientation.info.get("model")}
        if second_opinion is not None:
            check_reads_digits(second_opinion)
            self.info = {**self.info, "digit_model": second_opinion.info.get("model")}

    @classmethod
    def load(cls, path: str | Path | None = None, digit_model: str | Path | None = None,
             second_opinion: bool = True, orientation: str | Path | None = None,
             second_reader: str | Path | None = None, flag: str = "--model") -> Reader:
        """The line reader at `path`, with the digit model at `digit_model` (by default the shipped
        one) as its second opinion, or alone with `second_opinion=False`; the orientation model at
        `orientation` (by default the shipped one; "none": without it) to tell which way up a line
        is; and the line reader at `second_reader` to read again the lines the first is least sure
        of (`crosscheck`; by default the shipped second reader with the shipped reader, none with
        another; "none": without it). `flag`: the option that named `path`, for errors."""
        run_batch, metadata, info = network_from_file(path, SHIPPED_LINES, flag)
        check_kind(metadata.get("arch"), info["model"], line_reader=True)
        stride = metadata_number(metadata.get("stride", 4))
        if stride is None or stride < 1 or stride != int(stride):
            raise DigitlabError(f"{info['model']}: damaged line-reader export (stride {metadata.get('stride')!r}); "
                                "export it again.")
        turns = None if str(orientation) == "none" else Orientation.load(orientation)
        if second_reader is None and path is None:
            second_reader = shipped_model(SHIPPED_SECOND_READER)
        crosscheck = None if second_reader is None or str(second_reader) == "none" else cls.load(
            second_reader, second_opinion=False, orientation="none", second_reader="none", flag="--second-reader")
        reader = cls(run_batch, info, int(stride), **_threshold_of(metadata), orientation=turns,
                     crosscheck=crosscheck)
        return reader.asking(Predictor.load(digit_model, flag="--digit-model")) if second_opinion else reader

    def asking(self, digit_model: Predictor) -> Reader:
        """This line reader with `digit_model` as its second opinion."""
        return Reader(self._run_batch, self.info, self.stride, self.uncertain_below, digit_model, self.asking_below,
                      self.orientation, self.crosscheck)

    def line_probabilities(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Per-frame probabilities `(T, 11)` of line images (each `(32, W)` float, `line_image`)."""
        out = []
        for image in images:
            logits = self._run_batch(np.ascontiguousarray(image[None, None], dtype=np.float32))[0].astype(np.float64)
            if not np.isfinite(logits).all():
                raise DigitlabError(f"the line reader {self.info.get('model')} answers NaN or infinity: its "
                                    "weights are broken; retrain it (or export it again).")
            out.append(softmax(logits))
        return out

    def read(self, source: ImageSource, name: str | None = None) -> Reading:
        """Every line of digits on a picture, top to bottom; for a number on one line, `text` is it."""
        from digitlab.crosscheck import crosschecked
        from digitlab.reading import read_page

        name = describe(source, name)
        with image_errors(name):
            opinion = self.second_opinion.scan_probabilities if self.second_opinion is not None else None
            threshold = self.uncertain_below if opinion is None else self.asking_below
            turned = self.orientation.turned_log_odds if self.orientation is not None else None
            page = read_page(source, self.line_probabilities, self.stride, threshold, name, opinion, turned)
            if self.crosscheck is not None:
                page = crosschecked(page, self.crosscheck.line_probabilities, self.crosscheck.stride, opinion)
            if self.second_opinion is not None:
                page = self._lone_digit_asked(page, source, name, threshold)
        return Reading(name, page.text, page.digits, any(d["uncertain"] for d in page.digits),
                       [line.image for line in page.lines], [line.to_json() for line in page.lines])

    def _lone_digit_asked(self, page: PageReading, source: ImageSource, name: str, threshold: float) -> PageReading:
        """A picture read as one digit, which the digit model, reading the picture as `predict`
        does, surely reads as another: the digit model's digit. The line reader learnt digits in
        lines, the digit model digits alone: a lone 7 the line reader read "1" at 0.999, `predict`
        "7" surely. A line doubted for more than its confidence (which way up it is, a sign or
        ink left unread beside the digit) stays "not sure"; a picture surely turned (`predict`
        reads it as it is) and a digit the digit model is not sure of are left as they are."""
        if len(page.lines) != 1 or len(page.lines[0].digits) != 1:
            return page
        line, digit = page.lines[0], page.lines[0].digits[0]
        doubted = digit["uncertain"] and digit["confidence"] >= threshold
        if page.turned and not doubted:
            return page
        answer = self.second_opinion.predict([source], [name])[0]
        if isinstance(answer, DigitlabError) or answer.uncertain or answer.digit == digit["digit"]:
            return page
        confidence = round(answer.confidence, 6)
        read = digit | {"digit": answer.digit, "confidence": confidence, "uncertain": doubted}
        return replace(page, lines=[replace(line, text=str(answer.digit), confidence=confidence, digits=[read])])


def is_one_picture(sources: object) -> bool:
    """Whether `sources`, meant to be a list of pictures, is one picture: a path, bytes, a PIL image,
    or an array of one picture's pixels (2-D, or 3-D with 3 or 4 colour channels last; a batch of
    MNIST-form digits is 3-D too, `(N, 28, 28)`). Taken as a list, a path would be read a letter at
    a time, and a picture a row at a time."""
    if isinstance(sources, str | bytes | Path | Image.Image):
        return True
    return isinstance(sources, np.ndarray) and (sources.ndim == 2 or sources.ndim == 3 and sources.shape[2] in (3, 4))


def _threshold_of(metadata: dict) -> dict:
    return {"uncertain_below": metadata_number(metadata.get("uncertain_below")) or UNCERTAIN_BELOW,
            "asking_below": metadata_number(metadata.get("uncertain_below_asking"))}
