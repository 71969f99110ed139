"""Shared fixtures: one real training run (through the CLI, as `make demo` does) and test scans."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from digitlab.datasets import load_dataset
from tests.scanmaker import ScanStyle, draw_scan, glyph_from_font, glyph_from_mnist, handwriting_fonts

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`digitlab ARGS` in a subprocess; `env` adds to (or overrides) the environment."""
    return subprocess.run([sys.executable, "-m", "digitlab", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=timeout, env=os.environ | (env or {}))


def run_cli_on_a_full_disk(max_file_bytes: int, *args: str) -> subprocess.CompletedProcess:
    """`run_cli` where no file may grow past `max_file_bytes`: writes fail as on a full disk (EFBIG
    instead of ENOSPC), without filling a real one."""
    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return subprocess.run([sys.executable, "-m", "digitlab", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=300, preexec_fn=limit_file_size)


@pytest.fixture(scope="session")
def seed_run(tmp_path_factory, mnist5k) -> Path:
    """A small run of the lab's CNN (one epoch on 1,000 digits): quick, for tests of run files."""
    from digitlab.config import TrainConfig
    from digitlab.datasets import Dataset, Split
    from digitlab.training import fit

    run_dir = tmp_path_factory.mktemp("runs") / "seed"
    small = Dataset("mnist-5k", Split(mnist5k.train.images[:1000], mnist5k.train.labels[:1000]),
                    Split(mnist5k.test.images[:200], mnist5k.test.labels[:200]))
    fit(TrainConfig(arch="seed", epochs=1, augment=False), run_dir, dataset=small, report=False, log=lambda s: None)
    return run_dir


@pytest.fixture(scope="session")
def mnist5k():
    return load_dataset("mnist-5k")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """The default model trained on mnist-5k via `digitlab train`, as `make demo` trains it but for
    4 epochs instead of 20 (enough for 97%; reading quality is tested on the shipped models)."""
    run_dir = tmp_path_factory.mktemp("runs") / "default"
    result = run_cli("train", "--epochs", "4", "--out", str(run_dir), timeout=900)
    assert result.returncode == 0, result.stderr
    return run_dir


@pytest.fixture(scope="session")
def fonts() -> dict[str, Path]:
    found = {f.stem: f for f in handwriting_fonts()}
    if not found:
        pytest.skip("no handwriting fonts installed (scripts/install-system-deps.sh installs them)")
    return found


def dev_face(name: str) -> Path:
    """The dev half's test face called `name` (a file stem); the test is skipped where it is not
    installed."""
    font = next((f for f in handwriting_fonts("dev") if f.stem == name), None)
    if font is None:
        pytest.skip(f"test face {name} not installed")
    return font


def clean_scan(glyph: np.ndarray, **style) -> object:
    """A plain dark-on-light scan with no random distortions unless asked for."""
    defaults = dict(side=600, fill=0.5, noise=0.0, jpeg_quality=None, gradient=0.0, tint=(250, 250, 250),
                    ink=(20, 20, 20))
    defaults.update(style)
    return draw_scan(glyph, ScanStyle(**defaults), np.random.default_rng(0))


@pytest.fixture(scope="session")
def mnist_glyph(mnist5k):
    """A real MNIST test "7" as a large glyph, for scans whose expected result is known."""
    index = int(np.flatnonzero(mnist5k.test.labels.numpy() == 7)[0])
    return glyph_from_mnist(mnist5k.test.images[index].numpy()), mnist5k.test.images[index].numpy()


@pytest.fixture(scope="session")
def font_glyph(fonts):
    return lambda text, font="dkg": glyph_from_font(text, fonts.get(font, next(iter(fonts.values()))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model=None, reader=None, max_upload_mb: float = 1.0, workers: int | None = None,
                 flags: tuple[str, ...] = ()):
    """`digitlab serve` on a free port of 127.0.0.1 (the shipped models unless given, with any other
    `flags`), once it answers /api/health; a bounded wait."""
    port = free_port()
    models = (["--model", str(model)] if model else []) + (["--reader", str(reader)] if reader else [])
    process = subprocess.Popen([sys.executable, "-m", "digitlab", "serve", *models, "--host", "127.0.0.1",
                                "--port", str(port), "--max-upload-mb", str(max_upload_mb),
                                *(["--workers", str(workers)] if workers else []), *flags],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # loading the models takes seconds, more on a busy machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode())
    process.kill()
    raise RuntimeError("server did not start in 180 s")


@pytest.fixture(scope="module")
def server():
    process, url = start_server(workers=1)  # one process: the tests of several are in test_server
    yield url
    process.terminate()
    process.wait(timeout=10)
