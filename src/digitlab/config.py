"""The settings of one training run, saved beside its checkpoint so the run can be reproduced."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from digitlab.errors import DigitlabError


@dataclass
class TrainConfig:
    """Every setting of a training run. Defaults are the recommended recipe for the default arch."""

    data: str = "mnist-5k"
    data_dir: str | None = None
    arch: str = "default"
    epochs: int = 20
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 5e-4
    optimizer: str = "adam"
    schedule: str = "onecycle"  # "onecycle" or "constant" (the lab's recipe)
    augment: bool = True
    label_smoothing: float = 0.1
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"  # "bf16": autocast, ~2x faster on CPUs with AVX-512 BF16, slower elsewhere
    threads: int = 0  # 0 keeps PyTorch's choice (one per core); under torchrun, cores / processes per node
    world_size: int = 1  # processes training together: recorded from torchrun's WORLD_SIZE, not chosen here

    @classmethod
    def lab_recipe(cls, data: str = "mnist-5k") -> TrainConfig:
        """The lab's recipe: its exact CNN, Adam at Keras' default rate, 10 epochs, batch 128."""
        return cls(data=data, arch="seed", epochs=10, batch_size=128, lr=1e-3, weight_decay=0.0,
                   schedule="constant", augment=False, label_smoothing=0.0)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @classmethod
    def from_run(cls, run_dir: Path) -> TrainConfig:
        path = Path(run_dir) / "config.json"
        try:
            return cls.from_dict(json.loads(path.read_text())["train"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DigitlabError(f"{path} is missing or not a digitlab config ({exc}); "
                                "train a new run with `digitlab train`.") from None
