"""API tests against a real uvicorn server on 127.0.0.1."""

import io

import httpx
import pytest

from tests.conftest import clean_scan
from tests.scanmaker import join_glyphs
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


def test_predict_returns_the_cli_json(server, font_glyph):
    data = png_bytes(clean_scan(font_glyph("5", "Humor-Sans")))
    body = httpx.post(f"{server}/api/predict", files={"image": ("five.png", data, "image/png")}).json()
    assert body["digit"] == 5 and body["path"] == "five.png"
    assert len(body["probabilities"]) == 10 and isinstance(body["uncertain"], bool) and "not_a_digit" in body
    assert body["preprocessed"].startswith("data:image/png;base64,")


def test_read_returns_the_number(server, font_glyph):
    import numpy as np

    glyph = join_glyphs([font_glyph(c, "Humor-Sans") for c in "1984"], np.random.default_rng(0))
    data = png_bytes(clean_scan(glyph, fill=0.15, side=900))
    body = httpx.post(f"{server}/api/read", files={"image": ("n.png", data, "image/png")}).json()
    assert body["text"] == "1984" and len(body["digits"]) == 4 and len(body["lines"]) == 1
    assert body["lines"][0]["text"] == "1984" and len(body["lines"][0]["box"]) == 4


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
