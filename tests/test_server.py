"""API tests against a real uvicorn server on 127.0.0.1."""

import contextlib
import io
import select
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from PIL import Image

from tests.conftest import clean_scan, free_port, run_cli, start_server
from tests.scanmaker import join_glyphs, lab_tiff
from tests.test_preprocessing import png_with_size


def png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_health_names_the_shipped_models(server):
    health = httpx.get(f"{server}/api/health").json()
    assert health["model"].endswith("digits.safetensors") and health["arch"] == "wide"
    assert health["test_accuracy"] > 0.98 and health["version"]
    assert health["reader"]["model"].endswith("lines.safetensors")
    assert health["reader"]["digit_model"] == health["model"]  # the second opinion is the server's own model
    assert health["reader"]["orientation_model"].endswith("orientation.onnx")  # which way up lines are
    assert health["reader"]["second_reader"].endswith("second-reader.safetensors")  # checks the least sure lines


def test_predict_returns_the_cli_json(server, font_glyph, tmp_path):
    import json

    data = png_bytes(clean_scan(font_glyph("5", "Humor-Sans")))
    (tmp_path / "five.png").write_bytes(data)
    body = httpx.post(f"{server}/api/predict", files={"image": ("five.png", data, "image/png")}).json()
    cli = json.loads(run_cli("predict", "--json", str(tmp_path / "five.png")).stdout)
    # The same answer, field by field; the server adds the picture the model saw, the CLI its top-k.
    assert body.pop("preprocessed").startswith("data:image/png;base64,")
    assert cli.pop("path") == str(tmp_path / "five.png") and body.pop("path") == "five.png"
    cli.pop("top_k")
    assert body == cli and body["digit"] == 5 and "not_a_digit" in body


def test_read_returns_the_number(server, font_glyph):
    import numpy as np

    glyph = join_glyphs([font_glyph(c, "Humor-Sans") for c in "1984"], np.random.default_rng(0))
    data = png_bytes(clean_scan(glyph, fill=0.15, side=900))
    body = httpx.post(f"{server}/api/read", files={"image": ("n.png", data, "image/png")}).json()
    assert body["text"] == "1984" and len(body["digits"]) == 4 and len(body["lines"]) == 1
    assert body["lines"][0]["text"] == "1984" and len(body["lines"][0]["box"]) == 4
    # The same picture as an iPhone uploads its photos (HEIC).
    import pillow_heif

    heic = io.BytesIO()
    pillow_heif.from_pillow(Image.open(io.BytesIO(data)).convert("RGB")).save(heic, quality=90)
    assert "picture" not in body  # a PNG the page shows itself
    body = httpx.post(f"{server}/api/read", files={"image": ("n.heic", heic.getvalue(), "image/heic")}).json()
    assert body["text"] == "1984"
    # Which most browsers cannot show: it comes back as a JPEG, with the size its boxes are measured in.
    assert body["picture"].startswith("data:image/jpeg;base64,") and body["picture_size"] == [900, 900]


def lab_tiff_of_a_scan() -> bytes:
    import numpy as np

    return lab_tiff(Image.fromarray(np.full((200, 200, 3), 230, dtype=np.uint8)))


@pytest.mark.parametrize("request_kwargs, status, message", [
    ({}, 400, "no file"),
    ({"data": {"image": "a text field, not a file"}}, 400, "no file"),  # urlencoded
    ({"data": {"image": "text"}, "files": {"other": ("a.png", b"x", "image/png")}}, 400, "no file"),  # multipart
    ({"content": b'{"image": 1}', "headers": {"content-type": "application/json"}}, 400, "no file"),
    ({"files": {"image": ("a.txt", b"just text", "text/plain")}}, 422, "not an image"),
    ({"files": {"image": ("e.png", b"", "image/png")}}, 422, "empty"),
    ({"files": {"image": ("bomb.png", png_with_size(20000, 20000), "image/png")}}, 422, "decompression bomb"),
    ({"files": {"image": ("lab.tif", lab_tiff_of_a_scan(), "image/tiff")}}, 422, "cannot be converted to grayscale"),
    ({"files": {"image": ("big.png", b"\0" * 2_000_000, "image/png")}}, 413, "over the limit"),
])
@pytest.mark.parametrize("route", ["predict", "read"])
def test_bad_requests_get_4xx_json_and_server_keeps_serving(server, route, request_kwargs, status, message):
    response = httpx.post(f"{server}/api/{route}", **request_kwargs)
    assert response.status_code == status
    assert message in response.json()["detail"]
    assert httpx.get(f"{server}/api/health").status_code == 200


