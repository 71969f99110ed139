"""A run directory's single commit point: a run killed at any moment resumes to the same run."""

import json
import os
import subprocess
import sys

import pytest

from digitlab import runs
from digitlab.atomic import remove_leftovers
from tests.conftest import REPO, run_cli

WITHOUT_SECONDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr")


@pytest.fixture(scope="module")
def killed_runs(tmp_path_factory) -> dict:
    """Every kill of `tests/killed_runs.py`: before and after each rename that completes a write."""
    work = tmp_path_factory.mktemp("killed")
    result = subprocess.run([sys.executable, "-m", "tests.killed_runs", str(work)], cwd=REPO, capture_output=True,
                            text=True, timeout=600, env=os.environ | {"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def rows(history: list[dict]) -> list[dict]:
    return [{key: row[key] for key in WITHOUT_SECONDS} for row in history]


def test_every_write_of_a_run_is_a_kill_point(killed_runs):
    # Three epochs, then the end: the model again with its metadata (metrics, recipe), then metrics.json.
    assert killed_runs["renames"] == (["config.json"] + [runs.TRAIN_STATE, runs.MODEL, runs.HISTORY] * 3
                                      + [runs.MODEL, runs.METRICS])
    # Killed just before and just after each of the 12 renames.
    assert len(killed_runs["kills"]) == 24 and all(kill["status"] == 137 for kill in killed_runs["kills"])
    assert [row["epoch"] for row in killed_runs["reference"]["history"]] == [1, 2, 3]
    # The kills did leave temporary files behind, so their clean-up is tested below.
    assert sum(bool(kill["killed"]["leftovers"]) for kill in killed_runs["kills"]) == 12


def test_after_a_kill_history_never_runs_ahead_of_the_commit_point_nor_lags_it_by_more_than_a_row(killed_runs):
    for kill in killed_runs["kills"]:
        on_disk = kill["killed"]
        epochs = [row["epoch"] for row in on_disk["history"]]
        committed = on_disk["state_epoch"] or 0
        assert epochs == list(range(1, len(epochs) + 1)), kill["at"]
        assert committed - 1 <= len(epochs) <= committed, kill["at"]
        # A model only once an epoch is committed, and never half-written (it was loaded to get here).
        assert on_disk["weights"] is None or committed >= 1, kill["at"]


def test_a_run_killed_anywhere_resumes_to_every_history_row_and_the_same_weights(killed_runs):
    reference = killed_runs["reference"]
    for kill in killed_runs["kills"]:
        committed = kill["killed"]["state_epoch"]
        if committed is None:  # killed before the first commit: nothing to resume, the user starts again
            assert kill["resumed_status"] == 2 and kill["restarted_status"] == 0, kill["at"]
        else:
            assert kill["resumed_status"] == 0, kill["at"]
            assert kill["messages"][0].endswith(f"after epoch {committed}/3"), kill["at"]
        resumed = kill["resumed"]
        assert rows(resumed["history"]) == rows(reference["history"]), kill["at"]
        assert resumed["weights"] == reference["weights"], kill["at"]
        assert resumed["metrics"]["test_accuracy"] == reference["metrics"]["test_accuracy"], kill["at"]
        assert resumed["metrics"]["train_seconds"] == pytest.approx(
            sum(row["seconds"] for row in resumed["history"]), abs=0.01), kill["at"]
        assert resumed["leftovers"] == [], kill["at"]


def test_resume_refuses_settings_it_would_ignore(tmp_path, mnist5k):
    from digitlab.config import TrainConfig
    from digitlab.datasets import Dataset, Split
    from digitlab.training import fit

    small = Dataset("mnist-5k", Split(mnist5k.train.images[:256], mnist5k.train.labels[:256]),
                    Split(mnist5k.test.images[:64], mnist5k.test.labels[:64]))
    fit(TrainConfig(arch="seed", epochs=1), tmp_path / "run", dataset=small, report=False, log=lambda s: None)
    before = (tmp_path / "run" / runs.MODEL).read_bytes()
    result = run_cli("train", "--resume", "--out", str(tmp_path / "run"), "--epochs", "8", "--arch", "seed")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"{tmp_path / 'run'} was started with --epochs 1; --resume continues a run with its own settings, " \
           "so --epochs 8 cannot apply" in result.stderr
    assert (tmp_path / "run" / runs.MODEL).read_bytes() == before


def test_resume_refuses_a_recipe_and_a_state_of_another_network(tmp_path, mnist5k):
    from digitlab.config import TrainConfig
    from digitlab.datasets import Dataset, Split
    from digitlab.training import fit

    small = Dataset("mnist-5k", Split(mnist5k.train.images[:256], mnist5k.train.labels[:256]),
                    Split(mnist5k.test.images[:64], mnist5k.test.labels[:64]))
    fit(TrainConfig(arch="seed", epochs=2), tmp_path / "run", dataset=small, report=False, log=lambda s: None)
    recipe = run_cli("train", "--resume", "--out", str(tmp_path / "run"), "--recipe", "reader")
    assert recipe.returncode == 2 and "leave out --recipe" in recipe.stderr and recipe.stderr.count("\n") == 1
    # The state of another network in the run's place: one line, not PyTorch's list of mismatches.
    fit(TrainConfig(arch="default", epochs=1), tmp_path / "other", dataset=small, report=False, log=lambda s: None)
    (tmp_path / "run" / runs.TRAIN_STATE).write_bytes((tmp_path / "other" / runs.TRAIN_STATE).read_bytes())
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    config["train"]["epochs"] = 3
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    swapped = run_cli("train", "--resume", "--out", str(tmp_path / "run"), "--no-report")
    assert swapped.returncode == 2 and swapped.stderr.count("\n") == 1, swapped.stderr
    assert "damaged training state (RuntimeError: Error(s) in loading state_dict" in swapped.stderr


def test_leftovers_are_only_the_temporary_files_of_atomic_writes(tmp_path):
    (tmp_path / ".model.safetensors.k2j3h4g5.tmp").write_bytes(b"half")
    (tmp_path / "model.safetensors").write_bytes(b"kept")
    (tmp_path / "notes.tmp").write_text("a user's file, kept")
    assert [p.name for p in remove_leftovers(tmp_path)] == [".model.safetensors.k2j3h4g5.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "notes.tmp"]
