"""Checkpoint files: weights checksums, damaged metadata, broken weights, failed writes."""

import json
import shutil
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from digitlab.checkpoint import load_model, save_model
from digitlab.errors import DigitlabError
from tests.conftest import clean_scan, run_cli, run_cli_on_a_full_disk


@pytest.fixture
def model_copy(seed_run, tmp_path):
    """A copy of the seed run's model (and metrics), free to damage."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("model.safetensors", "metrics.json"):
        shutil.copy(seed_run / name, run_dir / name)
    return run_dir


@pytest.fixture(scope="module")
def scan(tmp_path_factory, mnist_glyph):
    path = tmp_path_factory.mktemp("scan") / "seven.png"
    clean_scan(mnist_glyph[0]).save(path)
    return path


def one_line_error(result) -> str:
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("digitlab: error: ")
    return result.stderr


def test_flipped_weight_bytes_are_refused_as_corrupt(model_copy, scan):
    path = model_copy / "model.safetensors"
    data = bytearray(path.read_bytes())
    header = 8 + struct.unpack("<Q", data[:8])[0]  # the tensors' bytes start after the JSON header
    rng = np.random.default_rng(10)
    for offset in rng.choice(np.arange(header, len(data)), size=200, replace=False):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DigitlabError, match="the weights are corrupt"):
        load_model(path)
    assert "the weights are corrupt" in one_line_error(run_cli("predict", "--model", str(model_copy), str(scan)))


def test_model_saved_before_checksums_still_loads(model_copy, seed_run):
    path = model_copy / "model.safetensors"
    _, metadata = load_model(path)
    tensors = load_file(str(path))
    old = {"format": "digitlab-1", "arch": metadata["arch"], "classes": json.dumps(metadata["classes"])}
    save_file(tensors, str(path), metadata=old)
    model, _ = load_model(path)
    reference, _ = load_model(seed_run / "model.safetensors")
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(model(x), reference(x))


@pytest.mark.parametrize("classes, message", [
    (None, "no valid class names"),
    ("[0, 1, not json", "no valid class names"),
    ('{"0": "zero"}', "no valid class names"),
])
def test_damaged_metadata_is_one_line(model_copy, scan, classes, message):
    path = model_copy / "model.safetensors"
    tensors = load_file(str(path))
    metadata = {"format": "digitlab-1", "arch": "seed"} | ({"classes": classes} if classes is not None else {})
    save_file(tensors, str(path), metadata=metadata)
    assert message in one_line_error(run_cli("predict", "--model", str(model_copy), str(scan)))


def test_model_with_nan_weights_is_refused(model_copy, scan):
    path = model_copy / "model.safetensors"
    model, metadata = load_model(path)
    with torch.no_grad():
        model.classifier[-1].weight.fill_(float("nan"))  # the last layer, as a diverged run leaves it
    save_model(path, model, metadata["arch"], tuple(metadata["classes"]))  # with a valid checksum
    assert "NaN or infinite" in one_line_error(run_cli("predict", "--model", str(model_copy), str(scan)))


def test_disk_full_while_writing_a_checkpoint_is_one_line(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli_on_a_full_disk(200_000, "train", "--arch", "seed", "--epochs", "1", "--no-augment",
                                    "--out", str(run_dir), "--no-report")
    assert f"cannot write {run_dir / 'train_state.safetensors'}" in one_line_error(result)
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.json"]  # no half-written or temporary file
