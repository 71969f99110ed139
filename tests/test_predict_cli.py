import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitlab.errors import DigitlabError
from digitlab.preprocessing import normalize_stream
from tests.conftest import clean_scan, run_cli
from tests.scanmaker import join_glyphs


def write_font_scans(folder, font_glyph, digits="0123456789", font="Humor-Sans"):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for digit in digits:
        path = folder / f"digit-{digit}.png"
        clean_scan(font_glyph(digit, font), fill=0.4).save(path)
        paths.append(path)
    return paths


def test_predict_reads_rendered_handwriting_with_the_shipped_model(font_glyph, tmp_path):
    write_font_scans(tmp_path / "scans", font_glyph)
    result = run_cli("predict", "--json", str(tmp_path / "scans"))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 10
    for record in records:
        assert set(record) >= {"path", "digit", "confidence", "probabilities", "uncertain", "not_a_digit", "top_k"}
        # The ten digits and "not a digit" share the probability.
        assert len(record["probabilities"]) == 10
        assert abs(sum(record["probabilities"]) + record["not_a_digit"] - 1) < 1e-4
    assert all(r["digit"] == int(r["path"][-5]) and not r["uncertain"] for r in records)


def test_letters_and_symbols_are_flagged_not_sure(font_glyph, tmp_path):
    for i, char in enumerate("AK%#?x"):
        clean_scan(font_glyph(char, "Humor-Sans"), fill=0.4).save(tmp_path / f"char{i}.png")
    result = run_cli("predict", "--json", str(tmp_path))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 6 and sum(r["uncertain"] for r in records) >= 5
    assert "(not sure)" in run_cli("predict", str(tmp_path / "char0.png")).stdout


