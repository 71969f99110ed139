"""The settings of one training run, saved beside its checkpoint so the run can be reproduced.

Defaults live in `TrainConfig`; a recipe (`RECIPES`) overrides some of them; command-line flags
(made from the fields below, with their help) override those.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from digitlab.errors import DigitlabError

LINE_ARCHS = ("crnn", "crnn-wide")  # the line readers among the archs
ORIENTATION_ARCHS = ("orient",)     # which way up a line is; the other archs classify digits
TASK_ARCHS = {"lines": LINE_ARCHS, "orientation": ORIENTATION_ARCHS}  # any other arch: task digits


def setting(default, help: str, **more):  # noqa: A002 - the argparse word, on purpose
    return field(default=default, metadata={"help": help, **more})  # more: choices, flag=False


@dataclass
class TrainConfig:
    """Every setting of a training run. Defaults are the recommended recipe for the default arch."""

    task: str = setting("digits", "what to train: digits (a classifier of 28x28 images), lines (the CTC line "
                        "reader) or orientation (whether a line is upside down)",
                        choices=("digits", "lines", "orientation"))
    data: str = setting("mnist-5k", "data set: mnist-5k, mnist, fashion-mnist, folder:PATH, or a mix such as "
                        "mnist-5k+renders+styles+fonts+not-digits (see `digitlab data list`)")
    data_dir: str | None = setting(None, "folder holding the data set's files")
    arch: str = setting("default", "network: default (stronger), seed (the lab's exact CNN), wide (the shipped "
                        "digit model's), crnn (a line reader), crnn-wide (the shipped line reader's), orient (which "
                        "way up a line is)",
                        choices=("default", "seed", "wide", "crnn", "crnn-wide", "orient"))
    epochs: int = setting(20, "passes over the training data")
    steps_per_epoch: int = setting(0, "for generated training data (lines, orientation): batches per epoch")
    batch_size: int = setting(128, "images per step")
    lr: float = setting(3e-3, "peak learning rate")
    weight_decay: float = setting(5e-4, "AdamW's decoupled weight decay (0: plain Adam)")
    optimizer: str = setting("adam", "adam (AdamW when weight decay is set) or sgd (Nesterov momentum 0.9)",
                             choices=("adam", "sgd"))
    schedule: str = setting("onecycle", "onecycle (warm-up then cosine decay) or constant (the lab's)",
                            choices=("onecycle", "constant"))
    augment: bool = setting(True, "distort training images as hands and scans do")
    label_smoothing: float = setting(0.1, "share of each target spread over the other classes")
    flag_rate: float = setting(0.03, "for data with a validation split: the share of correct validation answers "
                               "the calibrated 'not sure' threshold may flag")
    digit_model: str | None = setting(None, "for the line reader: the digit model `read` will ask about the digits "
                                      "it doubts; its 'not sure' threshold is calibrated for the pair as well")
    init: str | None = setting(None, "start from the weights of this model (a run directory or its "
                               "model.safetensors) instead of random ones; its parameters must have the same "
                               "names and shapes (to go on from a model, on other data or at another rate)")
    average_from: int = setting(0, "from this epoch on, the run's model is the average of its weights at the end of "
                                "each epoch (stochastic weight averaging), its batch norm measured again on one "
                                "epoch of training data at the end (0: the last epoch's weights)")
    seed: int = setting(0, "random seed of the initial weights, the shuffling and the augmentation")
    device: str = setting("auto", "auto (CUDA when PyTorch sees a GPU, else the CPU), cpu, cuda, cuda:1 ...")
    precision: str = setting("fp32", "fp32, or bf16: autocast, ~2x faster on CPUs with AVX-512 BF16, slower "
                             "elsewhere", choices=("fp32", "bf16"))
    threads: int = setting(0, "CPU threads (0: PyTorch's choice, one per core; under torchrun, cores / "
                           "processes per node)")
    world_size: int = setting(1, "processes training together: recorded from torchrun's WORLD_SIZE, not chosen "
                              "here", flag=False)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """One line naming the first setting that cannot work, and what it could be."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if "choices" in f.metadata and value not in f.metadata["choices"]:
                raise DigitlabError(f"unknown {f.name} {value!r}: expected one of {', '.join(f.metadata['choices'])}.")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise DigitlabError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if not 0 <= self.average_from <= self.epochs:
            raise DigitlabError(f"average_from must be an epoch of the run (1 to {self.epochs}) or 0, "
                                f"got {self.average_from}.")
        if not self.lr > 0:
            raise DigitlabError(f"lr must be positive, got {self.lr}.")
        task_of_arch = next((task for task, archs in TASK_ARCHS.items() if self.arch in archs), "digits")
        if task_of_arch != self.task:
            raise DigitlabError(f"arch {self.arch!r} does not fit task {self.task!r}: a line reader's arch is "
                                "crnn or crnn-wide, the orientation model's orient, a classifier's one of default, "
                                "seed, wide.")
        if self.digit_model is not None and self.task != "lines":
            raise DigitlabError("digit_model is for the line reader (task lines): the digit model it will ask.")
        if self.task in TASK_ARCHS and self.steps_per_epoch < 1:
            raise DigitlabError(f"steps_per_epoch must be at least 1 for task {self.task}'s generated lines.")

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @classmethod
    def from_recipe(cls, name: str, **overrides) -> TrainConfig:
        if name not in RECIPES:
            raise DigitlabError(f"unknown recipe {name!r}: expected one of {', '.join(RECIPES)}.")
        return dataclasses.replace(cls(**RECIPES[name]), **overrides)

    @classmethod
    def lab_recipe(cls, data: str = "mnist-5k") -> TrainConfig:
        """The lab's recipe: its exact CNN, Adam at Keras' default rate, 10 epochs, batch 128."""
        return cls.from_recipe("lab", data=data)

    @classmethod
    def from_run(cls, run_dir: Path) -> TrainConfig:
        path = Path(run_dir) / "config.json"
        try:
            return cls.from_dict(json.loads(path.read_text())["train"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DigitlabError(f"{path} is missing or not a digitlab config ({exc}); "
                                "train a new run with `digitlab train`.") from None


RECIPES: dict[str, dict] = {
    "default": {},
    # The lab: its exact CNN, Adam at Keras' default rate, 10 epochs, batch 128, no augmentation.
    "lab": dict(arch="seed", epochs=10, batch_size=128, lr=1e-3, weight_decay=0.0, schedule="constant",
                augment=False, label_smoothing=0.0),
    # The digit model shipped in the package (`make models`): real MNIST digits, the same as the
    # pipeline renders them, styles MNIST lacks, tiny pictures, 23 of the allowed faces (4 more
    # for calibration), and the class "not a digit".
    "reader": dict(data="mnist-5k+renders+styles+small+fonts+not-digits", arch="wide", epochs=15, batch_size=128,
                   lr=3e-3),
    # The line reader shipped in the package: lines composed from mnist-5k's training digits and
    # set in the training faces, generated afresh every epoch, read whole with CTC. 40 epochs, not
    # 24, and seed 2, not 0: of the runs tried, these read the validation rows best (BENCHMARKS.md).
    "lines": dict(task="lines", data="mnist-5k+fonts", arch="crnn-wide", epochs=40, steps_per_epoch=300, batch_size=48,
                  lr=2e-3, weight_decay=1e-4, label_smoothing=0.0, seed=2),
    # The second line reader shipped beside the first: trained on from the first's weights (pass
    # --init) at a steady rate, its weights averaged from the second epoch. Where the first reader
    # is least sure, `read` asks it too and says "not sure" where the two disagree (`crosscheck`).
    "second-reader": dict(task="lines", data="mnist-5k+fonts", arch="crnn-wide", epochs=8, steps_per_epoch=300,
                          batch_size=48, lr=5e-4, schedule="constant", weight_decay=1e-4, label_smoothing=0.0,
                          seed=7, average_from=2),
    # Which way up a line is, shipped beside the line reader: the same generated lines, each shown
    # upright or turned by 180 degrees.
    "orientation": dict(task="orientation", data="mnist-5k+fonts", arch="orient", epochs=20, steps_per_epoch=500,
                        batch_size=64, lr=3e-3, weight_decay=1e-4, label_smoothing=0.0),
}
