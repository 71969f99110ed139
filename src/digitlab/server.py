"""The web page and HTTP API (FastAPI + uvicorn), on the same `Predictor` as the CLI.

    GET  /              drawing canvas and upload page
    POST /api/predict   multipart field `image` -> the JSON of `digitlab predict --json`
                        (plus `preprocessed`, the 28x28 the model saw, as a PNG data URL)
    POST /api/read      multipart field `image` -> the JSON of `digitlab read --json`
    GET  /api/health    model name, arch, test accuracy, version

`serve(..., workers=N)` runs N processes on one port (uvicorn's workers), each with its own model;
every response names the process that answered in its `X-Digitlab-Worker` header.
"""

from __future__ import annotations

import base64
import io
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from importlib import resources
from pathlib import Path

import numpy as np
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from PIL import Image
from starlette.concurrency import run_in_threadpool

from digitlab import __version__
from digitlab.errors import DigitlabError
from digitlab.predict import Predictor

STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
# How `serve` tells its worker processes what to load: uvicorn starts each worker afresh from an
# import string (`app_from_env`), so settings travel in the environment the workers inherit.
MODEL_VARIABLE = "DIGITLAB_SERVE_MODEL"
MAX_UPLOAD_VARIABLE = "DIGITLAB_SERVE_MAX_UPLOAD_BYTES"


def png_data_url(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def create_app(predictor: Predictor, max_upload_bytes: int = 10 * 1024 * 1024) -> FastAPI:
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
            reading = await run_in_threadpool(predictor.read, data, image.filename or "upload")
        except DigitlabError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
        return reading.to_json() | {"preprocessed": [png_data_url(im) for im in reading.images]}

    return app


class WorkerHeader:
    """ASGI middleware naming the answering process in every response (`X-Digitlab-Worker: PID`):
    with several workers on one port, the way to tell which one answered.

    With `close_connections`, every response also closes its connection. Workers share one
    listening socket, and the one that wakes first accepts every connection waiting, so a few
    clients that keep their connections open would all stay with one worker; reconnecting for
    each request lets whichever worker is free take the next (a loopback connect costs far less
    than decoding an upload)."""

    def __init__(self, app, close_connections: bool = False) -> None:
        self.app = app
        self.close_connections = close_connections

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = [(b"x-digitlab-worker", str(os.getpid()).encode())]
        if self.close_connections:
            headers.append((b"connection", b"close"))

        async def send_named(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_named)


def app_from_env() -> FastAPI:
    """The app of one `serve` worker process: its own `Predictor` for the model that `serve` put
    in the environment."""
    predictor = Predictor.load(os.environ[MODEL_VARIABLE])
    app = create_app(predictor, int(os.environ[MAX_UPLOAD_VARIABLE]))
    app.add_middleware(WorkerHeader, close_connections=True)
    return app


def default_workers() -> int:
    """One server process per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def serve(model: str | Path | None, host: str = "127.0.0.1", port: int = 8000,
          max_upload_bytes: int = 10 * 1024 * 1024, workers: int | None = None) -> None:
    """Serve the page and API with `workers` processes on one port (default: one per core).
    Decoding and preprocessing hold the GIL, so processes, not threads, put more cores to work."""
    import uvicorn

    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise DigitlabError(f"--workers must be at least 1, got {workers}.")
    if workers == 1:
        predictor = Predictor.load(model)
        print(f"digitlab serving {predictor.info.get('model')} on http://{host}:{port}/", flush=True)
        app = create_app(predictor, max_upload_bytes)
        app.add_middleware(WorkerHeader)
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    # The model is tried once in a throwaway process: a bad one is one line here, not a traceback
    # per worker, and the supervising process stays small (it never imports the model's framework).
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        model_path = pool.submit(loadable_model, model).result()
    print(f"digitlab serving {model_path} on http://{host}:{port}/ ({workers} workers)", flush=True)
    os.environ[MODEL_VARIABLE] = model_path
    os.environ[MAX_UPLOAD_VARIABLE] = str(max_upload_bytes)
    # Each worker's PyTorch threads share out the cores rather than each worker claiming them all.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, default_workers() // workers)))
    uvicorn.run("digitlab.server:app_from_env", factory=True, workers=workers, host=host, port=port,
                log_level="warning")


def loadable_model(model: str | Path | None) -> str:
    """The absolute path of the model `Predictor.load(model)` loads, once it has loaded it."""
    return str(Path(Predictor.load(model).info["model"]).resolve())