def test_predict_text_output_and_preprocessed_images(trained_run, font_glyph, tmp_path):
    write_font_scans(tmp_path, font_glyph, digits="7")
    result = run_cli("predict", "--model", str(trained_run), "--top-k", "3", "--save-preprocessed",
                     str(tmp_path / "seen"), str(tmp_path / "*.png"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{tmp_path / 'digit-7.png'}: 7 (")
    assert result.stdout.count("%") == 3
    with Image.open(tmp_path / "seen" / "digit-7.png") as seen:
        assert seen.size == (280, 280)


def test_batch_with_bad_files_still_predicts_the_good_ones(trained_run, font_glyph, tmp_path):
    good = write_font_scans(tmp_path, font_glyph, digits="3")[0]
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("not an image")
    Image.new("L", (400, 400), 240).save(tmp_path / "blank.png")
    result = run_cli("predict", "--model", str(trained_run), str(good), str(tmp_path / "empty.png"),
                     str(tmp_path / "notes.png"), str(tmp_path / "blank.png"))
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1 and f"{good}: 3" in result.stdout
    errors = result.stderr.splitlines()
    assert len(errors) == 3 and "Traceback" not in result.stderr
    assert any("empty.png: the file is empty" in e for e in errors)
    assert any("notes.png: not an image" in e for e in errors)
    assert any("blank.png: no digit found" in e for e in errors)


def test_directory_without_images_and_missing_model(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli("predict", "--model", str(tmp_path), str(tmp_path / "empty"))
    assert result.returncode == 2 and "directory has no images" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    (tmp_path / "x.png").write_bytes(b"")
    no_model = run_cli("predict", "--model", str(tmp_path / "no-such-run"), str(tmp_path / "x.png"))
    assert no_model.returncode == 2 and no_model.stderr.count("\n") == 1
    assert "no-such-run" in no_model.stderr


def test_read_whole_numbers(font_glyph, tmp_path):
    rng = np.random.default_rng(3)
    for text in ("2026", "0759", "31"):
        clean_scan(join_glyphs([font_glyph(c, "Humor-Sans") for c in text], rng), fill=0.15, side=1000,
                   ruled=True).save(tmp_path / f"n{text}.png")
    result = run_cli("read", "--json", str(tmp_path))
    assert result.returncode == 0, result.stderr
    readings = {json.loads(line)["path"]: json.loads(line) for line in result.stdout.splitlines()}
    for text in ("2026", "0759", "31"):
        reading = readings[str(tmp_path / f"n{text}.png")]
        assert reading["text"] == text
        assert len(reading["digits"]) == len(text) and len(reading["lines"]) == 1
        assert all(len(d["box"]) == 4 and 0 <= d["confidence"] <= 1 for d in reading["digits"])
        boxes = [d["box"] for d in reading["digits"]]
        assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)  # left to right
    # Handed to the single-digit reader by mistake, each is one digit "not sure", and why.
    told = run_cli("predict", str(tmp_path))
    assert told.returncode == 0, told.stderr
    assert told.stdout.count("(not sure: there is more writing beside it; `digitlab read` reads numbers)") == 3


def test_bomb_via_cli_is_one_line(trained_run, tmp_path):
    from tests.test_preprocessing import png_with_size

    (tmp_path / "bomb.png").write_bytes(png_with_size(20000, 20000))
    result = run_cli("predict", "--model", str(trained_run), str(tmp_path / "bomb.png"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "decompression bomb" in result.stderr


def test_demo_examples_are_read(trained_run):
    """The last steps of `make demo`: the bundled example scans, through the CLI, with the model
    the demo trained (by name) and with the shipped models (no --model)."""
    from tests.conftest import REPO

    for model in (["--model", str(trained_run)], []):
        predicted = run_cli("predict", *model, "--json", str(REPO / "examples" / "seven.jpg"),
                            str(REPO / "examples" / "three-lined-paper.jpg"))
        assert predicted.returncode == 0, predicted.stderr
        digits = {Path(json.loads(line)["path"]).name: json.loads(line)["digit"]
                  for line in predicted.stdout.splitlines()}
        assert digits["seven.jpg"] == 7 and digits["three-lined-paper.jpg"] == 3
    read = run_cli("read", str(REPO / "examples" / "number-2026.jpg"), str(REPO / "examples" / "seven.jpg"))
    assert read.returncode == 0 and ": 2026  (4 digits, lowest confidence " in read.stdout
    assert ": 7  (1 digit, confidence " in read.stdout


def test_read_asks_the_digit_model_it_is_given_or_none(trained_run, tmp_path):
    from digitlab.networks import SHIPPED_LINES, shipped_model
    from tests.conftest import REPO

    number = str(REPO / "examples" / "number-2026.jpg")
    for digit_model in ("none", str(trained_run)):
        result = run_cli("read", "--json", "--digit-model", digit_model, number)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["text"] == "2026"
    for digit_model, says in ((str(shipped_model(SHIPPED_LINES)), "is a line reader, not a digit classifier"),
                              (str(tmp_path / "no-such-run"), "--digit-model")):
        result = run_cli("read", "--digit-model", digit_model, number)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and says in result.stderr


def test_read_refuses_a_digit_classifier_as_its_model(trained_run):
    from tests.conftest import REPO

    result = run_cli("read", "--model", str(trained_run), str(REPO / "examples" / "number-2026.jpg"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "not a line reader" in result.stderr


def test_special_files_and_unconvertible_images_end_cleanly_in_a_batch(font_glyph, tmp_path):
    import os

    from tests.scanmaker import lab_tiff

    good = write_font_scans(tmp_path, font_glyph, digits="3")[0]
    os.mkfifo(tmp_path / "x.png")  # opening it for reading would wait for a writer forever
    (tmp_path / "lab.tif").write_bytes(lab_tiff(clean_scan(font_glyph("3", "Humor-Sans"), side=300)))
    bad = ["/dev/zero", str(tmp_path / "x.png"), str(tmp_path / "lab.tif")]
    for command in ("predict", "read"):
        result = run_cli(command, *bad, str(good), timeout=120)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stdout.startswith(f"{good}: 3")
        errors = result.stderr.splitlines()
        assert [e.split(": ")[2] for e in errors] == bad, errors  # one line each, naming the file, in order
        assert "not a regular file" in errors[0] and "not a regular file" in errors[1]
        assert "cannot be converted to grayscale" in errors[2]


def test_predict_refuses_the_line_reader_as_its_model(font_glyph, tmp_path):
    from digitlab.networks import SHIPPED_LINES, shipped_model

    good = write_font_scans(tmp_path, font_glyph, digits="3")[0]
    result = run_cli("predict", "--model", str(shipped_model(SHIPPED_LINES)), str(good))
    assert result.returncode == 2 and result.stdout == "" and result.stderr.count("\n") == 1
    assert "is a line reader, not a digit classifier" in result.stderr


def test_preprocessed_images_of_inputs_with_one_name_do_not_overwrite_each_other(trained_run, font_glyph, tmp_path):
    first = write_font_scans(tmp_path / "a", font_glyph, digits="3")[0]
    second = write_font_scans(tmp_path / "b", font_glyph, digits="8")[0].rename(tmp_path / "b" / first.name)
    result = run_cli("predict", "--model", str(trained_run), "--save-preprocessed", str(tmp_path / "seen"),
                     str(first), str(second))
    assert result.returncode == 0, result.stderr
    saved = sorted(p.name for p in (tmp_path / "seen").iterdir())
    assert saved == sorted([first.name, f"{first.stem}-2.png"])
    assert (tmp_path / "seen" / saved[0]).read_bytes() != (tmp_path / "seen" / saved[1]).read_bytes()


def test_save_preprocessed_into_a_path_that_cannot_exist_is_one_line(trained_run, font_glyph, tmp_path):
    good = write_font_scans(tmp_path, font_glyph, digits="3")[0]
    (tmp_path / "file").write_text("a file, not a folder")
    result = run_cli("predict", "--model", str(trained_run), "--save-preprocessed", str(tmp_path / "file" / "seen"),
                     str(good))
    assert result.returncode == 2 and result.stdout == "" and result.stderr.count("\n") == 1
    assert f"cannot write {tmp_path / 'file' / 'seen'} (Not a directory)" in result.stderr


def test_49_megapixel_png_costs_the_cli_under_600_mb(trained_run, tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO
    from tests.scanmaker import transparent_canvas_png

    (tmp_path / "canvas.png").write_bytes(transparent_canvas_png(7000))
    # VmHWM, not ru_maxrss: the latter keeps the high-water mark of the forking parent (pytest) across exec.
    code = ("import sys; from digitlab.cli import main; rc = main(sys.argv[1:]); "
            "print(next(int(l.split()[1]) // 1024 for l in open('/proc/self/status') if l.startswith('VmHWM:')), "
            "file=sys.stderr); sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code, "predict", "--model", str(trained_run),
                             str(tmp_path / "canvas.png")], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{tmp_path / 'canvas.png'}: 1 (")
    assert int(result.stderr.splitlines()[-1]) <= 600  # peak resident MB; it was 1,600 before issue #10


class RecordingSources(Sequence):
    """A list of image sources that counts the chunks taken from it."""

    def __init__(self, items: list) -> None:
        self.items, self.chunks_taken = items, 0

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index):
        self.chunks_taken += isinstance(index, slice)
        return self.items[index]


def test_normalize_stream_keeps_order_and_reads_only_a_little_ahead(mnist_glyph):
    buffer = io.BytesIO()
    clean_scan(mnist_glyph[0], side=200).save(buffer, "PNG")
    bad = {2, 70, 99}  # empty files, in the first, a middle and the last chunk
    sources = RecordingSources([b"" if i in bad else buffer.getvalue() for i in range(100)])
    stream = normalize_stream(sources, [f"image{i}" for i in range(100)], chunk_size=8, workers=2)
    first = next(stream)
    # A small chunk first, for a quick first answer; two chunks per worker ahead, no more.
    assert len(first) == 4 and sources.chunks_taken <= 2 * 2 + 1
    results = first + [result for chunk in stream for result in chunk]
    assert len(results) == 100 and sources.chunks_taken == 13  # 4, then 12 of 8
    assert {i for i, r in enumerate(results) if isinstance(r, DigitlabError)} == bad
    assert "image70: the file is empty" in str(results[70])
    assert all(r.shape == (28, 28) for i, r in enumerate(results) if i not in bad)


def test_predict_dir_streams_every_answer_in_order(trained_run, font_glyph, tmp_path):
    # More files than POOL_THRESHOLD, so the worker processes are used.
    scan = clean_scan(font_glyph("4", "Humor-Sans"), side=200, fill=0.6)
    for i in range(70):
        scan.save(tmp_path / f"scan-{i:03d}.png")
    (tmp_path / "scan-030.png").write_bytes(b"")
    (tmp_path / "scan-031.png").write_text("not an image")
    result = run_cli("predict", "--model", str(trained_run), "--json", str(tmp_path))
    assert result.returncode == 1
    paths = [Path(json.loads(line)["path"]).name for line in result.stdout.splitlines()]
    assert paths == [f"scan-{i:03d}.png" for i in range(70) if i not in (30, 31)]
    assert all(json.loads(line)["digit"] == 4 for line in result.stdout.splitlines())
    errors = result.stderr.splitlines()
    assert len(errors) == 2 and "scan-030.png: the file is empty" in errors[0] and "not an image" in errors[1]
    assert "\r" not in result.stderr  # no progress bar when stderr is not a terminal


def test_one_picture_handed_to_predict_for_a_list_is_one_clear_error():
    # `predict` takes a list of pictures. Handed one path it read it a letter at a time (an error
    # "e: no such file" for each), and one picture's array a row at a time.
    from digitlab.predict import Predictor
    from tests.conftest import REPO

    predictor = Predictor.load()
    seven = REPO / "examples" / "seven.jpg"
    pixels = np.asarray(Image.open(seven).convert("RGB"))
    for one in (str(seven), seven, seven.read_bytes(), pixels, pixels[..., 0], Image.open(seven)):
        with pytest.raises(DigitlabError, match=r"takes a list of pictures .* pass \[picture\]"):
            predictor.predict(one)
    assert predictor.predict([pixels])[0].digit == predictor.predict([seven])[0].digit == 7
