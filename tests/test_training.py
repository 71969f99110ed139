import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image
from safetensors import safe_open

from digitlab import training
from digitlab.checkpoint import load_model
from digitlab.config import TrainConfig
from digitlab.models import build_model
from digitlab.training import TensorLoader, fit, train_model
from digitlab.training import test as evaluate_loader
from tests.conftest import REPO, run_cli


def test_train_model_with_a_torch_dataloader_learns(mnist5k):
    torch.manual_seed(0)
    dataset = torch.utils.data.TensorDataset(mnist5k.train.images.unsqueeze(1).float() / 255, mnist5k.train.labels)
    loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True)
    model = build_model("seed")
    losses = train_model(model, loader, num_epochs=2)
    assert len(losses) == 2 and losses[1] < losses[0]
    _, accuracy = evaluate_loader(model, torch.device("cpu"), TensorLoader(mnist5k.test, 1000, torch.device("cpu")))
    assert accuracy > 0.85  # chance is 0.10


def test_run_directory_has_every_artifact(trained_run):
    config = json.loads((trained_run / "config.json").read_text())
    assert config["train"]["arch"] == "default" and config["train"]["seed"] == 0
    assert config["dataset"]["name"] == "mnist-5k" and config["digitlab_version"]
    with open(trained_run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 5))
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["n_train"] == 4000 and metrics["n_test"] == 1000
    assert metrics["test_accuracy"] > 0.95 and metrics["train_seconds"] > 0
    assert set(metrics["per_class"]["7"]) == {"precision", "recall", "f1", "support"}
    model, metadata = load_model(trained_run / "model.safetensors")
    assert metadata["arch"] == "default" and metadata["classes"] == [str(d) for d in range(10)]
    assert not list(trained_run.rglob("*.tmp"))


def test_report_files_are_valid(trained_run):
    report = trained_run / "report"
    for name in ("learning_curves.png", "confusion_matrix.png", "misclassified.png"):
        with Image.open(report / name) as image:
            image.verify()
            assert image.size[0] > 300
    rows = (report / "confusion_matrix.csv").read_text().splitlines()
    assert len(rows) == 11
    assert sum(int(v) for row in rows[1:] for v in row.split(",")[1:]) == 1000
    assert "precision" in (report / "classification_report.txt").read_text()
    page = (report / "report.html").read_text()
    assert all(name in page for name in ("learning_curves.png", "confusion_matrix.png", "misclassified.png"))


