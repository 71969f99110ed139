"""Atomic file writes: a reader (or a killed run) sees the old file or the new one, never half.

A write goes to a temporary file beside its target (`.NAME.XXXXXXXX.tmp`), which is synced and
renamed over the target. A process killed meanwhile leaves the temporary file behind;
`remove_leftovers` clears them. A failed write (disk full, folder read-only) is a one-line
`DigitlabError` naming the file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from digitlab.errors import DigitlabError

TEMP_SUFFIX = ".tmp"


def cannot_write(path: Path, exc: OSError) -> DigitlabError:
    return DigitlabError(f"cannot write {path} ({exc.strerror or exc}): check that the disk has room and "
                         "the folder is writable.")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is synced and renamed over `path`.
    An `OSError` while writing becomes a `DigitlabError` and the temporary file is removed."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
        os.close(fd)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); give it what an ordinary new file would get.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    finally:
        tmp.unlink(missing_ok=True)


def make_folder(path: str | Path) -> None:
    """Create the folder `path` and its parents, or say in one line why it cannot be."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot_write(Path(path), exc) from None


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def remove_leftovers(folder: str | Path) -> list[Path]:
    """Delete the temporary files that killed writes left in `folder`; returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    leftovers = [p for p in folder.glob(f".*{TEMP_SUFFIX}") if p.is_file() and not p.is_symlink()]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers
