"""The web page and HTTP API (FastAPI + uvicorn), on the same `Predictor` and `Reader` as the CLI.

    GET  /              drawing canvas and upload page (its script and style under /static/)
    POST /api/predict   multipart field `image` -> the JSON of `digitlab predict --json`
                        (plus `preprocessed`, the 28x28 the model saw, as a PNG data URL)
    POST /api/read      multipart field `image` -> the JSON of `digitlab read --json`
    GET  /api/health    the digit model and the line reader: name, arch, test accuracy; version (HEAD too)
    GET  /openapi.json  the API's schema; there is no /docs page, which would load from a CDN

Errors are JSON `{"detail": "..."}`: 400 no image file, 413 too large, 422 not a readable image
or no digit, 503 busy. Uploads are counted while they stream in and refused at the limit, with or
without a Content-Length. Decoding is bounded by a budget of pixels in flight, which bounds the
memory whatever the number of requests: beyond it the answer is 503 with Retry-After, not a queue.

`serve(..., workers=N)` runs N processes on one port (uvicorn's workers), each with its own models;
every response names the process that answered in its `X-Digitlab-Worker` header.
"""

from __future__ import annotations

import base64
import contextlib
import io
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from importlib import resources
from pathlib import Path
from typing import TypeVar

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from digitlab import __version__
from digitlab.errors import DigitlabError
from digitlab.images import MAX_PIXELS, decoded_pixels, is_heif, open_image
from digitlab.predict import Predictor, Reader, Reading

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the file, counted with it
# Four pictures of the largest size accepted may be decoded at once (about 1 GB at worst, an
# RGBA picture costs 4 bytes a pixel); small ones pass beside them.
DECODE_BUDGET_PIXELS = 4 * MAX_PIXELS
RETRY_AFTER_SECONDS = 2
PICTURE_SIDE = 1600  # a HEIC upload's picture, sent back for the page to show: wider than it is shown

UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["image"], "properties": {"image": {"type": "string", "format": "binary"}}}}}}}

T = TypeVar("T")
# How `serve` tells its worker processes what to load: uvicorn starts each worker afresh from an
# import string (`app_from_env`), so settings travel in the environment the workers inherit.
MODEL_VARIABLE = "DIGITLAB_SERVE_MODEL"
READER_VARIABLE = "DIGITLAB_SERVE_READER"
SECOND_READER_VARIABLE = "DIGITLAB_SERVE_SECOND_READER"
MAX_UPLOAD_VARIABLE = "DIGITLAB_SERVE_MAX_UPLOAD_BYTES"
SECOND_OPINION_VARIABLE = "DIGITLAB_SERVE_SECOND_OPINION"


