"""Fetching the training faces: npm packages into a cache, never committed; clear errors."""

import io
import os
import tarfile

import pytest

from digitlab.errors import DigitlabError
from digitlab.fonts import TRAINING_FACES, _latin_fonts, face_files, fetch_faces
from tests.conftest import run_cli


def tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_only_the_latin_upright_fonts_are_taken_from_a_package():
    fonts = _latin_fonts(tarball({
        "package/files/caveat-latin-400-normal.woff": b"latin 400",
        "package/files/caveat-latin-700-normal.woff": b"latin 700",
        "package/files/caveat-cyrillic-400-normal.woff": b"cyrillic",
        "package/files/caveat-latin-400-normal.woff2": b"woff2",
        "package/../../etc/evil-latin-400-normal.woff": b"escape",
        "package/package.json": b"{}",
    }), "caveat")
    assert fonts == {"caveat-latin-400-normal.woff": b"latin 400", "caveat-latin-700-normal.woff": b"latin 700"}


def test_a_package_without_fonts_or_not_a_tarball_is_one_line():
    with pytest.raises(DigitlabError, match="holds no Latin .woff"):
        _latin_fonts(tarball({"package/package.json": b"{}"}), "caveat")
    with pytest.raises(DigitlabError, match="not a readable npm tarball"):
        _latin_fonts(b"not a tarball", "caveat")


def test_missing_faces_are_named(tmp_path):
    with pytest.raises(DigitlabError, match="handwriting faces .*caveat.*not in .*digitlab fonts fetch"):
        face_files(["kalam", "caveat"], cache_dir=tmp_path)


def test_unknown_face_is_refused(tmp_path):
    with pytest.raises(DigitlabError, match="unknown handwriting face 'comic-sans'"):
        fetch_faces(["comic-sans"], cache_dir=tmp_path)


def test_fetch_without_npm_stops_with_one_line(tmp_path):
    result = run_cli("fonts", "fetch", env={"PATH": "/nonexistent", "XDG_CACHE_HOME": str(tmp_path),
                                            "HOME": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "npm" in result.stderr and "not installed" in result.stderr


def test_a_face_that_cannot_be_fetched_stops_the_fetch_naming_it(tmp_path):
    fake_npm = tmp_path / "bin" / "npm"
    fake_npm.parent.mkdir()
    fake_npm.write_text("#!/bin/sh\necho 'npm error 404 Not Found' >&2\nexit 1\n")
    fake_npm.chmod(0o755)
    env = {"PATH": f"{fake_npm.parent}:{os.environ['PATH']}", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = run_cli("fonts", "fetch", env=env)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    first = next(iter(TRAINING_FACES))
    assert f"could not fetch handwriting face '{first}'" in result.stderr and "404" in result.stderr
    assert not list((tmp_path / "cache").rglob("*.woff"))  # nothing half-fetched is left to train on