def test_evaluate_cli_recomputes_metrics(trained_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    trained = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").unlink()
    result = run_cli("evaluate", str(run))
    assert result.returncode == 0, result.stderr
    recomputed = json.loads((run / "metrics.json").read_text())
    assert recomputed["test_accuracy"] == pytest.approx(trained["test_accuracy"])
    assert recomputed["n_test"] == 1000 and set(recomputed["per_class"]) == {str(d) for d in range(10)}
    assert f"test_accuracy {trained['test_accuracy']:.4f}" in result.stdout and "precision" in result.stdout


def test_evaluate_takes_an_onnx_export_and_agrees_with_its_run(trained_run, tmp_path):
    onnx = tmp_path / "model.onnx"
    assert run_cli("export", "--model", str(trained_run), "--onnx", str(onnx)).returncode == 0
    result = run_cli("evaluate", str(onnx), "--data", "mnist-5k", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    exported = json.loads((tmp_path / "evaluations" / "model-mnist-5k" / "metrics.json").read_text())
    trained = json.loads((trained_run / "metrics.json").read_text())
    assert exported["test_accuracy"] == pytest.approx(trained["test_accuracy"], abs=0.001)


def test_resume_after_sigkill_mid_epoch(tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "digitlab", "train", "--epochs", "5", "--out", str(run_dir),
                                "--no-report"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history = run_dir / "history.csv"
    deadline = time.monotonic() + 600  # generous: on a shared machine two epochs have taken over 120 s
    while time.monotonic() < deadline and not (history.exists() and len(history.read_text().splitlines()) >= 3):
        time.sleep(0.1)  # polling for epoch 2's row; the kill lands wherever the run then is
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with safe_open(str(run_dir / "train_state.safetensors"), framework="pt") as f:
        done = int(f.metadata()["epoch"])  # the commit point; history.csv may lag it by a row
    assert 2 <= done < 5
    load_model(run_dir / "model.safetensors")  # never half-written
    result = run_cli("train", "--resume", "--out", str(run_dir), "--no-report")
    assert result.returncode == 0, result.stderr
    assert f"resuming {run_dir} after epoch {done}/5" in result.stdout
    with open(history) as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2, 3, 4, 5]
    assert json.loads((run_dir / "metrics.json").read_text())["test_accuracy"] > 0.9


def test_resume_is_exact(tmp_path, mnist5k):
    # A constant schedule, so that epoch 1 of a 1-epoch run is epoch 1 of a 2-epoch run.
    config = TrainConfig(arch="seed", epochs=2, augment=True, schedule="constant")
    straight = fit(config, tmp_path / "a", dataset=mnist5k, report=False, log=lambda s: None)
    fit(TrainConfig(arch="seed", epochs=1, augment=True, schedule="constant"), tmp_path / "b", dataset=mnist5k,
        report=False, log=lambda s: None)
    # Pretend run b was configured for 2 epochs and stopped after the first.
    config_b = json.loads((tmp_path / "b" / "config.json").read_text())
    config_b["train"]["epochs"] = 2
    (tmp_path / "b" / "config.json").write_text(json.dumps(config_b))
    resumed = fit(TrainConfig(), tmp_path / "b", resume=True, dataset=mnist5k, report=False, log=lambda s: None)
    # The resumed epoch 2 is the straight run's epoch 2, bit for bit (timings aside).
    for resumed_row, straight_row in zip(resumed.history, straight.history):
        assert resumed_row == straight_row | {"seconds": resumed_row["seconds"]}
    assert len(resumed.history) == 2
    assert resumed.metrics["test_accuracy"] == straight.metrics["test_accuracy"]


@pytest.mark.parametrize("empty", ["train", "test"])
def test_empty_split_is_one_error(tmp_path, mnist5k, empty):
    from digitlab.datasets import Dataset, Split
    from digitlab.errors import DigitlabError

    none = Split(mnist5k.test.images[:0], mnist5k.test.labels[:0])
    some = Split(mnist5k.test.images[:64], mnist5k.test.labels[:64])
    dataset = Dataset("tiny", none if empty == "train" else some, none if empty == "test" else some)
    with pytest.raises(DigitlabError, match=f"data set tiny has an empty {empty} split"):
        fit(TrainConfig(arch="seed", epochs=1), tmp_path / "run", dataset=dataset, report=False, log=lambda s: None)


def test_existing_run_is_not_overwritten(trained_run):
    result = run_cli("train", "--epochs", "1", "--out", str(trained_run))
    assert result.returncode == 2
    assert "already holds a run: pass --resume" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [(["--epochs", "0"], "epochs must be at least 1"),
                                           (["--arch", "resnet"], "unknown arch 'resnet'"),
                                           (["--digit-model", "runs/x"], "digit_model is for the line reader"),
                                           (["--recipe", "lines", "--digit-model", "/nonexistent"],
                                            "--digit-model /nonexistent: no such run directory"),
                                           (["--lr", "-1"], "lr must be positive"),
                                           (["--epochs", "2", "--average-from", "3"],
                                            "average_from must be an epoch of the run (1 to 2) or 0, got 3"),
                                           (["--arch", "orient"], "arch 'orient' does not fit task 'digits'"),
                                           (["--data", "folder:/nonexistent"], "is not a directory")])
def test_bad_training_options_are_one_line_errors(tmp_path, args, message):
    result = run_cli("train", "--out", str(tmp_path / "r"), *args)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def trains_one_epoch_then_resumes_to_two(config: TrainConfig, run_dir) -> None:
    """One epoch of a 2-epoch `config`, then the run continued as a killed run would be."""
    first = fit(dataclasses.replace(config, epochs=1), run_dir, log=lambda s: None)
    assert [row["epoch"] for row in first.history] == [1]
    saved = json.loads((run_dir / "config.json").read_text())
    saved["train"]["epochs"] = 2
    (run_dir / "config.json").write_text(json.dumps(saved))
    resumed = fit(config, run_dir, resume=True, log=lambda s: None)
    assert [row["epoch"] for row in resumed.history] == [1, 2]


def test_the_line_reader_trains_through_the_same_fit_and_resumes(tmp_path):
    from digitlab.linetask import TEST_LINES
    from digitlab.networks import shipped_model

    # With the digit model `read` will ask, whose opinion the "not sure" threshold is calibrated for too.
    # Its weights averaged over both epochs, as the second reader's are (`--average-from`).
    config = TrainConfig.from_recipe("lines", data="mnist-5k", epochs=2, steps_per_epoch=3, batch_size=8, threads=1,
                                     digit_model=str(shipped_model()), average_from=1)
    trains_one_epoch_then_resumes_to_two(config, tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n_test"] == TEST_LINES and 0 <= metrics["digit_error_rate"] <= 1
    # The test loss is the averaged model's, not the last epoch's.
    last_epoch = [row for row in csv.DictReader(open(tmp_path / "run" / "history.csv"))][-1]
    assert metrics["test_loss"] != pytest.approx(float(last_epoch["val_loss"]))
    model, metadata = load_model(tmp_path / "run" / "model.safetensors")
    assert metadata["arch"] == "crnn-wide" and json.loads(metadata["recipe"])["task"] == "lines"
    assert metadata["input"].startswith("float32 (N, 1, 32, W)")  # a line, not a 28x28 digit
    assert float(metadata["uncertain_below_asking"]) == metrics["uncertain_below_asking"]
    assert 0 <= metrics["test_accuracy_asking"] <= 1 and metrics["digit_model"] == str(shipped_model())
    for name in ("learning_curves.png", "misread_lines.png", "report.html"):
        assert (tmp_path / "run" / "report" / name).is_file()


def test_a_run_can_start_from_another_runs_weights(trained_run, tmp_path):
    # At a learning rate too small to learn anything in one epoch, the run reads as the model it
    # started from; from random weights it reads by chance.
    config = TrainConfig(epochs=1, lr=1e-7, schedule="constant", threads=1)
    started = fit(dataclasses.replace(config, init=str(trained_run)), tmp_path / "started", report=False,
                  log=lambda s: None)
    fresh = fit(config, tmp_path / "fresh", report=False, log=lambda s: None)
    assert started.metrics["test_accuracy"] > 0.95 and fresh.metrics["test_accuracy"] < 0.3
    assert json.loads((tmp_path / "started" / "config.json").read_text())["train"]["init"] == str(trained_run)


def test_weights_that_do_not_fit_the_arch_are_one_line(tmp_path):
    from digitlab.errors import DigitlabError
    from digitlab.networks import shipped_model

    config = TrainConfig(epochs=1, threads=1, init=str(shipped_model("lines.safetensors")))
    with pytest.raises(DigitlabError, match="do not fit this run's arch") as refused:
        fit(config, tmp_path / "lines-into-digits", report=False, log=lambda s: None)
    assert "\n" not in str(refused.value) and not (tmp_path / "lines-into-digits").exists()
    result = run_cli("train", "--epochs", "1", "--init", str(tmp_path / "nothing"), "--out", str(tmp_path / "run"))
    assert result.returncode != 0 and "no model at" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_the_orientation_model_trains_through_the_same_fit_and_resumes(tmp_path):
    from digitlab.orientationtask import TEST_LINES

    config = TrainConfig.from_recipe("orientation", data="mnist-5k", epochs=2, steps_per_epoch=3, batch_size=8,
                                     threads=1)
    trains_one_epoch_then_resumes_to_two(config, tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    # Every test line is shown both ways up, so a model that always answers one way scores 50%.
    assert metrics["n_test"] == 2 * TEST_LINES and 0 <= metrics["test_upright_kept"] <= 1
    assert abs(metrics["test_accuracy"] - (metrics["test_upright_kept"] + metrics["test_turned_found"]) / 2) < 1e-9
    _, metadata = load_model(tmp_path / "run" / "model.safetensors")
    assert metadata["arch"] == "orient" and metadata["classes"] == ["upright", "turned"]
    assert "turned by 180 degrees" in metadata["input"]
    # Calibrated on the validation lines; `read` divides the log-odds by these.
    assert float(metadata["temperature_short"]) == metrics["temperature_short"] > 0
    assert float(metadata["temperature"]) == metrics["temperature"] > 0
    for name in ("learning_curves.png", "misread_lines.png", "report.html"):
        assert (tmp_path / "run" / "report" / name).is_file()
    # It exports to ONNX and reads beside the shipped line reader.
    from digitlab.export import export_onnx
    from digitlab.predict import Reader

    onnx_path = export_onnx(tmp_path / "run", tmp_path / "orientation.onnx")
    reader = Reader.load(orientation=onnx_path)
    assert reader.orientation.info["backend"] == "onnxruntime" and reader.orientation.info["model"] == str(onnx_path)
    assert reader.read(REPO / "examples" / "number-2026.jpg").text.isdigit()


def test_averaging_the_weights_gives_the_mean_of_the_epochs_and_resumes_exactly(tmp_path, mnist5k, monkeypatch):
    # A constant schedule, so that the runs' first epochs are one and the same epoch.
    config = TrainConfig(arch="seed", epochs=2, schedule="constant", threads=1)
    quiet = dict(dataset=mnist5k, report=False, log=lambda s: None)
    fit(dataclasses.replace(config, epochs=1), tmp_path / "one", **quiet)
    fit(config, tmp_path / "two", **quiet)
    passes = []
    monkeypatch.setattr(training, "test", lambda *args: passes.append(args) or evaluate_loader(*args))
    averaged = fit(dataclasses.replace(config, average_from=1), tmp_path / "averaged", **quiet)
    # The digit task's evaluation measures the average's test loss: no further pass over the test split.
    assert len(passes) == config.epochs
    monkeypatch.undo()
    weights = {name: load_model(tmp_path / name / "model.safetensors")[0].state_dict()
               for name in ("one", "two", "averaged")}
    for key, value in weights["averaged"].items():
        torch.testing.assert_close(value, (weights["one"][key] + weights["two"][key]) / 2)
    assert averaged.metrics["test_accuracy"] > 0.7  # learnt (by chance: 0.1)
    # Stopped after its first epoch and resumed, the averaged run ends with the same weights.
    fit(dataclasses.replace(config, epochs=1, average_from=1), tmp_path / "stopped", **quiet)
    saved = json.loads((tmp_path / "stopped" / "config.json").read_text())
    saved["train"]["epochs"] = 2
    (tmp_path / "stopped" / "config.json").write_text(json.dumps(saved))
    fit(config, tmp_path / "stopped", resume=True, **quiet)
    resumed = load_model(tmp_path / "stopped" / "model.safetensors")[0].state_dict()
    for key, value in weights["averaged"].items():
        assert torch.equal(resumed[key], value)
