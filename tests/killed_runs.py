"""Kill a small training run at every file operation of its checkpoints, resume it, and report what
is on disk after each kill and after each resume, as JSON on stdout. Used by `test_runs.py`:

    OMP_NUM_THREADS=1 python -m tests.killed_runs WORK_DIR

Each killed run is a forked child that ends with `os._exit` just before or just after one of the
renames that finish an atomic write: as sudden as SIGKILL (no clean-up, temporary files left
behind), but at an exact moment, with no timing involved. Everything runs on one thread, so that
forking a process that has used PyTorch is safe and every run is bit-for-bit reproducible.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

import digitlab.evaluation  # noqa: F401 -- imported once here rather than by every forked child
from digitlab import runs
from digitlab.checkpoint import load_model, weights_checksum
from digitlab.config import TrainConfig
from digitlab.datasets import Dataset, Split, load_dataset
from digitlab.errors import DigitlabError
from digitlab.training import fit

CONFIG = TrainConfig(arch="seed", epochs=3, batch_size=64, augment=True, seed=1)
KILLED = 137


def small_dataset() -> Dataset:
    full = load_dataset("mnist-5k")
    return Dataset(full.name, Split(full.train.images[:384], full.train.labels[:384]),
                   Split(full.test.images[:128], full.test.labels[:128]), full.classes, full.source)


def in_child(work, *args) -> int:
    """Run `work(*args)` in a forked child; its exit status."""
    pid = os.fork()
    if pid == 0:
        try:
            work(*args)
            code = 0
        except DigitlabError as exc:
            print(f"digitlab: error: {exc}", file=sys.stderr)
            code = 2
        except BaseException:  # a bug: show it, and never let the child return into the parent's loop
            import traceback
            traceback.print_exc()
            code = 3
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def renames_into(run_dir: Path, log: list[str], kill_at: tuple[int, str] | None = None):
    """Watch (and with `kill_at` = (index, "before" | "after"), end the process at) the renames
    that complete atomic writes into `run_dir`; returns the real `os.replace`."""
    real_replace = os.replace

    def replace(src, dst, **kwargs):
        inside = Path(dst).resolve().parent in (run_dir.resolve(), (run_dir / runs.REPORT).resolve())
        index = len(log)
        if inside and kill_at == (index, "before"):
            os._exit(KILLED)
        real_replace(src, dst, **kwargs)
        if inside:
            log.append(Path(dst).name)
            if kill_at == (index, "after"):
                os._exit(KILLED)

    os.replace = replace
    return real_replace


def train(run_dir: Path, dataset: Dataset, resume: bool, kill_at: tuple[int, str] | None = None,
          log_file: Path | None = None) -> None:
    log: list[str] = []
    messages: list[str] = []
    real_replace = renames_into(run_dir, log, kill_at)
    try:
        fit(CONFIG, run_dir, resume=resume, report=False, dataset=dataset, log=messages.append, show_progress=False)
    finally:
        os.replace = real_replace
    if log_file:
        log_file.write_text(json.dumps({"renames": log, "messages": messages}))


def describe(run_dir: Path) -> dict:
    """What a user would find in `run_dir`."""
    state = None
    if (run_dir / runs.TRAIN_STATE).is_file():
        from safetensors import safe_open

        with safe_open(str(run_dir / runs.TRAIN_STATE), framework="pt") as f:
            state = int(f.metadata()["epoch"])
    weights = None
    if (run_dir / runs.MODEL).is_file():
        model, _ = load_model(run_dir / runs.MODEL)  # raises if half-written or corrupt
        weights = weights_checksum(model.state_dict())
    return {"state_epoch": state, "history": runs.read_history(run_dir), "weights": weights,
            "metrics": runs.read_metrics(run_dir),
            "leftovers": sorted(p.name for p in run_dir.rglob("*.tmp")) if run_dir.is_dir() else []}


def main(work: Path) -> None:
    torch.set_num_threads(1)
    dataset = small_dataset()
    reference_dir = work / "reference"
    log_file = work / "reference.json"
    # In this process, so that the forked runs inherit its warmed-up kernels (several times faster).
    train(reference_dir, dataset, False, None, log_file)
    renames = json.loads(log_file.read_text())["renames"]
    report = {"reference": describe(reference_dir), "renames": renames, "kills": []}
    for index, target in enumerate(renames):
        for moment in ("before", "after"):
            run_dir = work / f"kill-{index:02d}-{moment}"
            status = in_child(train, run_dir, dataset, False, (index, moment))
            killed = describe(run_dir)
            resume_log = run_dir.parent / f"{run_dir.name}.json"
            resumed_status = in_child(train, run_dir, dataset, True, None, resume_log)
            restarted_status = None
            if killed["state_epoch"] is None:  # nothing committed: resuming is refused and the user starts again
                restarted_status = in_child(train, run_dir, dataset, False, None, resume_log)
            messages = json.loads(resume_log.read_text())["messages"] if resume_log.is_file() else []
            report["kills"].append({"at": f"{moment} renaming {target} (#{index})", "status": status,
                                    "killed": killed, "resumed_status": resumed_status,
                                    "restarted_status": restarted_status, "resumed": describe(run_dir),
                                    "messages": messages[:1]})
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
