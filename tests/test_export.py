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
    from digitlab.networks import SHIPPED_LINES, shipped_model
    from digitlab.predict import Reader

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
    # Both "not sure" thresholds travel: the line reader's alone and the one calibrated with the digit model.
    assert (Reader.load(lines).uncertain_below, Reader.load(lines).asking_below) == (
        Reader.load().uncertain_below, Reader.load().asking_below)
    assert onnx_reading.text == torch_reading.text == "2026"
    for a, b in zip(onnx_reading.digits, torch_reading.digits):
        assert a["box"] == b["box"] and abs(a["confidence"] - b["confidence"]) < 1e-4
    read = run_cli("read", "--model", str(lines), str(number))
    assert read.returncode == 0 and ": 2026 " in read.stdout
    # Both models exported: reading runs on onnxruntime alone.
    code = ("import sys; from digitlab.cli import main; rc = main(['read', '--model', sys.argv[1], '--digit-model', "
            "sys.argv[2], sys.argv[3]]); assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code, str(lines), str(digits), str(number)], capture_output=True,
                            text=True, cwd=REPO)
    assert result.returncode == 0 and ": 2026 " in result.stdout, result.stderr


def edited_copy(onnx_model, tmp_path, edit) -> str:
    import onnx

    model = onnx.load(str(onnx_model))
    edit(model)
    path = tmp_path / "edited.onnx"
    onnx.save(model, str(path))
    return str(path)


def set_metadata(key: str, value: str | None):
    def edit(model) -> None:
        entries = [(p.key, p.value) for p in model.metadata_props if p.key != key]
        del model.metadata_props[:]
        for k, v in entries + ([(key, value)] if value is not None else []):
            model.metadata_props.add(key=k, value=v)
    return edit


@pytest.mark.parametrize("key, value, message", [
    ("classes", None, "no valid class names"),
    ("classes", "not json", "no valid class names"),
    ("test_accuracy", "very good", "test_accuracy 'very good', not a number"),
])
def test_damaged_onnx_metadata_is_one_line(onnx_model, font_glyph, tmp_path, key, value, message):
    clean_scan(font_glyph("4", "Humor-Sans")).save(tmp_path / "four.png")
    result = run_cli("predict", "--model", edited_copy(onnx_model, tmp_path, set_metadata(key, value)),
                     str(tmp_path / "four.png"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr


def test_nan_outputs_are_an_error_not_an_answer(onnx_model, font_glyph, tmp_path):
    from onnx import numpy_helper

    def poison_last_layer(model) -> None:
        for init in model.graph.initializer:
            array = numpy_helper.to_array(init)
            if array.dtype == np.float32 and 10 in array.shape:  # the last layer's weight and bias
                init.CopyFrom(numpy_helper.from_array(np.full_like(array, np.nan), init.name))

    clean_scan(font_glyph("4", "Humor-Sans")).save(tmp_path / "four.png")
    poisoned = edited_copy(onnx_model, tmp_path, poison_last_layer)
    result = run_cli("predict", "--model", poisoned, str(tmp_path / "four.png"))
    assert result.returncode == 2 and result.stdout == "" and result.stderr.count("\n") == 1
    assert "answers NaN or infinity" in result.stderr


def test_disk_full_while_exporting_is_one_line(seed_run, tmp_path):
    from tests.conftest import run_cli_on_a_full_disk

    out = tmp_path / "model.onnx"
    result = run_cli_on_a_full_disk(100_000, "export", "--model", str(seed_run), "--onnx", str(out))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"cannot write {out}" in result.stderr
    assert list(tmp_path.iterdir()) == []  # neither the model nor a temporary file


def test_an_onnx_session_takes_its_share_of_the_cores(onnx_model, monkeypatch):
    """Pool and server workers give each process its share through OMP_NUM_THREADS; onnxruntime
    must follow it (its idle threads spin: two sessions claiming both cores read no faster than
    one), and an explicit count wins."""
    from digitlab.export import load_onnx_session

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert load_onnx_session(onnx_model)[0].get_session_options().intra_op_num_threads == 1
    assert load_onnx_session(onnx_model, threads=2)[0].get_session_options().intra_op_num_threads == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "lots")  # not a count: onnxruntime's own default
    assert load_onnx_session(onnx_model)[0].get_session_options().intra_op_num_threads == 0
