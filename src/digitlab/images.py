"""Reading image files safely into one grayscale float array, whatever their format.

Handles PNG, JPEG, BMP, TIFF, WebP, GIF (first frame); RGB, RGBA with a transparent background,
grayscale, 16-bit and palette images; EXIF orientation. Bad files raise `DigitlabError` with one
sentence naming the file, before any large allocation (decompression bombs are refused from the
header alone).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from digitlab.errors import DigitlabError

MAX_PIXELS = 50_000_000  # 50 MP: larger than any phone photo, far below a decompression bomb
DRAFT_SIZE = 1024        # JPEGs are decoded at the smallest power-of-two scale at least this big


ImageSource = str | Path | bytes | Image.Image | np.ndarray


def describe(source: ImageSource, name: str | None = None) -> str:
    if name:
        return name
    return str(source) if isinstance(source, str | Path) else "image"


def open_image(source: str | Path | bytes, name: str | None = None, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open and decode an image file or its bytes, refusing empty, non-image, truncated and
    oversized ones with a one-line `DigitlabError`."""
    label = describe(source, name)
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise DigitlabError(f"{label}: no such file.")
        if path.is_dir():
            raise DigitlabError(f"{label}: is a directory, not an image.")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DigitlabError(f"{label}: cannot be read ({exc.strerror}).") from None
    else:
        data = source
    if not data:
        raise DigitlabError(f"{label}: the file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise DigitlabError(f"{label}: {width}x{height} pixels is over the limit of "
                                    f"{max_pixels:,} (refused as a possible decompression bomb).")
            if image.format == "JPEG":
                image.draft("L", (DRAFT_SIZE, DRAFT_SIZE))
            image.load()
    except DigitlabError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DigitlabError(f"{label}: too many pixels (refused as a possible decompression bomb).") from None
    except UnidentifiedImageError:
        raise DigitlabError(f"{label}: not an image (or a format Pillow cannot read).") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DigitlabError(f"{label}: truncated or corrupt image ({exc}).") from None
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block should not cost the user the picture
        pass
    return image


def to_grayscale(image: Image.Image) -> np.ndarray:
    """A 2-D array, 0 black: uint8 for 8-bit images (cheap to shrink), else float32 in [0, 1].
    Transparent pixels become a background that contrasts with the opaque ink, so a dark or a
    light digit drawn on a transparent canvas both stay visible."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float32)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        return np.clip(values / top, 0, 1)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if not has_alpha:
        return np.asarray(image.convert("L"))
    rgba = image.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
    gray = np.asarray(rgba.convert("L"), dtype=np.float32) / 255.0
    opaque = alpha > 0.5
    if opaque.all() or not opaque.any():
        return gray
    background = 0.0 if gray[opaque].mean() > 0.5 else 1.0
    return gray * alpha + background * (1 - alpha)


def as_float(gray: np.ndarray) -> np.ndarray:
    """A `to_grayscale` result as float32 in [0, 1]."""
    return gray.astype(np.float32) / 255.0 if gray.dtype == np.uint8 else gray


def load_grayscale(source: ImageSource, name: str | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any supported source as a 2-D array (uint8 0-255, or float32 0-1 for deeper images): a path,
    bytes, a PIL image or an array (uint8 0-255 or float 0-1; gray, RGB or RGBA)."""
    if isinstance(source, np.ndarray):
        array = source
        if array.ndim == 3:
            array = array[..., :3].mean(axis=2) if array.shape[2] >= 3 else array[..., 0]
        if array.ndim != 2 or min(array.shape) < 1:
            raise DigitlabError(f"{describe(source, name)}: expected a 2-D image array, got shape {source.shape}.")
        if array.dtype == np.uint8:
            return array
        if source.dtype == np.uint8:  # an RGB average
            return array.astype(np.float32) / 255.0
        array = array.astype(np.float32)
        return array / 255.0 if array.max(initial=0) > 1.0 else array
    image = source if isinstance(source, Image.Image) else open_image(source, name, max_pixels)
    return to_grayscale(image)
