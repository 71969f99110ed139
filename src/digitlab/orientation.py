"""Which way up a line of writing is: the orientation model (`models.LineOrientation`) that `read`
asks before it believes a line upright.

A number photographed upside down reads as digits all the same (0, 1 and 8 are themselves turned,
6 and 9 swap, a 2 or a 7 passes), often surely, so the line reader's confidence cannot tell which
way up a line is; the shapes can. `reading.upside_down` weighs this model's answer together with
how much better the line reader reads the line turned.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from digitlab.config import LINE_ARCHS, ORIENTATION_ARCHS
from digitlab.errors import DigitlabError
from digitlab.networks import metadata_number, network_from_file

# Shipped as its ONNX export (`make models`), metadata and all: it then reads without torch beside
# the ONNX exports of the other two, and its one thread never competes with the line reader's.
SHIPPED_ORIENTATION = "orientation.onnx"
SHORT_LINE = 2  # digits: lines this short, or shorter, have a temperature of their own


def line_log_odds(logits: np.ndarray) -> float:
    """A line's log-odds of being turned by 180 degrees, from its columns' logits `(T, 2)`
    (upright, turned): the mean of the columns' logits, as the model was trained."""
    mean = logits.astype(np.float64).mean(axis=0)
    return float(mean[1] - mean[0])


class Orientation:
    """The orientation model. Build with `Orientation.load(path)` (a run directory of `--recipe
    orientation`, its model.safetensors or its .onnx export; by default the shipped export)."""

    def __init__(self, run_batch: Callable[[np.ndarray], np.ndarray], info: dict, stride: int = 8,
                 temperature: float = 1.0, temperature_short: float = 1.0) -> None:
        self._run_batch = run_batch  # float32 (N, 1, 32, W) -> logits (N, W / 8, 2)
        self.info = info
        self.stride = stride
        # Calibrated on the validation lines (`orientationtask.calibrate_orientation`).
        self.temperature, self.temperature_short = temperature, temperature_short

    @classmethod
    def load(cls, path: str | Path | None = None) -> Orientation:
        run_batch, metadata, info = network_from_file(path, SHIPPED_ORIENTATION, "--orientation-model", threads=1)
        arch = metadata.get("arch")
        if arch not in ORIENTATION_ARCHS:
            kind = "a line reader" if arch in LINE_ARCHS else "a digit classifier"
            raise DigitlabError(f"--orientation-model {info['model']} is {kind} (arch {arch}), not an orientation "
                                "model: train one with `--recipe orientation`, or leave the option out.")
        return cls(run_batch, info, int(metadata_number(metadata.get("stride")) or 8),
                   metadata_number(metadata.get("temperature")) or 1.0,
                   metadata_number(metadata.get("temperature_short")) or 1.0)

    def turned_log_odds(self, images: list[np.ndarray], lengths: list[int]) -> list[float]:
        """Each line image's (`reading.line_image`, the right way up as found) calibrated log-odds
        of being upside down, given how many digits were read in it: above 0, the model thinks it
        turned."""
        out = []
        for image, length in zip(images, lengths):
            # Black columns up to a whole column of output, as the lines it learnt from were padded.
            padded = np.pad(image, ((0, 0), (0, -image.shape[1] % self.stride)))
            logits = self._run_batch(np.ascontiguousarray(padded[None, None], dtype=np.float32))[0]
            if not np.isfinite(logits).all():
                raise DigitlabError(f"the orientation model {self.info.get('model')} answers NaN or infinity: its "
                                    "weights are broken; retrain it (or export it again).")
            out.append(line_log_odds(logits) / (self.temperature_short if length <= SHORT_LINE else self.temperature))
        return out
