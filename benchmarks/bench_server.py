"""Server load test: 8 concurrent clients POST a scan to /api/predict on 127.0.0.1 for 30 s.

    python benchmarks/bench_server.py [--model RUN_DIR_OR_ONNX] [--clients 8] [--seconds 30]

Reports requests/s, p50/p99 latency, errors, and the server's resident memory after a warm-up,
after the run, and after a second shorter run (memory should not grow). Bounded in time; the
server is stopped at the end.
"""

from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.scanmaker import draw_scan, glyph_from_font, handwriting_fonts, random_style  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(url: str, payload: bytes, clients: int, seconds: float) -> tuple[list[float], int]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        with httpx.Client(timeout=30) as session:
            while time.monotonic() < stop:
                start = time.perf_counter()
                try:
                    response = session.post(url, files={"image": ("scan.jpg", payload, "image/jpeg")})
                    ok = response.status_code == 200 and "digit" in response.json()
                except httpx.HTTPError:
                    ok = False
                latencies[k].append(time.perf_counter() - start)
                errors[k] += not ok

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [x for per in latencies for x in per], sum(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    style = random_style(rng)
    style.side = 800
    draw_scan(glyph_from_font("7", handwriting_fonts()[0]), style, rng).save(buffer, "JPEG", quality=85)
    payload = buffer.getvalue()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "digitlab", "serve", "--host", "127.0.0.1", "--port", str(port)]
    # The server's log goes to a file, not a pipe: an unread pipe fills up and stalls the server.
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(command + (["--model", args.model] if args.model else []), cwd=REPO,
                              stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{url}/api/health", timeout=1).json()
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            log.seek(0)
            raise SystemExit("server did not start: " + log.read().decode(errors="replace")[-500:])
        load(f"{url}/api/predict", payload, args.clients, 5)  # warm-up
        before = rss_mb(server.pid)
        latencies, errors = load(f"{url}/api/predict", payload, args.clients, args.seconds)
        after = rss_mb(server.pid)
        load(f"{url}/api/predict", payload, args.clients, args.seconds / 2)
        after_second = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    latencies_ms = np.array(latencies) * 1000
    print(f"model: {health['model']} ({health['arch']}, {health['backend']}); payload {len(payload):,} bytes JPEG "
          f"{style.side}x{style.side}")
    print("| clients | seconds | requests | errors | requests/s | p50 ms | p99 ms | RSS MB warm / after / after 2nd |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.clients} | {args.seconds:.0f} | {len(latencies)} | {errors} | "
          f"{len(latencies) / args.seconds:.1f} | "
          f"{np.percentile(latencies_ms, 50):.1f} | {np.percentile(latencies_ms, 99):.1f} | "
          f"{before:.0f} / {after:.0f} / {after_second:.0f} |")


if __name__ == "__main__":
    main()
