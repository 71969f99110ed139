"""The web page and HTTP API (FastAPI + uvicorn), on the same `Predictor` as the CLI.

    GET  /              drawing canvas and upload page
    POST /api/predict   multipart field `image` -> the JSON of `digitlab predict --json`
                        (plus `preprocessed`, the 28x28 the model saw, as a PNG data URL)
    POST /api/read      multipart field `image` -> the JSON of `digitlab read --json`
    GET  /api/health    model name, arch, test accuracy, version (of the digit model and the line reader)
"""

from __future__ import annotations

import base64
import io
from importlib import resources
from pathlib import Path

import numpy as np
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from PIL import Image
from starlette.concurrency import run_in_threadpool

from digitlab import __version__
from digitlab.errors import DigitlabError
from digitlab.predict import Predictor, Reader

STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def png_data_url(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def create_app(predictor: Predictor, reader: Reader, max_upload_bytes: int = 10 * 1024 * 1024) -> FastAPI:
    app = FastAPI(title="digitlab", version=__version__)
    static = resources.files("digitlab") / "static"

    @app.middleware("http")
    async def refuse_large_bodies(request: Request, call_next):
        # Refuse by the declared length before the body is read or parsed.
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_upload_bytes + 64 * 1024:
            return too_large(int(length))
        return await call_next(request)

    def too_large(size: int) -> JSONResponse:
        return JSONResponse({"detail": f"upload of {size:,} bytes is over the limit of {max_upload_bytes:,} bytes."},
                            status_code=413)

    async def read_upload(image: UploadFile | None) -> bytes | JSONResponse:
        if image is None:
            return JSONResponse({"detail": "no file: send the image as multipart form field 'image'."},
                                status_code=400)
        data = await image.read(max_upload_bytes + 1)
        if len(data) > max_upload_bytes:
            return too_large(len(data))
        return data

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return (static / "index.html").read_text(encoding="utf-8")

    @app.get("/static/{name}")
    def static_file(name: str) -> Response:
        suffix = Path(name).suffix
        if suffix not in STATIC_TYPES or "/" in name or not (static / name).is_file():
            return JSONResponse({"detail": f"no static file {name!r}."}, status_code=404)
        return Response((static / name).read_bytes(), media_type=STATIC_TYPES[suffix])

    @app.get("/api/health")
    def health() -> dict:
        return {"status": "ok", "model": predictor.info.get("model"), "arch": predictor.info.get("arch"),
                "backend": predictor.info.get("backend"), "dataset": predictor.info.get("dataset"),
                "test_accuracy": predictor.info.get("test_accuracy"), "classes": predictor.classes,
                "reader": {k: reader.info.get(k) for k in ("model", "backend", "test_accuracy")},
                "version": __version__}

    @app.post("/api/predict")
    async def predict(image: UploadFile | None = File(None)):
        data = await read_upload(image)
        if isinstance(data, JSONResponse):
            return data
        name = image.filename or "upload"
        # Model work runs in the thread pool so the event loop keeps accepting requests.
        result = (await run_in_threadpool(predictor.predict, [data], [name]))[0]
        if isinstance(result, DigitlabError):
            return JSONResponse({"detail": str(result)}, status_code=422)
        return result.to_json() | {"preprocessed": png_data_url(result.image)}

    @app.post("/api/read")
    async def read(image: UploadFile | None = File(None)):
        data = await read_upload(image)
        if isinstance(data, JSONResponse):
            return data
        try:
            reading = await run_in_threadpool(reader.read, data, image.filename or "upload")
        except DigitlabError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
        lines_seen = [png_data_url((image * 255).astype(np.uint8)) for image in reading.images]
        return reading.to_json() | {"preprocessed": lines_seen}

    return app


def serve(model: str | Path | None, reader: str | Path | None = None, host: str = "127.0.0.1", port: int = 8000,
          max_upload_bytes: int = 10 * 1024 * 1024) -> None:
    import uvicorn

    predictor, line_reader = Predictor.load(model), Reader.load(reader)
    print(f"digitlab serving {predictor.info.get('model')} and {line_reader.info.get('model')} on http://{host}:{port}/")
    uvicorn.run(create_app(predictor, line_reader, max_upload_bytes), host=host, port=port, log_level="warning")
