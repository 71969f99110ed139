"""Where digitlab keeps what it downloads or renders once: `$XDG_CACHE_HOME/digitlab`
(by default `~/.cache/digitlab`): data sets, handwriting faces, rendered training images."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "digitlab"
