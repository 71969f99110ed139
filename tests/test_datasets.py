import gzip
import hashlib
import http.server
import struct
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from digitlab.datasets import load_dataset, load_idx_dataset
from digitlab.errors import DigitlabError
from digitlab.idx import IDX_FILES, RemoteSource, download_idx, read_idx
from tests.conftest import clean_scan, run_cli

FASHION = Path("/usr/share/datasets/fashion-mnist")


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> None:
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def write_idx_set(folder: Path, dataset, gz: bool = True, n_train: int = 200, n_test: int = 50) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train_images": dataset.train.images[:n_train].numpy(),
              "train_labels": dataset.train.labels[:n_train].numpy(),
              "test_images": dataset.test.images[:n_test].numpy(),
              "test_labels": dataset.test.labels[:n_test].numpy()}
    for key, stem in IDX_FILES.items():
        write_idx(folder / (stem + (".gz" if gz else "")), arrays[key], gz)


def test_mnist_5k_split_is_fixed_stratified_and_disjoint(mnist5k):
    assert len(mnist5k.train) == 4000 and len(mnist5k.test) == 1000
    assert mnist5k.train.class_counts() == [400] * 10
    assert mnist5k.test.class_counts() == [100] * 10
    assert mnist5k.train.images.dtype == torch.uint8 and mnist5k.train.images.shape == (4000, 28, 28)
    again = load_dataset("mnist-5k")
    assert torch.equal(again.test.images, mnist5k.test.images)
    train_rows = {bytes(im.numpy()) for im in mnist5k.train.images}
    assert not any(bytes(im.numpy()) in train_rows for im in mnist5k.test.images)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_load_from_data_dir(tmp_path, mnist5k, gz):
    write_idx_set(tmp_path / "mnist", mnist5k, gz=gz)
    dataset = load_dataset("mnist", data_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert len(dataset.train) == 200 and len(dataset.test) == 50
    assert torch.equal(dataset.train.images, mnist5k.train.images[:200])
    assert torch.equal(dataset.test.labels, mnist5k.test.labels[:50])


def test_keras_npz_loads(tmp_path, mnist5k):
    np.savez(tmp_path / "mnist.npz", x_train=mnist5k.train.images[:100].numpy(),
             y_train=mnist5k.train.labels[:100].numpy(), x_test=mnist5k.test.images[:30].numpy(),
             y_test=mnist5k.test.labels[:30].numpy())
    dataset = load_dataset("mnist", data_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert len(dataset.train) == 100 and len(dataset.test) == 30
    assert torch.equal(dataset.test.images, mnist5k.test.images[:30])


def test_digitlab_data_env_var_is_searched(tmp_path, mnist5k, monkeypatch):
    write_idx_set(tmp_path / "elsewhere", mnist5k)
    monkeypatch.setenv("DIGITLAB_DATA", str(tmp_path / "elsewhere"))
    assert len(load_dataset("mnist", cache_dir=tmp_path / "cache").train) == 200


def test_wrong_magic_number_names_the_file(tmp_path, mnist5k):
    write_idx_set(tmp_path, mnist5k)
    bad = tmp_path / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x09\x01" + b"\x00" * 10))
    with pytest.raises(DigitlabError, match="train-labels-idx1-ubyte.gz: wrong magic number"):
        load_dataset("mnist", data_dir=tmp_path, cache_dir=tmp_path / "cache")


def test_truncated_idx_is_an_error(tmp_path, mnist5k):
    write_idx(tmp_path / "x.idx", mnist5k.train.images[:10].numpy(), gz=False)
    data = (tmp_path / "x.idx").read_bytes()
    (tmp_path / "x.idx").write_bytes(data[:-100])
    with pytest.raises(DigitlabError, match="truncated or corrupt"):
        read_idx(tmp_path / "x.idx")


def test_corrupt_gzip_is_an_error(tmp_path):
    (tmp_path / "t.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DigitlabError, match="t.gz: cannot be read"):
        read_idx(tmp_path / "t.gz")


def test_gzip_with_a_corrupt_body_is_an_error(tmp_path, mnist5k):
    write_idx(tmp_path / "t.gz", mnist5k.test.images[:50].numpy())
    data = bytearray((tmp_path / "t.gz").read_bytes())
    data[40:60] = bytes(20)  # a valid gzip header, then a damaged deflate stream (zlib.error)
    (tmp_path / "t.gz").write_bytes(bytes(data))
    with pytest.raises(DigitlabError, match="t.gz: cannot be read as a .gzipped. IDX file"):
        read_idx(tmp_path / "t.gz")


def test_wrong_shapes_and_labels_are_errors(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((5, 32, 32), np.uint8), y_train=np.zeros(5, np.int64),
             x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.zeros(2, np.int64))
    with pytest.raises(DigitlabError, match=r"shape \(5, 32, 32\), expected \(N, 28, 28\)"):
        load_dataset("mnist", data_dir=tmp_path, cache_dir=tmp_path / "cache")
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((5, 28, 28), np.uint8), y_train=np.full(5, 12),
             x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.zeros(2, np.int64))
    with pytest.raises(DigitlabError, match="labels must be 0-9"):
        load_dataset("mnist", data_dir=tmp_path, cache_dir=tmp_path / "cache")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path, mnist5k):
    """A real HTTP mirror on 127.0.0.1 serving small gzipped IDX files."""
    root = tmp_path / "mirror"
    write_idx_set(root, mnist5k)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    md5 = {key: hashlib.md5((root / f"{stem}.gz").read_bytes()).hexdigest() for key, stem in IDX_FILES.items()}
    yield f"http://127.0.0.1:{server.server_port}/", md5
    server.shutdown()


def test_download_verifies_checksums_and_caches(tmp_path, mirror):
    url, md5 = mirror
    dataset = load_idx_dataset("mnist", None, tmp_path / "cache", source=RemoteSource((url,), md5))
    assert len(dataset.train) == 200
    cached = sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir())
    assert cached == sorted(f"{stem}.gz" for stem in IDX_FILES.values())