def png_data_url(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def picture_for_browsers(image: Image.Image) -> dict:
    """For an upload most browsers cannot show (HEIC/HEIF, iPhones' photos), decoded to `image`: a
    JPEG of it at most PICTURE_SIDE pixels a side, for the page to draw the reading over, and the
    size of the picture that the reading's boxes are measured in."""
    size = list(image.size)
    image = image.convert("RGB")
    image.thumbnail((PICTURE_SIDE, PICTURE_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return {"picture": "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"),
            "picture_size": size}


class DecodeBudget:
    """The pixels of the pictures being decoded now, kept within `limit`. A picture that does not
    fit is refused at once (503), so memory stays bounded and a client learns to come back,
    instead of requests piling up in a queue without end."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def reserve(self, pixels: int) -> Iterator[None]:
        with self._lock:
            if self.in_use and self.in_use + pixels > self.limit:
                raise HTTPException(503, detail="busy decoding other images: try again in a moment.",
                                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            self.in_use += pixels
        try:
            yield
        finally:
            with self._lock:
                self.in_use -= pixels


def too_large(limit: int, size: int | None = None) -> HTTPException:
    what = f"upload of {size:,} bytes" if size is not None else "upload"
    return HTTPException(413, detail=f"{what} is over the limit of {limit:,} bytes.")


async def read_upload(request: Request, limit: int) -> tuple[str, bytes]:
    """The name and bytes of the multipart file field `image`. The body is counted as it streams
    in and refused as soon as it passes the limit, declared or not (chunked uploads declare none)."""
    allowance = limit + FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > allowance:
        raise too_large(limit, int(declared))
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(400, detail="no file: send the image as multipart form field 'image'.")
    received = 0

    async def receive_counted():
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > allowance:
            raise too_large(limit)
        return message

    async with Request(request.scope, receive_counted).form(max_files=1, max_fields=8) as form:
        upload = form.get("image")
        if not isinstance(upload, UploadFile):
            raise HTTPException(400, detail="no file: send the image as multipart form field 'image'.")
        data = await upload.read(limit + 1)
        name = upload.filename or "upload"
    if len(data) > limit:
        raise too_large(limit, len(data))
    return name, data


def create_app(predictor: Predictor, reader: Reader, max_upload_bytes: int = MAX_UPLOAD_BYTES,
               decode_budget_pixels: int = DECODE_BUDGET_PIXELS) -> FastAPI:
    app = FastAPI(title="digitlab", version=__version__, docs_url=None, redoc_url=None)
    budget = DecodeBudget(decode_budget_pixels)
    app.mount("/static", StaticFiles(packages=[("digitlab", "static")]), name="static")

    @app.exception_handler(DigitlabError)
    async def unprocessable(request: Request, exc: DigitlabError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    def within_budget(data: bytes, work: Callable[..., T], *args) -> T:
        # Reserved and released in the worker thread itself: the reservation lasts exactly as
        # long as the decoding, even if the client goes away meanwhile.
        with budget.reserve(decoded_pixels(data)):
            return work(*args)

    def read_with_picture(data: bytes, name: str) -> tuple[Reading, dict]:
        if not is_heif(data):
            return reader.read(data, name), {}
        image = open_image(data, name)  # decoded once: read, and sent back for the page to show
        return reader.read(image, name), picture_for_browsers(image)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return (resources.files("digitlab") / "static" / "index.html").read_text(encoding="utf-8")

    @app.get("/api/health")
    @app.head("/api/health", include_in_schema=False)
    async def health() -> dict:
        return {"status": "ok", "model": predictor.info.get("model"), "arch": predictor.info.get("arch"),
                "backend": predictor.info.get("backend"), "dataset": predictor.info.get("dataset"),
                "test_accuracy": predictor.info.get("test_accuracy"), "classes": predictor.classes,
                "reader": {k: reader.info.get(k) for k in ("model", "backend", "test_accuracy", "digit_model",
                                                            "orientation_model", "second_reader")},
                "version": __version__, "worker": os.getpid()}

    @app.post("/api/predict", openapi_extra=UPLOAD_BODY)
    async def predict(request: Request) -> dict:
        name, data = await read_upload(request, max_upload_bytes)
        # Model work runs in the thread pool so the event loop keeps accepting requests.
        result = (await run_in_threadpool(within_budget, data, predictor.predict, [data], [name]))[0]
        if isinstance(result, DigitlabError):
            raise result
        return result.to_json() | {"preprocessed": png_data_url(result.image)}

    @app.post("/api/read", openapi_extra=UPLOAD_BODY)
    async def read(request: Request) -> dict:
        name, data = await read_upload(request, max_upload_bytes)
        reading, picture = await run_in_threadpool(within_budget, data, read_with_picture, data, name)
        lines_seen = [png_data_url((image * 255).astype(np.uint8)) for image in reading.images]
        return reading.to_json() | {"preprocessed": lines_seen} | picture

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
    """The app of one `serve` worker process: its own `Predictor` and `Reader` for the models that
    `serve` put in the environment."""
    predictor = Predictor.load(os.environ[MODEL_VARIABLE])
    app = create_app(predictor, line_reader(os.environ[READER_VARIABLE], predictor,
                                            os.environ[SECOND_OPINION_VARIABLE] == "1",
                                            os.environ[SECOND_READER_VARIABLE]),
                     int(os.environ[MAX_UPLOAD_VARIABLE]))
    app.add_middleware(WorkerHeader, close_connections=True)
    return app


def default_workers() -> int:
    """One server process per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def serve(model: str | Path | None, reader: str | Path | None = None, host: str = "127.0.0.1", port: int = 8000,
          max_upload_bytes: int = MAX_UPLOAD_BYTES, workers: int | None = None, second_opinion: bool = True) -> None:
    """Serve the page and API with `workers` processes on one port (default: one per core); with
    `second_opinion=False` /api/read is the line reader's alone.
    Decoding and preprocessing hold the GIL, so processes, not threads, put more cores to work."""
    import uvicorn

    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise DigitlabError(f"--workers must be at least 1, got {workers}.")
    if not 0 <= port <= 65535:
        raise DigitlabError(f"--port must be 0-65535, got {port}.")
    if max_upload_bytes < 1024:
        raise DigitlabError(f"--max-upload-mb must allow at least 1 KiB, got {max_upload_bytes} bytes.")
    if workers == 1:
        predictor = Predictor.load(model)
        numbers = line_reader(reader, predictor, second_opinion)
        print(f"digitlab serving {predictor.info.get('model')} and {numbers.info.get('model')} on "
              f"http://{host}:{port}/", flush=True)
        app = create_app(predictor, numbers, max_upload_bytes)
        app.add_middleware(WorkerHeader)
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    # The models are tried once in a throwaway process: a bad one is one line here, not a traceback
    # per worker, and the supervising process stays small (it never imports the models' framework).
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        model_path, reader_path, second_reader_path = pool.submit(loadable_models, model, reader).result()
    print(f"digitlab serving {model_path} and {reader_path} on http://{host}:{port}/ ({workers} workers)", flush=True)
    # The workers are fresh processes: the environment is how they learn their models. It is put
    # back afterwards, so that a caller's own environment is not changed by serving.
    saved = dict(os.environ)
    os.environ[MODEL_VARIABLE], os.environ[READER_VARIABLE] = model_path, reader_path
    os.environ[SECOND_READER_VARIABLE] = second_reader_path
    os.environ[MAX_UPLOAD_VARIABLE] = str(max_upload_bytes)
    os.environ[SECOND_OPINION_VARIABLE] = "1" if second_opinion else "0"
    # Each worker's PyTorch threads share out the cores rather than each worker claiming them all.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, default_workers() // workers)))
    try:
        uvicorn.run("digitlab.server:app_from_env", factory=True, workers=workers, host=host, port=port,
                    log_level="warning")
    finally:
        os.environ.clear()
        os.environ.update(saved)


def loadable_models(model: str | Path | None, reader: str | Path | None) -> tuple[str, str, str]:
    """The absolute paths of the models `Predictor.load(model)` and `Reader.load(reader)` load,
    once they have loaded them: the digit model, the line reader and its second reader ("none"
    without one)."""
    numbers = Reader.load(reader, second_opinion=False)
    second = numbers.info.get("second_reader")
    return (str(Path(Predictor.load(model).info["model"]).resolve()), str(Path(numbers.info["model"]).resolve()),
            str(Path(second).resolve()) if second is not None else "none")


def line_reader(reader: str | Path | None, predictor: Predictor, second_opinion: bool = True,
                second_reader: str | Path | None = None) -> Reader:
    """The line reader for /api/read (with the second reader `second_reader`, as `Reader.load`
    takes it), asking the server's own digit model (when its classes are the digits and
    `second_opinion` is on) about the digits it doubts: one digit model per server, so a server of
    two ONNX files never imports torch."""
    alone = Reader.load(reader, second_opinion=False, second_reader=second_reader)
    return alone.asking(predictor) if second_opinion and predictor.reads_digits else alone
