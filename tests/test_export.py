import subprocess
import sys

import numpy as np
import pytest

from digitlab.predict import Predictor
from tests.conftest import REPO, clean_scan, run_cli


@pytest.fixture(scope="module")
def onnx_model(trained_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "digits.onnx"
    result = run_cli("export", "--model", str(trained_run), "--onnx", str(path))
    assert result.returncode == 0, result.stderr
    return path


def test_onnx_matches_pytorch_on_real_digits(trained_run, onnx_model, mnist5k):
    images = mnist5k.test.images.numpy()
    torch_p = Predictor.load(trained_run).predict_proba(images)
    onnx_p = Predictor.load(onnx_model).predict_proba(images)
    assert (torch_p.argmax(1) == onnx_p.argmax(1)).all()
    assert np.abs(torch_p - onnx_p).max() < 1e-4


def test_onnx_metadata_and_dynamic_batch(onnx_model):
    import onnx

    model = onnx.load(str(onnx_model))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["classes"] == '["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]'
    assert "light ink on a black" in meta["input"] and meta["arch"] == "default"
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_predict_with_onnx_never_imports_torch(onnx_model, font_glyph, tmp_path):
    clean_scan(font_glyph("4", "Humor-Sans")).save(tmp_path / "four.png")
    code = ("import sys; from digitlab.cli import main; rc = main(['predict', '--model', sys.argv[1], sys.argv[2]]); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code, str(onnx_model), str(tmp_path / "four.png")],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert ": 4 (" in result.stdout


def test_export_needs_onnx_suffix(trained_run, tmp_path):
    result = run_cli("export", "--model", str(trained_run), "--onnx", str(tmp_path / "model.bin"))
    assert result.returncode == 2 and "should end in .onnx" in result.stderr


def test_the_shipped_models_export_and_answer_as_in_pytorch(tmp_path, mnist5k):
    """The calibrated digit model (its temperature and threshold travel in the metadata) and the
    line reader (any width of line) answer on onnxruntime as they do in PyTorch."""
    from digitlab.predict import SHIPPED_LINES, Reader, shipped_model

    digits = tmp_path / "digits.onnx"
    assert run_cli("export", "--onnx", str(digits)).returncode == 0
    shipped, exported = Predictor.load(), Predictor.load(digits)
    assert exported.temperature == shipped.temperature and exported.uncertain_below == shipped.uncertain_below
    images = mnist5k.test.images[:200].numpy()
    assert np.abs(shipped.predict_proba(images) - exported.predict_proba(images)).max() < 1e-4

    lines = tmp_path / "lines.onnx"
    result = run_cli("export", "--model", str(shipped_model(SHIPPED_LINES)), "--onnx", str(lines))
    assert result.returncode == 0, result.stderr
    number = REPO / "examples" / "number-2026.jpg"
    torch_reading, onnx_reading = Reader.load().read(number), Reader.load(lines).read(number)
    assert onnx_reading.text == torch_reading.text == "2026"
    for a, b in zip(onnx_reading.digits, torch_reading.digits):
        assert a["box"] == b["box"] and abs(a["confidence"] - b["confidence"]) < 1e-4
    read = run_cli("read", "--model", str(lines), str(number))
    assert read.returncode == 0 and ": 2026 " in read.stdout
