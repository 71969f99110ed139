"""Reading image files safely into one grayscale array, whatever their format.

Handles PNG, JPEG, BMP, TIFF, WebP, GIF (first frame) and AVIF, and where the optional pillow-heif
is installed HEIC/HEIF (the format iPhones save photos in); RGB, RGBA with a transparent background,
grayscale, 16-bit and palette images; EXIF orientation. Only regular files are read, up to
`MAX_FILE_BYTES`. Bad files raise `DigitlabError` with one sentence naming the file, before any
large allocation (decompression bombs are refused from the header alone), and so does anything a
decoder or converter raises on a hostile file.

Large pictures are decoded at reduced size: JPEGs by the decoder itself (draft mode), others by a
whole-factor box reduction in 8-bit, strip by strip, so no full-size float copy is ever made.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from digitlab.errors import DigitlabError, reason

MAX_PIXELS = 50_000_000           # 50 MP: larger than any phone photo, far below a decompression bomb
MAX_FILE_BYTES = 64 * 1024 * 1024  # a 50-MP photo is a few MB compressed; more is not a picture of a digit
DRAFT_SIZE = 1024  # JPEGs are decoded at the smallest power-of-two scale at least this big
# Other images are reduced to at most this many pixels a side: the pipeline finds ink at 256 px and
# re-reads a digit at up to 112 px, so a 4096-px picture still shows a digit of 3% of its width in
# full detail, and every picture up to 4096 px is read as before.
MAX_SIDE = 4096
STRIP_ROWS = 256  # rows converted at a time when a picture is reduced or has transparency

DEEP_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # an RGB array's gray, as Pillow's "L"


ImageSource = str | Path | bytes | Image.Image | np.ndarray


IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".avif", ".heic",
                            ".heif"})
# The `ftyp` brands of HEIF files: still pictures and sequences, HEVC-coded or any.
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})


def describe(source: ImageSource, name: str | None = None, index: int | None = None) -> str:
    """How errors and answers name a picture: its name if given, else its path, else "image"
    (with its place in a batch, "image3")."""
    if name:
        return name
    if isinstance(source, str | Path):
        return str(source)
    return "image" if index is None else f"image{index}"


def image_files(folder: Path) -> list[Path]:
    """The image files directly in `folder`, sorted by name."""
    try:
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    except OSError as exc:
        raise DigitlabError(f"{folder}: cannot be listed ({exc.strerror or reason(exc)}).") from None


@contextlib.contextmanager
def image_errors(label: str) -> Iterator[None]:
    """Turn anything but a `DigitlabError` raised while one image is processed into a
    `DigitlabError` naming that image, so that a batch always finishes."""
    try:
        yield
    except DigitlabError:
        raise
    except Exception as exc:
        raise DigitlabError(f"{label}: could not be processed ({reason(exc)}).") from exc


def read_image_file(path: str | Path, label: str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most `max_bytes`. Devices, FIFOs, sockets and directories
    are refused before anything is read, so `/dev/zero` cannot fill the memory nor a FIFO hang."""
    try:
        # Non-blocking, so that opening a FIFO returns at once instead of waiting for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise DigitlabError(f"{label}: no such file.") from None
    except OSError as exc:
        raise DigitlabError(f"{label}: cannot be read ({exc.strerror or exc}).") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise DigitlabError(f"{label}: is a directory, not an image.")
        if not stat.S_ISREG(info.st_mode):
            raise DigitlabError(f"{label}: not a regular file (a device, pipe or socket); only image files are read.")
        if info.st_size > max_bytes:
            raise DigitlabError(f"{label}: {info.st_size:,} bytes is over the limit of {max_bytes:,} bytes "
                                "for an image file.")
        chunks, size = [], 0
        while size <= max_bytes:  # bounded even where the size on disk says nothing (/proc) or grows
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise DigitlabError(f"{label}: cannot be read ({exc.strerror or exc}).") from None
    finally:
        os.close(fd)
    if size > max_bytes:
        raise DigitlabError(f"{label}: over the limit of {max_bytes:,} bytes for an image file.")
    return b"".join(chunks)


def is_heif(data: bytes) -> bool:
    """Whether `data` is a HEIF file: an ISO media file whose `ftyp` box names a HEIF brand."""
    return data[4:8] == b"ftyp" and bytes(data[8:12]) in HEIF_BRANDS