def test_download_with_wrong_checksum_leaves_nothing(tmp_path, mirror):
    url, md5 = mirror
    wrong = dict(md5, train_images="0" * 32)
    with pytest.raises(DigitlabError, match="checksum mismatch"):
        download_idx("mnist", tmp_path / "cache", source=RemoteSource((url,), wrong))
    assert not (tmp_path / "cache" / "train-images-idx3-ubyte.gz").exists()
    assert not list((tmp_path / "cache").glob("*.part"))


def test_unreachable_mirror_says_how_to_provide_the_files(tmp_path):
    with pytest.raises(DigitlabError, match="could not download mnist.*--data-dir"):
        download_idx("mnist", tmp_path / "cache", mirrors=["http://127.0.0.1:9/"], timeout=5)


def test_missing_mnist_via_cli_is_one_line(tmp_path):
    result = run_cli("data", "info", "mnist", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "mnist files not found" in result.stderr


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian dataset-fashion-mnist not installed")
def test_fashion_mnist_from_debian_package():
    dataset = load_dataset("fashion-mnist", cache_dir=Path("/nonexistent"))
    assert len(dataset.train) == 60000 and len(dataset.test) == 10000
    assert dataset.train.class_counts() == [6000] * 10 and dataset.test.class_counts() == [1000] * 10
    assert dataset.classes[9] == "Ankle boot"


def test_data_list_and_info_cli():
    listing = run_cli("data", "list")
    assert listing.returncode == 0
    assert "mnist-5k       yes" in listing.stdout
    info = run_cli("data", "info", "mnist-5k")
    assert info.returncode == 0 and "4000 train / 1000 test" in info.stdout
    assert "9                  400     100" in info.stdout


def write_digit_folders(root, font_glyph) -> None:
    """Five scans of each digit in folders named 0..9, as a user would sort their own."""
    for digit in range(10):
        (root / str(digit)).mkdir()
        for k in range(5):
            clean_scan(font_glyph(str(digit)), fill=0.3 + 0.1 * k).save(root / str(digit) / f"{k}.png")


def test_folder_dataset_preprocesses_like_scans(tmp_path, font_glyph):
    write_digit_folders(tmp_path, font_glyph)
    dataset = load_dataset(f"folder:{tmp_path}")
    assert len(dataset.train) == 40 and len(dataset.test) == 10
    assert dataset.test.class_counts() == [1] * 10
    assert dataset.train.images.dtype == torch.uint8 and dataset.train.images[:, 0, :].max() == 0


def test_a_users_folder_mixes_in_with_the_bundled_digits(tmp_path, font_glyph):
    write_digit_folders(tmp_path, font_glyph)
    mix = load_dataset(f"mnist-5k+folder:{tmp_path}")
    mnist = load_dataset("mnist-5k")
    # mnist-5k's training digits count twice, less the tenth held out to calibrate; the folder's
    # four-fifths join them; the test split is mnist-5k's and the folder's fifth.
    assert len(mix.train) == 2 * 3600 + 40 and len(mix.val) == 400 and len(mix.test) == len(mnist.test) + 10
    assert torch.equal(mix.test.images[:len(mnist.test)], mnist.test.images)
    assert mix.classes == mnist.classes


def test_a_mix_names_its_unknown_part():
    with pytest.raises(DigitlabError, match="unknown part 'kanji' in data set 'mnist-5k\\+kanji'"):
        load_dataset("mnist-5k+kanji")


def test_folder_dataset_with_an_unusable_image_names_it_in_one_line(tmp_path, font_glyph):
    from tests.scanmaker import lab_tiff

    for digit in range(10):
        (tmp_path / str(digit)).mkdir()
        for k in range(5):
            clean_scan(font_glyph(str(digit)), side=200).save(tmp_path / str(digit) / f"{k}.png")
    (tmp_path / "3" / "lab.tif").write_bytes(lab_tiff(clean_scan(font_glyph("3"), side=200)))
    (tmp_path / "7" / "x.png").write_bytes(b"")
    result = run_cli("train", "--data", f"folder:{tmp_path}", "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"folder data set: {tmp_path / '3' / 'lab.tif'}: cannot be converted to grayscale" in result.stderr
    assert "(and 1 more); fix or remove the image" in result.stderr


def test_unknown_dataset_name():
    with pytest.raises(DigitlabError, match="unknown data set 'cifar'"):
        load_dataset("cifar")


def test_a_truncated_cache_file_is_made_again(tmp_path):
    from digitlab.datasets import cached_arrays

    images, labels = np.zeros((3, 28, 28), np.uint8), np.arange(3)
    path = tmp_path / "renders.npz"
    cached_arrays(path, lambda: (images, labels))
    path.write_bytes(path.read_bytes()[:100])  # as a disk filling up or a kill would leave it
    again = cached_arrays(path, lambda: (images + 1, labels))
    assert (again[0] == 1).all() and np.array_equal(again[1], labels)
    assert (cached_arrays(path, lambda: (images, labels))[0] == 1).all()  # and kept
