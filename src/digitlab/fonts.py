"""The handwriting faces digitlab learns from: `@fontsource/*` packages of the npm registry (SIL
Open Font License), fetched once with `npm pack` into a cache. Font files are never committed or
shipped; a run records which faces and versions it used.

Only these faces are used for training. The Debian `fonts-*` handwriting faces that the tests and
benchmarks draw with are never trained on, so results on them say something about handwriting
the model has not seen.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from digitlab.cache import default_cache_dir
from digitlab.errors import DigitlabError

# Face -> the package version trained on (pinned, so a rebuild renders the same glyphs).
TRAINING_FACES: dict[str, str] = {name: "5.3.0" for name in (
    "annie-use-your-telescope", "architects-daughter", "caveat", "caveat-brush", "cedarville-cursive",
    "covered-by-your-grace", "delius", "gaegu", "gloria-hallelujah", "gochi-hand", "handlee",
    "homemade-apple", "indie-flower", "itim", "kalam", "marck-script", "nanum-pen-script", "neucha",
    "patrick-hand", "reenie-beanie", "rock-salt", "schoolbell", "shadows-into-light", "short-stack",
    "sriracha", "sue-ellen-francisco", "swanky-and-moo-moo")}

# The Latin subset of each weight, upright: digits, letters and the common symbols.
_LATIN_FILE = re.compile(r"^package/files/[a-z0-9-]+-latin-(\d+)-normal\.woff$")


def font_cache_dir(cache_dir: Path | None = None) -> Path:
    return (cache_dir or default_cache_dir()) / "fonts"


def face_dir(face: str, cache_dir: Path | None = None) -> Path:
    return font_cache_dir(cache_dir) / f"{face}-{TRAINING_FACES.get(face, 'unknown')}"


def fetch_faces(faces: Iterable[str] | None = None, cache_dir: Path | None = None, npm: str = "npm",
                timeout: float = 120.0, log: Callable[[str], None] = print) -> dict[str, list[Path]]:
    """Fetch every face not yet cached; returns each face's font files (one per weight).

    Stops at the first face that cannot be fetched, with one line naming it: a model is never
    trained on fewer faces than asked for."""
    faces = list(faces) if faces is not None else list(TRAINING_FACES)
    unknown = [f for f in faces if f not in TRAINING_FACES]
    if unknown:
        raise DigitlabError(f"unknown handwriting face {unknown[0]!r}: expected one of {', '.join(TRAINING_FACES)}.")
    if shutil.which(npm) is None:
        raise DigitlabError(f"cannot fetch the handwriting faces: `{npm}` (Node.js's package manager) is not "
                            "installed; install Node.js and npm, then run `digitlab fonts fetch`.")
    for face in faces:
        if cached_files(face, cache_dir):
            continue
        log(f"fetching @fontsource/{face}@{TRAINING_FACES[face]}")
        _fetch_face(face, face_dir(face, cache_dir), npm, timeout)
    return face_files(faces, cache_dir)


def _fetch_face(face: str, target: Path, npm: str, timeout: float) -> None:
    package = f"@fontsource/{face}@{TRAINING_FACES[face]}"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            result = subprocess.run([npm, "pack", package, "--silent", "--pack-destination", tmp],
                                    capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DigitlabError(f"could not fetch handwriting face {face!r}: `npm pack {package}` took over "
                                f"{timeout:.0f} s.") from None
        tarballs = list(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or len(tarballs) != 1:
            reason = (result.stderr.strip().splitlines() or ["no package file"])[-1]
            raise DigitlabError(f"could not fetch handwriting face {face!r} with `npm pack {package}` ({reason}).")
        fonts = _latin_fonts(tarballs[0].read_bytes(), face)
    # A face's weights land together or not at all: a folder with some of them would count as
    # fetched, and training would quietly draw from fewer weights.
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name, data in fonts.items():
            (partial / name).write_bytes(data)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _latin_fonts(tarball: bytes, face: str) -> dict[str, bytes]:
    """The Latin upright font files in an npm package tarball, by file name. Only regular files
    with the expected names are read; nothing is extracted to disk by the archive's own paths."""
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            fonts = {}
            for member in archive.getmembers():
                if member.isfile() and _LATIN_FILE.match(member.name):
                    fonts[Path(member.name).name] = archive.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DigitlabError(f"the package of handwriting face {face!r} is not a readable npm tarball "
                            f"({exc}).") from None
    if not fonts:
        raise DigitlabError(f"the package of handwriting face {face!r} holds no Latin .woff font files.")
    return fonts


def cached_files(face: str, cache_dir: Path | None = None) -> list[Path]:
    folder = face_dir(face, cache_dir)
    return sorted(folder.glob("*.woff")) if folder.is_dir() else []


def face_files(faces: Iterable[str] | None = None, cache_dir: Path | None = None) -> dict[str, list[Path]]:
    """Each face's cached font files; one line naming the missing faces if any is not cached."""
    faces = list(faces) if faces is not None else list(TRAINING_FACES)
    files = {face: cached_files(face, cache_dir) for face in faces}
    missing = [face for face, paths in files.items() if not paths]
    if missing:
        raise DigitlabError(f"handwriting face{'s' if len(missing) > 1 else ''} {', '.join(missing)} not in "
                            f"{font_cache_dir(cache_dir)}: run `digitlab fonts fetch` (needs npm) first.")
    return files