def let_pillow_open_heif(label: str) -> None:
    """Teach Pillow HEIF with pillow-heif (the optional dependency `digitlab[heic]`), or say how
    to read the photo without it."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        raise DigitlabError(f"{label}: a HEIC/HEIF photo (the format iPhones save): install pillow-heif to read "
                            "it (pip install 'digitlab[heic]'), or save the photo as JPEG.") from None
    if "HEIF" not in Image.ID:  # once, on the first HEIF file: other pictures never import it
        register_heif_opener()


def draft_jpeg(image: Image.Image) -> None:
    """Let the JPEG decoder itself skip detail the pipeline does not need (no-op for other formats)."""
    if image.format == "JPEG":
        image.draft("L", (DRAFT_SIZE, DRAFT_SIZE))


def open_image(source: str | Path | bytes, name: str | None = None) -> Image.Image:
    """Open and decode an image file or its bytes, refusing special files, empty, non-image,
    truncated, undecodable and oversized ones with a one-line `DigitlabError`."""
    label = describe(source, name)
    if not isinstance(source, str | Path | bytes | bytearray | memoryview):
        # Else None read as "the file is empty", and a list as a decoder's TypeError.
        raise DigitlabError(f"{label}: expected a path, bytes, a PIL image or an array, got {type(source).__name__}.")
    data = read_image_file(source, label) if isinstance(source, str | Path) else source
    if not data:
        raise DigitlabError(f"{label}: the file is empty.")
    if len(data) > MAX_FILE_BYTES:
        raise DigitlabError(f"{label}: {len(data):,} bytes is over the limit of {MAX_FILE_BYTES:,} bytes "
                            "for an image file.")
    if is_heif(data):
        let_pillow_open_heif(label)
    try:
        with warnings.catch_warnings():
            # Damaged metadata makes Pillow warn; the user gets the picture or one error, not noise.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise DigitlabError(f"{label}: {width}x{height} pixels is over the limit of "
                                    f"{MAX_PIXELS:,} (refused as a possible decompression bomb).")
            draft_jpeg(image)
            image.load()
    except DigitlabError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DigitlabError(f"{label}: too many pixels (refused as a possible decompression bomb).") from None
    except UnidentifiedImageError:
        if bytes(data[:5]) == b"%PDF-":  # what a scanner often saves
            raise DigitlabError(f"{label}: a PDF, not an image: save its pages as PNG or JPEG (a scanner's or "
                                "viewer's export) and read those.") from None
        raise DigitlabError(f"{label}: not an image (or a format Pillow cannot read).") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise DigitlabError(f"{label}: truncated or corrupt image ({reason(exc)}).") from None
    except Exception as exc:  # decoders raise nearly anything on hostile data (struct.error, IndexError, ...)
        raise DigitlabError(f"{label}: cannot be decoded ({reason(exc)}).") from None
    try:
        ImageOps.exif_transpose(image, in_place=True)  # in place: a copy would double a big picture's cost
    except Exception:  # a broken EXIF block should not cost the user the picture
        pass
    return image


def decoded_pixels(data: bytes) -> int:
    """How many pixels `open_image` would decode from `data`, from the header alone: 0 for what
    it would refuse before decoding (not an image, over `MAX_PIXELS`)."""
    try:
        if is_heif(data):
            let_pillow_open_heif("")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                draft_jpeg(image)
                width, height = image.size
    except Exception:  # the decoding itself will say what is wrong
        return 0
    return width * height if width * height <= MAX_PIXELS else 0


def reduction_factor(size: tuple[int, int], max_side: int = MAX_SIDE) -> int:
    """The smallest whole factor that brings the longer side of `size` to at most `max_side`."""
    return max(1, -(-max(size) // max_side))


def block_mean(values: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each `factor` x `factor` block (the last ones may be smaller), as float32."""
    if factor == 1:
        return values.astype(np.float32)
    rows = np.arange(0, values.shape[0], factor)
    cols = np.arange(0, values.shape[1], factor)
    sums = np.add.reduceat(np.add.reduceat(values, rows, axis=0, dtype=np.float64), cols, axis=1)
    counts = np.outer(np.diff(rows, append=values.shape[0]), np.diff(cols, append=values.shape[1]))
    return (sums / counts).astype(np.float32)