def send_chunk(conn: socket.socket, data: bytes) -> None:
    conn.sendall(b"%x\r\n" % len(data) + data + b"\r\n")


def test_chunked_upload_is_refused_at_the_limit_not_after_the_whole_body(server):
    """Without a Content-Length the server must count the bytes as they come (its limit is 1 MB):
    it answers 413 while the client is still sending, rather than store 64 MB first."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(b"POST /api/predict HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: multipart/form-data; boundary=xyz\r\n\r\n")
        send_chunk(conn, b'--xyz\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\n'
                         b"Content-Type: image/png\r\n\r\n")
        sent = 0
        while sent < 64 * 2**20 and not select.select([conn], [], [], 0)[0]:  # until the server answers
            try:
                send_chunk(conn, b"\0" * 2**16)
            except OSError:  # it answered and closed the connection
                break
            sent += 2**16
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = conn.recv(4096)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 16 * 2**20  # the limit plus what the sockets buffer, not the whole body
    assert httpx.get(f"{server}/api/health").status_code == 200


def test_health_answers_head_and_no_page_loads_from_a_cdn(server):
    head = httpx.head(f"{server}/api/health")
    assert head.status_code == 200 and head.content == b""
    assert httpx.get(f"{server}/docs").status_code == 404 and httpx.get(f"{server}/redoc").status_code == 404
    schema = httpx.get(f"{server}/openapi.json").json()
    assert {"/api/predict", "/api/read", "/api/health"} <= set(schema["paths"])
    assert "image" in schema["paths"]["/api/predict"]["post"]["requestBody"]["content"]["multipart/form-data"][
        "schema"]["properties"]


@contextlib.contextmanager
def serving(app):
    """`app` on a real uvicorn server on 127.0.0.1, in a thread of this process."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling for the server to listen, not waiting for an event to happen
    assert server.started, "uvicorn did not start"
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_busy_server_answers_503_with_retry_after_instead_of_queueing(trained_run, font_glyph):
    from digitlab.predict import Predictor, Reader
    from digitlab.server import create_app

    real = Predictor.load(trained_run)
    inside_model, release = threading.Event(), threading.Event()

    def held_model(batch):  # the first request stays inside the model until the test lets it go
        inside_model.set()
        release.wait(60)
        return real._run_batch(batch)

    predictor = Predictor(held_model, real.classes, real.info)
    scan = png_bytes(clean_scan(font_glyph("5", "Humor-Sans")))  # 600x600: 0.36 MP
    answers = []
    with serving(create_app(predictor, Reader.load(), decode_budget_pixels=500_000)) as url:
        first = threading.Thread(target=lambda: answers.append(
            httpx.post(f"{url}/api/predict", files={"image": ("a.png", scan)}, timeout=60)))
        first.start()
        assert inside_model.wait(60)
        busy = httpx.post(f"{url}/api/predict", files={"image": ("b.png", scan)}, timeout=60)
        health = httpx.get(f"{url}/api/health", timeout=60)
        release.set()
        first.join(60)
        again = httpx.post(f"{url}/api/predict", files={"image": ("c.png", scan)}, timeout=60)
    assert busy.status_code == 503 and busy.headers["retry-after"].isdigit() and "busy" in busy.json()["detail"]
    assert health.status_code == 200
    assert answers[0].status_code == 200 and answers[0].json()["digit"] == 5
    assert again.status_code == 200 and again.json()["digit"] == 5


def test_page_and_its_assets_are_served_locally(server):
    page = httpx.get(f"{server}/").text
    assert "<canvas" in page and "/static/app.js" in page and "http" not in page.split("<body>")[1]
    assert httpx.get(f"{server}/static/app.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{server}/static/../server.py").status_code == 404


