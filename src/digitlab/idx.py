"""MNIST-style data files: the IDX format (gzipped or not), Keras-style npz files, where to look for
them, and downloading them from public mirrors with MD5 checks.

Functions here return NumPy arrays, checked: images `(N, 28, 28)` uint8, labels `(N,)` int64.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitlab.errors import DigitlabError

Arrays = tuple[np.ndarray, np.ndarray]  # images (N, 28, 28) uint8, labels (N,) int64

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class RemoteSource:
    """Where a data set can be downloaded from, with the MD5 of each gzipped IDX file."""

    mirrors: tuple[str, ...]
    md5: dict[str, str]


REMOTE = {
    "mnist": RemoteSource(
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        md5={"train_images": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
             "train_labels": "d53e105ee54ea40749a09fcbcd1e9432",
             "test_images": "9fb629c4189551a2d022fa330f9573f3",
             "test_labels": "ec29112dd5afa0611ce80d1b7f02629c"}),
    "fashion-mnist": RemoteSource(
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        md5={"train_images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
             "train_labels": "25c81989df183df01b3e8a0aad5dffbe",
             "test_images": "bef4ecab320f06d8554ea6380940ec79",
             "test_labels": "bb300cfdad3c16e7a12a480ee83cd310"}),
}

# Where a system package puts the files (Debian's dataset-fashion-mnist).
SYSTEM_DIRS = {"fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),)}



def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) into a uint8 array, checking magic, rank and size."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DigitlabError(f"{path}: cannot be read as a (gzipped) IDX file ({exc}).") from None
    if len(raw) < 4 or raw[0:2] != b"\x00\x00" or raw[2] != 0x08 or raw[3] not in (1, 3):
        raise DigitlabError(f"{path}: wrong magic number, this is not an MNIST-style IDX file "
                            "of unsigned bytes.")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DigitlabError(f"{path}: truncated IDX header.")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DigitlabError(f"{path}: header promises {expected} bytes of data for shape {shape} "
                            f"but the file holds {len(raw) - header}: it is truncated or corrupt.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def checked_arrays(images: np.ndarray, labels: np.ndarray, where: str) -> Arrays:
    """Images (N, 28, 28) uint8 and labels (N,) int64, or one line saying what is wrong."""
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DigitlabError(f"{where}: images have shape {images.shape}, expected (N, 28, 28).")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DigitlabError(f"{where}: {len(labels)} labels for {len(images)} images.")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DigitlabError(f"{where}: labels must be 0-9, found {labels.min()}..{labels.max()}.")
    if images.dtype != np.uint8:
        if images.size and (images.min() < 0 or images.max() > 255):
            raise DigitlabError(f"{where}: pixel values must be 0-255.")
        images = images.astype(np.uint8)
    return np.ascontiguousarray(images), labels.astype(np.int64)


def _find_idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz",
                      folder / stem.replace("-idx", ".idx"), folder / f"{stem.replace('-idx', '.idx')}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx_folder(folder: Path) -> tuple[Arrays, Arrays] | None:
    """Read the four IDX files from `folder`, or None when they are not all there."""
    paths = {key: _find_idx_file(folder, stem) for key, stem in IDX_FILES.items()}
    if any(p is None for p in paths.values()):
        return None
    arrays = {key: read_idx(p) for key, p in paths.items()}
    return (checked_arrays(arrays["train_images"], arrays["train_labels"], str(paths["train_images"])),
            checked_arrays(arrays["test_images"], arrays["test_labels"], str(paths["test_images"])))


def read_npz(path: Path) -> tuple[Arrays, Arrays]:
    """Read a Keras-style npz with `x_train`, `y_train`, `x_test`, `y_test`."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(npz.files)
            if missing:
                raise DigitlabError(f"{path}: missing arrays {sorted(missing)}; expected a Keras-style "
                                    "npz with x_train, y_train, x_test, y_test.")
            arrays = {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except DigitlabError:
        raise
    except Exception as exc:  # numpy raises many kinds for a damaged zip
        raise DigitlabError(f"{path}: cannot be read as an npz file ({exc}).") from None
    return (checked_arrays(arrays["x_train"], arrays["y_train"], str(path)),
            checked_arrays(arrays["x_test"], arrays["y_test"], str(path)))


def candidate_dirs(name: str, data_dir: str | Path | None, cache_dir: Path) -> list[Path]:
    """The folders searched for `name`, in order; each may hold the files or a `name/` subfolder."""
    roots = [Path(data_dir)] if data_dir else []
    if os.environ.get("DIGITLAB_DATA"):
        roots.append(Path(os.environ["DIGITLAB_DATA"]))
    roots.append(cache_dir)
    dirs = []
    for root in roots:
        dirs += [root / name, root]
    return dirs + list(SYSTEM_DIRS.get(name, ()))


def find_local(name: str, data_dir: str | Path | None, cache_dir: Path) -> tuple[Arrays, Arrays, str] | None:
    """The train and test arrays of `name` from the first folder that holds them, and where."""
    npz_names = ("mnist.npz",) if name == "mnist" else (f"{name}.npz",)
    for folder in candidate_dirs(name, data_dir, cache_dir):
        if not folder.is_dir():
            continue
        splits = read_idx_folder(folder)
        if splits:
            return (*splits, str(folder))
        for npz in npz_names:
            if (folder / npz).is_file():
                return (*read_npz(folder / npz), str(folder / npz))
    return None


def how_to_provide(name: str, cache_dir: Path) -> str:
    files = ", ".join(f"{stem}.gz" for stem in IDX_FILES.values())
    npz = "mnist.npz" if name == "mnist" else f"{name}.npz"
    hint = " (or `apt-get install dataset-fashion-mnist`)" if name == "fashion-mnist" else ""
    return (f"{name} files not found: put {files} (or a Keras-style {npz}) in a folder and pass "
            f"--data-dir FOLDER, set DIGITLAB_DATA, or copy them to {cache_dir / name}{hint}.")


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_idx(name: str, target: Path, mirrors: Sequence[str] | None = None,
                 timeout: float = 30.0, source: RemoteSource | None = None) -> None:
    """Download the four gzipped IDX files of `name` into `target`, verifying each MD5.

    Each file is written to a temporary name and renamed only once its checksum matches, so an
    interrupted or corrupt download never leaves a file that a later run would trust.
    """
    source = source or REMOTE[name]
    mirrors = tuple(mirrors) if mirrors else source.mirrors
    target.mkdir(parents=True, exist_ok=True)
    for key, stem in IDX_FILES.items():
        final = target / f"{stem}.gz"
        if final.is_file():
            continue
        errors = []
        for mirror in mirrors:
            url = mirror + f"{stem}.gz"
            fd, tmp_name = tempfile.mkstemp(dir=target, prefix=f".{stem}.", suffix=".part")
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                    shutil.copyfileobj(resp, out)
                got = md5_of(tmp)
                if got != source.md5[key]:
                    errors.append(f"{url}: checksum mismatch (md5 {got}, expected {source.md5[key]})")
                    continue
                os.replace(tmp, final)
                break
            except (urllib.error.URLError, OSError, ValueError) as exc:
                errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
            finally:
                tmp.unlink(missing_ok=True)
        else:
            raise DigitlabError(f"could not download {name} ({'; '.join(errors)}). "
                                + how_to_provide(name, target.parent))