def strips(image: Image.Image, factor: int) -> Iterator[Image.Image]:
    """The image in horizontal strips whose heights are multiples of `factor`."""
    width, height = image.size
    step = factor * max(1, STRIP_ROWS // factor)
    for top in range(0, height, step):
        yield image.crop((0, top, width, min(height, top + step)))


def deep_to_grayscale(image: Image.Image, factor: int) -> np.ndarray:
    """16-bit and 32-bit images as float32 in [0, 1], reduced strip by strip."""
    parts, top = [], 0.0
    for strip in strips(image, factor):
        values = np.asarray(strip)
        top = max(top, float(values.max(initial=0)))
        parts.append(block_mean(values, factor))
    scale = 65535.0 if top > 255 else 255.0
    return np.clip(np.concatenate(parts) / scale, 0, 1)


def transparent_to_grayscale(image: Image.Image, factor: int) -> np.ndarray:
    """A picture with transparency as uint8 gray: transparent pixels become a background that
    contrasts with the opaque ink, so a dark or a light digit drawn on a transparent canvas both
    stay visible. Strip by strip, in 8-bit, so a 49-MP canvas costs little more than its decoding."""
    width, height = image.size
    shape = (-(-height // factor), -(-width // factor))
    gray, alpha, ink = (np.empty(shape, dtype=np.uint8) for _ in range(3))
    row = 0
    for strip in strips(image, factor):
        gray_alpha = strip.convert("LA") if strip.mode in ("RGBA", "LA") else strip.convert("RGBA").convert("LA")
        # "La" is gray premultiplied by alpha, so that the box reduction averages the composite.
        premultiplied = gray_alpha.convert("La")
        if factor > 1:
            gray_alpha, premultiplied = gray_alpha.reduce(factor), premultiplied.reduce(factor)
        both = np.asarray(gray_alpha)
        rows = slice(row, row + both.shape[0])
        gray[rows], alpha[rows], ink[rows] = both[..., 0], both[..., 1], np.asarray(premultiplied)[..., 0]
        row += both.shape[0]
    opaque = alpha > 127
    if opaque.all() or not opaque.any():
        return gray
    if gray.mean(where=opaque) > 127.5:  # light ink: over black
        return ink
    # Dark ink: over white. `ink` <= `alpha`, so the sum stays within uint8; in place, as it is big.
    np.subtract(255, alpha, out=alpha)
    alpha += ink
    return alpha


def to_grayscale(image: Image.Image, name: str | None = None, max_side: int = MAX_SIDE) -> np.ndarray:
    """A 2-D array, 0 black, its longer side at most `max_side`: uint8 for 8-bit images (cheap to
    shrink), else float32 in [0, 1]. Pictures with transparency are composited (see
    `transparent_to_grayscale`). Whatever the conversion raises becomes a `DigitlabError`."""
    factor = reduction_factor(image.size, max_side)
    try:
        if image.mode in DEEP_MODES:
            return deep_to_grayscale(image, factor)
        has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
        if has_alpha:
            return transparent_to_grayscale(image, factor)
        gray = image.convert("L")
        return np.asarray(gray.reduce(factor) if factor > 1 else gray)
    except Exception as exc:  # an image Pillow opens but cannot convert (a CIELab TIFF, ...)
        raise DigitlabError(f"{describe(image, name)}: cannot be converted to grayscale "
                            f"({image.mode} image; {reason(exc)}).") from None


def as_float(gray: np.ndarray) -> np.ndarray:
    """A `to_grayscale` result as float32 in [0, 1]."""
    return gray.astype(np.float32) / 255.0 if gray.dtype == np.uint8 else gray


def load_grayscale(source: ImageSource, name: str | None = None) -> np.ndarray:
    """Any supported source as a 2-D array (uint8 0-255, or float32 0-1 for deeper images): a path,
    bytes, a PIL image or an array (uint8 0-255 or float 0-1; gray, RGB or RGBA). Files and PIL
    images larger than `MAX_SIDE` come back reduced."""
    if isinstance(source, np.ndarray):
        array = source
        if array.ndim == 3 and array.shape[2] >= 3 and min(array.shape[:2]) >= 1:
            # Gray as Pillow makes it of the same picture in a file (ITU-R 601 luma), so an array
            # and its file read alike; for 8 bits by Pillow itself, in a tenth of a float's time.
            rgb = array[..., :3]
            array = (np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).convert("L")) if rgb.dtype == np.uint8
                     else rgb.astype(np.float32) @ LUMA)
        elif array.ndim == 3:
            array = array[..., 0]
        if array.ndim != 2 or min(array.shape) < 1:
            raise DigitlabError(f"{describe(source, name)}: expected a 2-D image array, got shape {source.shape}.")
        if array.dtype == np.uint8:
            return array
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            raise DigitlabError(f"{describe(source, name)}: the image array holds NaN or infinite values.")
        return array / 255.0 if array.max(initial=0) > 1.0 else array
    image = source if isinstance(source, Image.Image) else open_image(source, name)
    return to_grayscale(image, describe(source, name))
