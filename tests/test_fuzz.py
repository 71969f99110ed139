"""Seeded, bounded fuzzing (issue #10): 300 byte-mutated pictures in six formats, plus the special
cases (special files, a picture Pillow cannot convert, a decompression bomb, an empty file), through
`Predictor.predict`, `Reader.read`, the CLI and the server. Whatever the bytes, nothing ends in a
traceback, every batch finishes, each bad file gets one line naming it, and the good files are
answered. `predict` gets every file; `read`, which costs several model runs per picture, gets the
first `READ_MUTANTS` mutants of each format with the good files and the special cases."""

import io
import json
import os
from pathlib import Path

import httpx
import numpy as np
import pytest

from digitlab.errors import DigitlabError
from digitlab.predict import Prediction, Predictor, Reader, Reading
from tests.conftest import clean_scan, run_cli
from tests.scanmaker import lab_tiff
from tests.test_preprocessing import png_with_size

FORMATS = ("PNG", "JPEG", "GIF", "TIFF", "BMP", "WEBP")
MUTANTS_PER_FORMAT = 50
READ_MUTANTS = 10
SEED = 20261125


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One of the damages real files suffer, or a hostile user makes."""
    data = bytearray(data)
    kind = int(rng.integers(5))
    if kind == 0:  # a few bytes anywhere
        for i in rng.integers(0, len(data), size=int(rng.integers(1, 16))):
            data[i] ^= int(rng.integers(1, 256))
    elif kind == 1:  # the header, where sizes, offsets and counts live
        for i in rng.integers(0, min(64, len(data)), size=int(rng.integers(1, 4))):
            data[i] = int(rng.integers(0, 256))
    elif kind == 2:  # cut short
        del data[int(rng.integers(1, len(data))):]
    elif kind == 3:  # a slice repeated
        start = int(rng.integers(len(data)))
        data[start:start] = data[start:start + int(rng.integers(1, 4096))]
    else:  # a run overwritten
        start, length = int(rng.integers(len(data))), int(rng.integers(1, 512))
        data[start:start + length] = bytes([int(rng.choice([0, 255]))]) * length
    return bytes(data)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, mnist_glyph) -> dict:
    """Good scans of a "7" in every format, their mutants and the special cases, as files."""
    folder = tmp_path_factory.mktemp("fuzz")
    scan = clean_scan(mnist_glyph[0], side=160)
    rng = np.random.default_rng(SEED)
    good, uploads = [], {}
    for fmt in FORMATS:
        buffer = io.BytesIO()
        scan.save(buffer, fmt)
        original = buffer.getvalue()
        good.append(folder / f"good.{fmt.lower()}")
        uploads[good[-1].name] = original
        for k in range(MUTANTS_PER_FORMAT):
            uploads[f"mutant-{k:02d}.{fmt.lower()}"] = mutate(original, rng)
    uploads["lab.tif"] = lab_tiff(scan)
    uploads["bomb.png"] = png_with_size(30000, 30000)
    uploads["empty.png"] = b""
    for name, data in uploads.items():
        (folder / name).write_bytes(data)
    os.mkfifo(folder / "fifo.png")
    (folder / "folder.png").mkdir()
    files = sorted(p for p in folder.iterdir()) + [Path("/dev/zero")]
    to_read = [p for p in files if not p.name.startswith("mutant-") or int(p.name[7:9]) < READ_MUTANTS]
    return {"folder": folder, "files": files, "to_read": to_read, "good": good, "uploads": uploads}


def assert_one_line_naming(error: DigitlabError | str, path: Path) -> None:
    text = str(error)
    assert "\n" not in text and text.startswith(f"{path}: "), text


def test_predict_answers_the_good_files_and_names_each_bad_one(trained_run, corpus):
    files = corpus["files"]
    results = Predictor.load(trained_run).predict(files)  # over 64 files: the worker-process path
    assert len(results) == len(files)
    for path, result in zip(files, results):
        assert isinstance(result, Prediction | DigitlabError), (path, result)
        if isinstance(result, DigitlabError):
            assert_one_line_naming(result, path)
        if path in corpus["good"]:
            assert isinstance(result, Prediction) and result.digit == 7, (path, result)
    assert sum(isinstance(r, DigitlabError) for r in results) >= len(files) // 2  # the mutants did hurt


def test_read_answers_the_good_files_and_names_each_bad_one(corpus):
    reader = Reader.load()
    for path in corpus["to_read"]:
        try:
            reading = reader.read(path)
        except DigitlabError as exc:
            assert_one_line_naming(exc, path)
            assert path not in corpus["good"], exc
            continue
        assert isinstance(reading, Reading)
        if path in corpus["good"]:
            assert reading.text == "7", (path, reading.text)


@pytest.mark.parametrize("command", ["predict", "read"])
def test_cli_batch_finishes_with_one_line_per_bad_file(trained_run, corpus, command):
    files = corpus["files" if command == "predict" else "to_read"]
    model = ["--model", str(trained_run)] if command == "predict" else []  # read: the shipped line reader
    result = run_cli(command, *model, "--json", *map(str, files), timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    answered = {json.loads(line)["path"]: json.loads(line) for line in result.stdout.splitlines()}
    refused = {}
    for line in result.stderr.splitlines():
        assert line.startswith("digitlab: error: "), line
        path = next(str(p) for p in files if line.startswith(f"digitlab: error: {p}: "))
        refused[path] = line
    assert set(answered) | set(refused) == {str(p) for p in files} and not set(answered) & set(refused)
    for path in corpus["good"]:
        answer = answered[str(path)]
        assert (answer["digit"] if command == "predict" else answer["text"]) in (7, "7"), answer


def test_server_answers_every_upload_with_json_and_keeps_serving(server, corpus):
    with httpx.Client(base_url=server, timeout=60) as client:
        for name, data in corpus["uploads"].items():
            read_too = not name.startswith("mutant-") or int(name[7:9]) < READ_MUTANTS
            for route in ("predict", "read") if read_too else ("predict",):
                response = client.post(f"/api/{route}", files={"image": (name, data)})
                assert response.status_code in (200, 422), (name, route, response.status_code, response.text)
                body = response.json()
                if response.status_code == 422:
                    assert body["detail"].startswith(f"{name}: ") and "\n" not in body["detail"], body
                if name.startswith("good"):
                    assert response.status_code == 200 and body.get("digit", body.get("text")) in (7, "7"), body
        assert client.get("/api/health").status_code == 200


def test_pictures_of_odd_shapes_and_values_are_answered_or_named_never_failed_inside():
    """"Could not be processed" is the message of an exception that nothing foresaw: a picture
    a hundred times as tall as it is wide, or a float array holding NaN, must not come to it."""
    rng = np.random.default_rng(SEED)
    bar = np.full((4000, 40), 255, np.uint8)
    bar[1333:2666, 13:26] = 0
    pictures = {"noise 2x2000": rng.integers(0, 256, (2000, 2), dtype=np.uint8), "bar 40x4000": bar,
                "bar 4000x40": np.ascontiguousarray(bar.T), "NaN": np.full((50, 50), np.nan, np.float32),
                "infinite": np.full((50, 50), np.inf)}
    reader, predictor = Reader.load(), Predictor.load()
    for name, picture in pictures.items():
        try:
            reader.read(picture, name)
        except DigitlabError as error:
            assert "could not be processed" not in str(error) and str(error).startswith(f"{name}: ")
        result = predictor.predict([picture], [name])[0]
        assert not isinstance(result, DigitlabError) or "could not be processed" not in str(result), result
    with pytest.raises(DigitlabError, match=r"^NaN: the image array holds NaN or infinite values\.$"):
        reader.read(pictures["NaN"], "NaN")
