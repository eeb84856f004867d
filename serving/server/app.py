"""The container contract as a WSGI app: ``/ping``, ``/invocations``, ``/execution-parameters``.

The model is loaded when the app is built, which gunicorn does once in the master process
before forking workers (``preload_app``): every worker shares one copy and the first
``/ping`` is already fast. If loading fails the app still starts, answers ``/ping`` with
503 and the reason, and logs the traceback, so the failure is visible from outside.

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
from typing import Callable, Iterable

from ..errors import ConfigurationError, MethodNotAllowed, ModelNotReady, NotFound, PayloadTooLarge, ServingError
from ..frameworks import framework_class
from ..handlers.archive import resolve_model_dir
from ..handlers.context import Request, headers_from_environ, reset_request, set_request
from ..handlers.transformer import Transformer, is_response
from .http11 import status_line
from .logs import access_log
from .settings import Settings

log = logging.getLogger("serving")

REQUEST_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"
_REQUEST_ID_ENVIRON = "HTTP_X_AMZN_SAGEMAKER_INFERENCE_ID"
_ROUTES = {"/ping": "GET", "/invocations": "POST", "/execution-parameters": "GET"}

Headers = list[tuple[str, str]]


class Container:
    """What the app serves: a loaded transformer, or the reason there is none."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.transformer: Transformer | None = None
        self.error: str | None = None
        started = time.perf_counter()
        try:
            framework = framework_class(settings.framework)(settings)
            model_dir = resolve_model_dir(settings.model_dir)
            transformer = Transformer.from_settings(framework, model_dir)
            transformer.load(model_dir)
            self.transformer = transformer
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


def error_body(exc: ServingError) -> bytes:
    return json.dumps({"error": type(exc).__name__, "message": exc.message}).encode()


class App:
    """The WSGI callable gunicorn serves."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.container = Container(settings)
        self.max_bytes = settings.max_payload_bytes

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        allowed = _ROUTES.get(path)
        if allowed is None:
            status, headers, body = 404, [("Content-Type", "application/json")], error_body(
                NotFound(f"no route {path}; this container serves /ping, /invocations and /execution-parameters"))
        elif method != allowed and not (method == "HEAD" and allowed == "GET"):
            status, headers, body = 405, [("Content-Type", "application/json"), ("Allow", allowed)], error_body(
                MethodNotAllowed(f"{path} takes {allowed}, not {method}"))
        elif path == "/invocations":
            status, headers, body = self.invocations(environ, started)
        elif path == "/ping":
            status, headers, body = self.ping(started)
        else:
            status, headers, body = self.execution_parameters()
        headers.append(("Content-Length", str(len(body))))
        start_response(status_line(status), headers)
        return [body] if method != "HEAD" else []

    def ping(self, started: float) -> tuple[int, Headers, bytes]:
        if self.container.transformer is None:
            result = 503, [("Content-Type", "text/plain")], f"the model failed to load: {self.container.error}\n".encode()
        else:
            result = 200, [("Content-Type", "text/plain")], b""
        access_log("GET", "/ping", result[0], started, "-", 0)
        return result

    def invocations(self, environ: dict, started: float) -> tuple[int, Headers, bytes]:
        request_id = environ.get(_REQUEST_ID_ENVIRON) or uuid.uuid4().hex
        token = set_request(Request(request_id, headers_from_environ(environ)))
        try:
            transformer = self.container.ready()
            body = self.read_body(environ)
            result = transformer.invoke(body, environ.get("CONTENT_TYPE"), environ.get("HTTP_ACCEPT"))
            status, body = result.status, result.body
            headers = [("Content-Type", result.content_type), *result.headers.items()]  # exactly: no added charset
        except ServingError as exc:
            status, body = exc.status, error_body(exc)
            headers = [("Content-Type", "application/json"), *exc.headers.items()]
            if exc.status >= 500:
                log.error("request %s failed: %s", request_id, exc.message)
        finally:
            reset_request(token)
        headers.append((REQUEST_ID_HEADER, request_id))
        access_log("POST", "/invocations", status, started, request_id, len(body))
        return status, headers, body

    def read_body(self, environ: dict) -> bytes:
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        if length:
            size = int(length)
            if size > self.max_bytes:
                raise too_large(size, self.settings)
            return stream.read(size)
        body = stream.read(self.max_bytes + 1)  # chunked: measured as it is read
        if len(body) > self.max_bytes:
            raise too_large(len(body), self.settings)
        return body

    def execution_parameters(self) -> tuple[int, Headers, bytes]:
        try:
            params = self.container.ready().execution_parameters()
        except ServingError as exc:
            return exc.status, [("Content-Type", "application/json")], error_body(exc)
        if is_response(params):
            return params.status_code, [("Content-Type", params.headers.get("Content-Type", "application/json"))], params.get_data()
        return 200, [("Content-Type", "application/json")], json.dumps(params).encode()


def too_large(size: int, settings: Settings) -> PayloadTooLarge:
    """The 413 for a body over ``SAGEMAKER_MAX_PAYLOAD_IN_MB`` (also used by in-process chains)."""
    return PayloadTooLarge(
        f"the request body is {size} bytes, over the limit of {settings.max_payload_bytes} bytes "
        f"({settings.max_payload_mb:g} MB, SAGEMAKER_MAX_PAYLOAD_IN_MB); send fewer rows per request"
    )


def create_app(settings: Settings | None = None) -> App:
    return App(settings or Settings.from_env())
