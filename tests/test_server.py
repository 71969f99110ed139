"""API tests against a real uvicorn server on 127.0.0.1."""

import io
import time

import httpx
import pytest

from tests.conftest import clean_scan, run_cli, start_server
from tests.scanmaker import join_glyphs
from tests.test_preprocessing import png_with_size


def png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_health_names_the_model(server, trained_run):
    health = httpx.get(f"{server}/api/health").json()
    assert health["model"] == str(trained_run) and health["arch"] == "default"
    assert health["test_accuracy"] > 0.95 and health["version"]


def test_predict_returns_the_cli_json(server, font_glyph):
    data = png_bytes(clean_scan(font_glyph("5", "Humor-Sans")))
    body = httpx.post(f"{server}/api/predict", files={"image": ("five.png", data, "image/png")}).json()
    assert body["digit"] == 5 and body["path"] == "five.png"
    assert len(body["probabilities"]) == 10 and isinstance(body["uncertain"], bool)
    assert body["preprocessed"].startswith("data:image/png;base64,")


def test_read_returns_the_number(server, font_glyph):
    import numpy as np

    glyph = join_glyphs([font_glyph(c, "Humor-Sans") for c in "1984"], np.random.default_rng(0))
    data = png_bytes(clean_scan(glyph, fill=0.15, side=900))
    body = httpx.post(f"{server}/api/read", files={"image": ("n.png", data, "image/png")}).json()
    assert body["text"] == "1984" and len(body["digits"]) == 4


@pytest.mark.parametrize("files, status, message", [
    (None, 400, "no file"),
    ({"image": ("a.txt", b"just text", "text/plain")}, 422, "not an image"),
    ({"image": ("e.png", b"", "image/png")}, 422, "empty"),
    ({"image": ("bomb.png", png_with_size(20000, 20000), "image/png")}, 422, "decompression bomb"),
    ({"image": ("big.png", b"\0" * 2_000_000, "image/png")}, 413, "over the limit"),
])
def test_bad_requests_get_4xx_json_and_server_keeps_serving(server, files, status, message):
    response = httpx.post(f"{server}/api/predict", files=files) if files else httpx.post(f"{server}/api/predict")
    assert response.status_code == status
    assert message in response.json()["detail"]
    assert httpx.get(f"{server}/api/health").status_code == 200


def test_page_and_its_assets_are_served_locally(server):
    page = httpx.get(f"{server}/").text
    assert "<canvas" in page and "/static/app.js" in page and "http" not in page.split("<body>")[1]
    assert httpx.get(f"{server}/static/app.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{server}/static/../server.py").status_code == 404


def test_two_workers_answer_on_one_port(trained_run, font_glyph):
    process, url = start_server(trained_run, workers=2)
    try:
        data = png_bytes(clean_scan(font_glyph("5", "Humor-Sans")))
        answered: dict[str, int] = {}
        deadline = time.monotonic() + 60  # the second worker may still be loading its model
        with httpx.Client() as client:  # one client: it must not stay with the worker it met first
            while len(answered) < 2 and time.monotonic() < deadline:
                response = client.get(f"{url}/api/health")
                assert response.status_code == 200 and response.json()["arch"] == "default"
                assert response.headers["connection"] == "close"
                worker = response.headers["x-digitlab-worker"]
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


def test_workers_must_be_positive(trained_run):
    result = run_cli("serve", "--model", str(trained_run), "--workers", "0")
    assert result.returncode == 2 and result.stderr.strip() == "digitlab: error: --workers must be at least 1, got 0."
