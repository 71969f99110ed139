"""Server load test: concurrent clients POST an 800x800 JPEG scan to /api/predict on 127.0.0.1.

    python benchmarks/bench_server.py [--model RUN_DIR_OR_ONNX] [--workers 1 2] [--clients 8 64]
        [--seconds 20] [--load wrk|python] [--max-p99-ms 50 --p99-at 2 8] [--max-errors 0]

For each number of server workers (`digitlab serve --workers N`), the server is started, warmed
up, and loaded by each number of clients in turn for --seconds; each client sends its next request
as soon as its last is answered. Reports requests/s, p50/p99 latency, errors (connection errors,
non-200 answers, answers without a digit), the CPU the load generator itself used, and the
server's memory (PSS of all its processes) after the warm-up and at the end. The load comes
from wrk (Debian package `wrk`, a C program that costs the 2 cores almost nothing) when it is
installed, else from Python threads. Bounded in time; the server is stopped at the end.
The p99 target applies to the (workers, clients) cell named by --p99-at; the error target to all.
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import shutil
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
from benchmarks.common import tree_pss_mb  # noqa: E402
from tests.scanmaker import draw_scan, glyph_from_font, handwriting_fonts, random_style  # noqa: E402

BOUNDARY = "digitlab-bench-boundary"

# wrk calls these in each of its threads; `done` adds up what the threads counted.
WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  bad = 0
  answered = {}
  local f = assert(io.open("%(body)s", "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=%(boundary)s"
  if %(close)s then wrk.headers["Connection"] = "close" end
end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"digit"', 1, true) then bad = bad + 1 end
  local worker = headers["x-digitlab-worker"] or "none"
  answered[worker] = (answered[worker] or 0) + 1
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("bad")
    for worker, n in pairs(t:get("answered")) do io.write(string.format("WORKER %%s %%d\\n", worker, n)) end
  end
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    bad + e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_wrk(url: str, body_path: Path, clients: int, seconds: float, close: bool) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"body": body_path, "boundary": BOUNDARY, "close": str(close).lower()})
    cpu = children_cpu_seconds()
    try:
        result = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds:.0f}s", "--timeout", "10s",
                                 "-s", script.name, url], capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(script.name)
    line = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+)$", result.stdout, re.M)
    if not line:
        raise SystemExit(f"wrk failed: {result.stdout[-500:]} {result.stderr[-500:]}")
    requests, duration_us, errors, p50_us, p99_us = map(int, line.groups())
    shares = sorted((int(n) for n in re.findall(r"^WORKER \S+ (\d+)$", result.stdout, re.M)), reverse=True)
    return {"requests": requests, "seconds": duration_us / 1e6, "errors": errors, "p50_ms": p50_us / 1000,
            "p99_ms": p99_us / 1000, "client_cpu_s": children_cpu_seconds() - cpu,
            "per_worker": " / ".join(f"{n / max(1, sum(shares)):.0%}" for n in shares)}


def load_python(url: str, payload: bytes, clients: int, seconds: float, close: bool) -> dict:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        with httpx.Client(timeout=30) as session:
            while time.monotonic() < stop:
                start = time.perf_counter()
                try:
                    response = session.post(url, files={"image": ("scan.jpg", payload, "image/jpeg")},
                                            headers={"Connection": "close"} if close else None)
                    ok = response.status_code == 200 and "digit" in response.json()
                except httpx.HTTPError:
                    ok = False
                latencies[k].append(time.perf_counter() - start)
                errors[k] += not ok

    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    all_ms = np.array([x for per in latencies for x in per]) * 1000
    return {"requests": len(all_ms), "seconds": elapsed, "errors": sum(errors),
            "p50_ms": float(np.percentile(all_ms, 50)), "p99_ms": float(np.percentile(all_ms, 99)),
            "client_cpu_s": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime, "per_worker": "?"}


def start_server(model: str | None, workers: int, log) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "digitlab", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)] + (["--model", model] if model else [])
    # The server's log goes to a file, not a pipe: an unread pipe fills up and stalls the server.
    server = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    answered: set[str] = set()
    deadline = time.monotonic() + 90
    while len(answered) < workers and time.monotonic() < deadline:  # every worker up, not just the first
        try:
            answered.add(httpx.get(f"{url}/api/health", timeout=1).headers["x-digitlab-worker"])
        except httpx.TransportError:
            time.sleep(0.2)
        if server.poll() is not None:
            break
    if len(answered) < workers:
        server.kill()
        log.seek(0)
        raise SystemExit(f"server with {workers} workers did not start: " + log.read().decode(errors="replace")[-500:])
    return server, url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--load", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--new-connections", action="store_true",
                        help="a new connection per request (Connection: close) instead of keep-alive")
    parser.add_argument("--max-p99-ms", type=float, default=50.0)
    parser.add_argument("--p99-at", type=int, nargs=2, default=[2, 8], metavar=("WORKERS", "CLIENTS"))
    parser.add_argument("--max-errors", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    style = random_style(rng)
    style.side = 800
    draw_scan(glyph_from_font("7", handwriting_fonts()[0]), style, rng).save(buffer, "JPEG", quality=85)
    payload = buffer.getvalue()
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"scan.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + payload + f"\r\n--{BOUNDARY}--\r\n".encode()
    body_file = tempfile.NamedTemporaryFile(suffix=".multipart", delete=False)
    body_file.write(body)
    body_file.close()

    def load(url: str, clients: int, seconds: float) -> dict:
        if args.load == "wrk":
            return load_wrk(f"{url}/api/predict", Path(body_file.name), clients, seconds, args.new_connections)
        return load_python(f"{url}/api/predict", payload, clients, seconds, args.new_connections)

    rows, health = [], {}
    try:
        for workers in args.workers:
            with tempfile.TemporaryFile() as log:
                server, url = start_server(args.model, workers, log)
                try:
                    health = httpx.get(f"{url}/api/health").json()
                    load(url, max(args.clients), args.warmup)
                    warm = tree_pss_mb(server.pid)
                    for clients in args.clients:
                        result = load(url, clients, args.seconds)
                        rows.append({"workers": workers, "clients": clients, **result,
                                     "requests_per_s": result["requests"] / result["seconds"],
                                     "pss_warm_mb": warm, "pss_after_mb": tree_pss_mb(server.pid)})
                        print(json.dumps(rows[-1]), flush=True)
                finally:
                    server.terminate()
                    server.wait(timeout=30)
    finally:
        os.unlink(body_file.name)

    print(f"\nmodel: {health.get('model')} ({health.get('arch')}, {health.get('backend')}); payload {len(payload):,} "
          f"bytes JPEG {style.side}x{style.side}; load from {args.load}; {os.cpu_count()} cores shared by server "
          "and load")
    print("| workers | clients | seconds | requests | errors | requests/s | p50 ms | p99 ms | answered by each worker "
          "| load generator CPU | server PSS MB warm / end |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['clients']} | {r['seconds']:.0f} | {r['requests']:,} | {r['errors']} | "
              f"{r['requests_per_s']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['per_worker']} | "
              f"{r['client_cpu_s'] / r['seconds']:.0%} of a core | {r['pss_warm_mb']:.0f} / {r['pss_after_mb']:.0f} |")
    status = 0
    cell = [r for r in rows if [r["workers"], r["clients"]] == args.p99_at]
    if cell:
        met = cell[0]["p99_ms"] <= args.max_p99_ms
        print(f"p99 <= {args.max_p99_ms:.0f} ms at {args.p99_at[1]} clients, {args.p99_at[0]} workers "
              f"({cell[0]['p99_ms']:.1f} ms): {'met' if met else 'MISSED'}")
        status |= not met
    errors = sum(r["errors"] for r in rows)
    print(f"at most {args.max_errors} errors ({errors}): {'met' if errors <= args.max_errors else 'MISSED'}")
    status |= errors > args.max_errors
    return int(status)


if __name__ == "__main__":
    raise SystemExit(main())
