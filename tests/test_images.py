"""Reading image files: reduced decoding of big pictures, special files, the size cap, and one error
per image for whatever a decoder or converter raises."""

import io
import json
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from digitlab.errors import DigitlabError
from digitlab.images import MAX_FILE_BYTES, MAX_SIDE, load_grayscale, open_image
from digitlab.preprocessing import normalize_scan
from tests.conftest import REPO, clean_scan, run_cli
from tests.scanmaker import lab_tiff, transparent_canvas_png


def test_49_megapixel_transparent_canvas_is_decoded_reduced_in_8_bit(tmp_path):
    path = tmp_path / "canvas.png"
    path.write_bytes(transparent_canvas_png(7000))
    gray = load_grayscale(path)
    assert gray.dtype == np.uint8 and gray.shape == (3500, 3500)  # halved: a whole factor to <= MAX_SIDE
    assert gray[1750, 1750] == 20 and gray[100, 100] == 255       # the dark bar, composited over white
    digit = normalize_scan(path)
    rows, cols = np.nonzero(digit > 128)
    assert rows.max() - rows.min() >= 18 and cols.max() - cols.min() <= 6  # an upright bar: a "1"


def test_big_picture_reads_like_the_same_picture_at_normal_size(mnist_glyph, tmp_path):
    glyph, _ = mnist_glyph
    scan = clean_scan(glyph, side=800).convert("L")
    scan.resize((5600, 5600), Image.Resampling.NEAREST).save(tmp_path / "big.png")
    assert load_grayscale(tmp_path / "big.png").shape == (2800, 2800)
    assert np.corrcoef(normalize_scan(tmp_path / "big.png").ravel(), normalize_scan(scan).ravel())[0, 1] > 0.95


def test_a_colour_photo_as_an_array_reads_as_the_same_photo_in_a_file(mnist_glyph, tmp_path):
    # An application hands a decoded frame (an RGB array) where a user gives the file: red ink on
    # yellow paper, whose gray a plain average of the channels would make other than the file's.
    glyph, _ = mnist_glyph
    ink = 1.0 - np.asarray(clean_scan(glyph, side=300).convert("L"), dtype=np.float32)[..., None] / 255
    paper, red = np.array([235, 215, 140], np.float32), np.array([200, 30, 40], np.float32)
    photo = np.round(paper * (1 - ink) + red * ink).astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    assert np.array_equal(load_grayscale(photo), load_grayscale(tmp_path / "photo.png"))
    assert np.array_equal(normalize_scan(photo), normalize_scan(tmp_path / "photo.png"))
    # The same photo as floats in [0, 1]: the same gray, within a level's rounding.
    assert np.abs(load_grayscale(photo / 255.0) * 255 - load_grayscale(photo)).max() <= 1.0


