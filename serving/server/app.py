"""The container contract as a WSGI app: ``/ping``, ``/invocations``, ``/execution-parameters``.

The model is loaded when the app is built, which gunicorn does once in the master process
before forking workers (``preload_app``): every worker shares one copy and the first
``/ping`` is already fast. If loading fails the app still starts, answers ``/ping`` with
503 and the reason, and logs the traceback, so the failure is visible from outside.

:meth:`App.invoke` is ``POST /invocations`` without HTTP: batch transform's in-process
engine calls it for each container of a pipeline, so a container answers the same bytes,
statuses and errors in a process of its own and in the engine's. Errors are answered in
the container's shape by :func:`serving.errors.container_response`.

Why plain WSGI and not a Flask app: three fixed routes need no router, and Flask's request
and response machinery costs about 90 µs a request here — a third of the whole serving
overhead we allow (0.3 ms). User hooks may still return a ``flask.Response``; the handler
chain reads it like any other result.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
import uuid
from typing import Callable, Iterable, Mapping

from ..errors import (ConfigurationError, MethodNotAllowed, ModelNotReady, NotFound, PayloadTooLarge, ServingError,
                      container_response)
from ..handlers.context import Request, headers_from_environ, reset_request, set_request
from ..handlers.transformer import Transformer, is_response
from ..http.headers import status_line
from ..logs import access_log
from ..settings import Settings

log = logging.getLogger("serving")

REQUEST_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"
INSTANCE_HEADER = "X-Serving-Instance"  # a pipeline endpoint's token for this run: its health check knows its own
_ROUTES = {"/ping": "GET", "/invocations": "POST", "/execution-parameters": "GET"}

Headers = list[tuple[str, str]]


class Model:
    """What the app serves: a loaded handler chain, or the reason there is none."""

    def __init__(self, settings: Settings):
        self.transformer: Transformer | None = None
        self.error: str | None = None
        started = time.perf_counter()
        try:
            self.transformer = Transformer.from_settings(settings)
            log.info("model loaded from %s in %.0f ms (%s)", settings.model_dir,
                     (time.perf_counter() - started) * 1000, settings.framework)
        except Exception as exc:  # noqa: BLE001 - any failure must be reported by /ping
            ours = isinstance(exc, (ServingError, ConfigurationError))  # their messages stand alone
            self.error = str(exc) if ours else f"{type(exc).__name__}: {exc}"
            log.error("model failed to load: %s\n%s", self.error, traceback.format_exc())

    def ready(self) -> Transformer:
        if self.transformer is None:
            raise ModelNotReady(f"the model failed to load: {self.error}")
        return self.transformer


class App:
    """The WSGI callable gunicorn serves."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.model = Model(settings)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        try:
            allowed = _ROUTES.get(path)
            if allowed is None:
                raise NotFound(f"no route {path}; this container serves /ping, /invocations and /execution-parameters")
            if method != allowed and not (method == "HEAD" and allowed == "GET"):
                raise MethodNotAllowed(f"{path} takes {allowed}, not {method}", headers={"Allow": allowed})
            if path == "/invocations":
                status, headers, body = self.invocations(environ, started)
            elif path == "/ping":
                status, headers, body = self.ping(started)
            else:
                status, headers, body = self.execution_parameters()
        except Exception as exc:  # noqa: BLE001 - every error answers in the container's shape
            status, headers, body = container_response(exc)
        headers.append(("Content-Length", str(len(body))))
        start_response(status_line(status), headers)
        return [body] if method != "HEAD" else []

    def ping(self, started: float) -> tuple[int, Headers, bytes]:
        headers = [("Content-Type", "text/plain")]
        if self.settings.instance:
            headers.append((INSTANCE_HEADER, self.settings.instance))
        if self.model.transformer is None:
            result = 503, headers, f"the model failed to load: {self.model.error}\n".encode()
        else:
            result = 200, headers, b""
        access_log("GET", "/ping", result[0], started, "-", 0)
        return result

    def invocations(self, environ: dict, started: float) -> tuple[int, Headers, bytes]:
        headers = headers_from_environ(environ)
        request_id = headers.get("x-amzn-sagemaker-inference-id") or uuid.uuid4().hex
        try:
            body = self.read_body(environ)
        except ServingError as exc:
            status, out, body = container_response(exc)
            out.append((REQUEST_ID_HEADER, request_id))
        else:
            status, out, body = self.invoke(body, headers, request_id)
        access_log("POST", "/invocations", status, started, request_id, len(body))
        return status, out, body

    def invoke(self, body: bytes, headers: Mapping[str, str], request_id: str | None = None) -> tuple[int, Headers, bytes]:
        """``POST /invocations`` without HTTP: ``headers`` has lower-case names; the answer's
        status, headers and body, errors included."""
        request_id = request_id or headers.get("x-amzn-sagemaker-inference-id") or uuid.uuid4().hex
        token = set_request(Request(request_id, dict(headers)))
        try:
            if len(body) > self.settings.max_payload_bytes:
                raise too_large(len(body), self.settings)
            result = self.model.ready().invoke(body, headers.get("content-type"), headers.get("accept"))
            out = [("Content-Type", result.content_type)] if result.content_type else []
            status, out = result.status, [*out, *result.headers.items()]
            body = result.body  # exactly the type chosen: no added charset
        except Exception as exc:  # noqa: BLE001 - every error answers in the container's shape
            status, out, body = container_response(exc)
            if status >= 500:
                log.error("request %s failed: %s", request_id, getattr(exc, "message", exc))
        finally:
            reset_request(token)
        out.append((REQUEST_ID_HEADER, request_id))
        return status, out, body

    def read_body(self, environ: dict) -> bytes:
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        limit = self.settings.max_payload_bytes
        if length:
            size = int(length)
            if size > limit:
                raise too_large(size, self.settings)
            return stream.read(size)
        body = stream.read(limit + 1)  # chunked: measured as it is read
        if len(body) > limit:
            raise too_large(len(body), self.settings)
        return body

    def execution_parameters(self) -> tuple[int, Headers, bytes]:
        params = self.model.ready().execution_parameters()
        if is_response(params):
            return params.status_code, [("Content-Type", params.headers.get("Content-Type", "application/json"))], params.get_data()
        return 200, [("Content-Type", "application/json")], json.dumps(params).encode()


def too_large(size: int, settings: Settings) -> PayloadTooLarge:
    """The 413 for a body over ``SAGEMAKER_MAX_PAYLOAD_IN_MB``."""
    return PayloadTooLarge(
        f"the request body is {size} bytes, over the limit of {settings.max_payload_bytes} bytes "
        f"({settings.max_payload_mb:g} MB, SAGEMAKER_MAX_PAYLOAD_IN_MB); send fewer rows per request"
    )


def create_app(settings: Settings | None = None) -> App:
    return App(settings or Settings.from_env())
