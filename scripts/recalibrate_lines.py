"""The line reader's "not sure" threshold for reading with a digit model, computed again for a
line reader that is already trained: what `digitlab train --recipe lines --digit-model D` computes
when its training ends (`linetask.asking_metrics`), written into a copy of the line reader's file.

A new digit model, or a change to how the line reader asks it, moves the confidences of the digits
it is asked about; this keeps the threshold true without training the line reader again.

    python scripts/recalibrate_lines.py LINES.safetensors DIGITS.safetensors [--out OUT.safetensors]

Without --out it prints the figures only. The metadata's recipe (and the digit model it names)
stays as trained; the figures of the calibration are replaced.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from digitlab.checkpoint import load_model, read_safetensors, write_safetensors
from digitlab.config import TrainConfig
from digitlab.errors import DigitlabError
from digitlab.linetask import asking_metrics, held_out_lines, line_probabilities, second_opinion_of, split_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lines", type=Path, help="the line reader's model.safetensors")
    parser.add_argument("digits", help="the digit model it asks (a run directory or model.safetensors)")
    parser.add_argument("--out", type=Path, help="where to write the recalibrated copy")
    args = parser.parse_args()

    tensors, metadata = read_safetensors(args.lines, "a line reader")
    opinion = second_opinion_of(args.digits)  # a wrong path stops here, before the lines are read
    config = TrainConfig.from_dict(json.loads(metadata["recipe"]))
    device = torch.device("cpu")
    model, _ = load_model(args.lines)
    model = model.to(device, memory_format=torch.channels_last)
    val_lines, test_lines = held_out_lines(*split_sources(config.data)[1:])
    new = asking_metrics(val_lines, line_probabilities(model, device, val_lines), test_lines,
                         line_probabilities(model, device, test_lines), opinion, config)
    metrics = json.loads(metadata["metrics"])
    for name in ("uncertain_below_asking", "val_correct_flagged_asking", "test_accuracy_asking"):
        print(f"{name}: {metrics.get(name)} -> {new[name]}")
    if args.out is not None:
        updated = {k: v for k, v in metadata.items() if k != "weights_sha256"}
        updated |= {"metrics": json.dumps(metrics | new), "uncertain_below_asking": str(new["uncertain_below_asking"])}
        write_safetensors(args.out, tensors, updated)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    try:
        main()
    except DigitlabError as exc:
        raise SystemExit(f"recalibrate_lines: {exc}") from None
