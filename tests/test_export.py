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