def test_two_workers_answer_on_one_port(font_glyph):
    process, url = start_server(workers=2)
    try:
        data = png_bytes(clean_scan(font_glyph("5", "Humor-Sans")))
        answered: dict[str, int] = {}
        deadline = time.monotonic() + 60  # the second worker may still be loading its model
        with httpx.Client() as client:  # one client: it must not stay with the worker it met first
            while len(answered) < 2 and time.monotonic() < deadline:
                response = client.get(f"{url}/api/health")
                assert response.status_code == 200 and response.json()["arch"] == "wide"
                assert response.headers["connection"] == "close"
                worker = response.headers["x-digitlab-worker"]
                assert response.json()["worker"] == int(worker)  # the health route says which worker answered
                # Each worker reads with the shipped second reader, as one process does.
                assert response.json()["reader"]["second_reader"].endswith("second-reader.safetensors")
                answered[worker] = answered.get(worker, 0) + 1
        assert len(answered) == 2, answered
        assert str(process.pid) not in answered  # the parent only supervises
        for _ in range(4):
            response = httpx.post(f"{url}/api/predict", files={"image": ("five.png", data, "image/png")})
            assert response.json()["digit"] == 5 and response.headers["x-digitlab-worker"] in answered
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert process.returncode == 0


def test_workers_must_be_positive():
    result = run_cli("serve", "--workers", "0")
    assert result.returncode == 2 and result.stderr.strip() == "digitlab: error: --workers must be at least 1, got 0."


@pytest.mark.parametrize("flags, message", [(["--port", "70000"], "--port must be 0-65535, got 70000."),
                                            (["--max-upload-mb", "0"], "--max-upload-mb must allow at least 1 KiB")])
def test_impossible_port_or_upload_limit_is_one_line(flags, message):
    result = run_cli("serve", "--workers", "1", *flags)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr


def test_a_server_of_two_onnx_files_reads_numbers_without_torch(font_glyph, tmp_path):
    """/api/read asks the server's own digit model for its second opinion: with both models
    exported, the server never loads PyTorch."""
    import numpy as np

    from digitlab.networks import SHIPPED_LINES, shipped_model

    digits, lines = tmp_path / "digits.onnx", tmp_path / "lines.onnx"
    assert run_cli("export", "--onnx", str(digits)).returncode == 0
    assert run_cli("export", "--model", str(shipped_model(SHIPPED_LINES)), "--onnx", str(lines)).returncode == 0
    process, url = start_server(model=digits, reader=lines, workers=1)
    try:
        glyph = join_glyphs([font_glyph(c, "Humor-Sans") for c in "2718"], np.random.default_rng(1))
        data = png_bytes(clean_scan(glyph, fill=0.15, side=900))
        body = httpx.post(f"{url}/api/read", files={"image": ("n.png", data, "image/png")}, timeout=60).json()
        assert body["text"] == "2718"
        assert httpx.get(f"{url}/api/health").json()["reader"]["digit_model"] == str(digits)
        with open(f"/proc/{process.pid}/maps") as maps:
            assert "libtorch" not in maps.read()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_no_second_opinion_reaches_every_worker(font_glyph):
    """`serve --no-second-opinion`: /api/read is the line reader's alone, in each worker process."""
    import numpy as np

    process, url = start_server(workers=2, flags=("--no-second-opinion",))
    try:
        glyph = join_glyphs([font_glyph(c, "Humor-Sans") for c in "305"], np.random.default_rng(2))
        data = png_bytes(clean_scan(glyph, fill=0.15, side=900))
        workers = set()
        for _ in range(40):  # bounded: until both workers have answered
            health = httpx.get(f"{url}/api/health", timeout=30).json()
            assert health["reader"]["digit_model"] is None and health["model"].endswith("digits.safetensors")
            workers.add(health["worker"])
            if len(workers) == 2:
                break
        assert len(workers) == 2
        body = httpx.post(f"{url}/api/read", files={"image": ("n.png", data, "image/png")}, timeout=60).json()
        assert body["text"] == "305"
    finally:
        process.terminate()
        process.wait(timeout=20)
