"""Peak memory on hostile-but-valid pictures (issue #10): 49-MP PNGs, 7000x7000, transparent except
for a bar, 0.2 MB each on disk.

    python benchmarks/bench_memory.py --model RUN_DIR_OR_ONNX [--uploads 4] [--max-server-mb 1500] [--max-cli-mb 600]

Server: starts `digitlab serve` on 127.0.0.1, sends `--uploads` such pictures to /api/predict at
once while another client polls /api/health, and reads the server's peak resident memory (VmHWM).
CLI: peak resident memory (VmHWM) of `digitlab predict` on one such picture. Each is compared with its
target; the script exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.scanmaker import transparent_canvas_png  # noqa: E402


def peak_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(model: str, log) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The log goes to a file: an unread pipe fills up and stalls the server.
    server = subprocess.Popen([sys.executable, "-m", "digitlab", "serve", "--model", model, "--host", "127.0.0.1",
                               "--port", str(port)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    log.seek(0)
    raise SystemExit("server did not start: " + log.read().decode(errors="replace")[-500:])


def measure_server(model: str, payload: bytes, uploads: int) -> dict:
    log = tempfile.TemporaryFile()
    server, url = start_server(model, log)
    try:
        idle = peak_mb(server.pid)
        statuses: list[int] = []
        health: list[float] = []
        health_failures = 0
        done = threading.Event()

        def upload() -> None:
            with httpx.Client(timeout=300) as client:
                response = client.post(f"{url}/api/predict", files={"image": ("big.png", payload, "image/png")})
                statuses.append(response.status_code)

        def poll_health() -> None:
            nonlocal health_failures
            with httpx.Client(timeout=30) as client:
                while not done.is_set():
                    start = time.perf_counter()
                    try:
                        ok = client.get(f"{url}/api/health").status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    health.append(time.perf_counter() - start)
                    health_failures += not ok
                    done.wait(0.1)

        poller = threading.Thread(target=poll_health)
        poller.start()
        started = time.perf_counter()
        clients = [threading.Thread(target=upload) for _ in range(uploads)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        seconds = time.perf_counter() - started
        done.set()
        poller.join()
        return {"idle_mb": idle, "peak_mb": peak_mb(server.pid), "statuses": sorted(statuses), "seconds": seconds,
                "health_polls": len(health), "health_failures": health_failures,
                "health_max_ms": 1000 * max(health, default=float("nan"))}
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def measure_cli(model: str, path: Path) -> tuple[float, str]:
    """Peak resident memory of `digitlab predict` on one file: its VmHWM, read by the process itself
    at the end (not ru_maxrss, which keeps the forking parent's high-water mark across exec)."""
    code = ("import sys; from digitlab.cli import main; rc = main(sys.argv[1:]); "
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')), file=sys.stderr); "
            "sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code, "predict", "--model", model, str(path)], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    lines = result.stderr.strip().splitlines()
    if result.returncode != 0 or not lines or not lines[-1].isdigit():
        raise SystemExit(f"digitlab predict failed: {result.stderr[-500:]}")
    return int(lines[-1]) / 1024, result.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="run directory or .onnx file")
    parser.add_argument("--uploads", type=int, default=4, help="49-MP uploads sent to the server at once")
    parser.add_argument("--max-server-mb", type=float, default=1500)
    parser.add_argument("--max-cli-mb", type=float, default=600)
    args = parser.parse_args()
    payload = transparent_canvas_png()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.png"
        path.write_bytes(payload)
        cli_mb, answer = measure_cli(args.model, path)
    server = measure_server(args.model, payload, args.uploads)
    server_met = server["peak_mb"] <= args.max_server_mb and server["health_failures"] == 0
    cli_met = cli_mb <= args.max_cli_mb
    print(f"model: {args.model}; payload: 7000x7000 RGBA PNG, {len(payload):,} bytes")
    print("| what | peak RSS MB | target | result | notes |")
    print("|---|---|---|---|---|")
    print(f"| server, {args.uploads} uploads at once | {server['peak_mb']:.0f} | ≤ {args.max_server_mb:.0f} | "
          f"{'met' if server_met else 'missed'} | idle {server['idle_mb']:.0f} MB; answers {server['statuses']} in "
          f"{server['seconds']:.1f} s; /api/health {server['health_polls']} polls, {server['health_failures']} "
          f"failed, slowest {server['health_max_ms']:.0f} ms |")
    print(f"| `digitlab predict` one file | {cli_mb:.0f} | ≤ {args.max_cli_mb:.0f} | {'met' if cli_met else 'missed'} "
          f"| {answer} |")
    sys.exit(0 if server_met and cli_met else 1)


if __name__ == "__main__":
    main()