def test_pictures_up_to_max_side_are_read_at_full_size():
    assert load_grayscale(Image.new("L", (MAX_SIDE, 10), 200)).shape == (10, MAX_SIDE)
    assert load_grayscale(Image.new("RGB", (MAX_SIDE + 1, 10))).shape == (5, MAX_SIDE // 2 + 1)


def test_deep_image_is_reduced_without_a_full_size_float_copy():
    wide = np.zeros((300, 9000), dtype=np.uint16)
    wide[:, 4000:4100] = 60000
    gray = load_grayscale(Image.fromarray(wide))
    assert gray.dtype == np.float32 and gray.shape == (100, 3000)  # factor 3
    assert gray.max() == pytest.approx(60000 / 65535, abs=1e-4) and gray.min() == 0


@pytest.mark.parametrize("special, message", [
    ("/dev/zero", "not a regular file"),
    ("fifo.png", "not a regular file"),
    ("folder.png", "is a directory"),
    ("missing.png", "no such file"),
])
def test_only_regular_files_are_read(tmp_path, special, message):
    os.mkfifo(tmp_path / "fifo.png")
    (tmp_path / "folder.png").mkdir()
    path = special if special.startswith("/") else tmp_path / special
    outcome = []

    def read() -> None:
        try:
            open_image(path)
        except DigitlabError as exc:
            outcome.append(str(exc))

    reader = threading.Thread(target=read, daemon=True)  # a FIFO that blocked would hang here, not the suite
    reader.start()
    reader.join(timeout=20)
    assert not reader.is_alive(), f"reading {special} did not return"
    assert len(outcome) == 1 and message in outcome[0] and str(path) in outcome[0]


def test_file_over_the_size_cap_is_refused_from_its_size(tmp_path):
    path = tmp_path / "huge.png"
    with open(path, "wb") as f:  # sparse: the size says 64 MB + 1, nothing is on disk
        f.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(DigitlabError, match="over the limit of 67,108,864 bytes"):
        open_image(path)


def test_picture_pillow_opens_but_cannot_convert_is_one_error(mnist_glyph, tmp_path):
    path = tmp_path / "lab.tif"
    path.write_bytes(lab_tiff(clean_scan(mnist_glyph[0], side=200)))
    with Image.open(path) as image:
        assert image.mode == "LAB"
    with pytest.raises(DigitlabError, match=r"lab.tif: cannot be converted to grayscale \(LAB image"):
        load_grayscale(path)


def test_decoder_exception_of_any_kind_names_the_image(monkeypatch):
    buffer = io.BytesIO()
    Image.new("L", (50, 50), 200).save(buffer, "PNG")

    def broken_decoder(self):
        raise IndexError("tile cannot extend outside image")  # what some decoders raise on hostile data

    monkeypatch.setattr(ImageFile.ImageFile, "load", broken_decoder)
    with pytest.raises(DigitlabError, match=r"upload.png: .*IndexError: tile cannot extend"):
        load_grayscale(buffer.getvalue(), "upload.png")


@pytest.mark.parametrize("source, kind", [(None, "NoneType"), (["seven.png"], "list"), (7, "int")])
def test_something_not_a_picture_is_named_for_what_it_is(source, kind):
    with pytest.raises(DigitlabError, match=rf"^image: expected a path, bytes, a PIL image or an array, got {kind}\.$"):
        load_grayscale(source)


def test_a_photo_saved_as_heic_reads_as_its_jpeg_does(tmp_path):
    # iPhones save their photos as HEIC: the example photo of a number, so saved, among a folder's JPEGs.
    import pillow_heif

    with Image.open(REPO / "examples" / "number-2026.jpg") as photo:
        pillow_heif.from_pillow(photo.convert("RGB")).save(tmp_path / "number.heic", quality=90)
        photo.save(tmp_path / "number.jpg")
        photo.save(tmp_path / "number.avif")
    done = run_cli("read", "--json", str(tmp_path))
    assert done.returncode == 0, done.stderr
    answers = {Path(answer["path"]).name: answer["text"] for answer in map(json.loads, done.stdout.splitlines())}
    assert answers == {"number.heic": "2026", "number.jpg": "2026", "number.avif": "2026"}


def test_a_heic_photo_without_pillow_heif_says_how_to_read_it(monkeypatch):
    import pillow_heif

    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (64, 64), "white")).save(buffer, quality=90)
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as where it is not installed
    with pytest.raises(DigitlabError, match=r"^photo.heic: a HEIC/HEIF photo .*install pillow-heif .*save the photo "
                                            r"as JPEG\.$"):
        load_grayscale(buffer.getvalue(), "photo.heic")


def test_a_pdf_scan_is_named_for_what_it_is(tmp_path):
    # A scanner's usual output: Pillow writes a one-page PDF of the example photo.
    with Image.open(REPO / "examples" / "number-2026.jpg") as photo:
        photo.convert("RGB").save(tmp_path / "scan.pdf")
    with pytest.raises(DigitlabError, match=r"scan.pdf: a PDF, not an image: save its pages as PNG or JPEG"):
        load_grayscale(tmp_path / "scan.pdf")
