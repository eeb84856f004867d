"""The container contract as a Flask app: ``/ping``, ``/invocations``, ``/execution-parameters``.

The model is loaded when the app is built, which gunicorn does once in the master process
before forking workers (``preload_app``): every worker shares one copy and the first
``/ping`` is already fast. If loading fails the app still starts, answers ``/ping`` with
503 and the reason, and logs the traceback, so the failure is visible from outside.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
import uuid

from flask import Flask, Response, request

from ..errors import ConfigurationError, ModelNotReady, PayloadTooLarge, ServingError
from ..frameworks import framework_class
from ..handlers.archive import resolve_model_dir
from ..handlers.transformer import Transformer
from .logs import access_log
from .settings import Settings

log = logging.getLogger("serving")

REQUEST_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"


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


def error_response(exc: ServingError, request_id: str) -> Response:
    body = json.dumps({"error": type(exc).__name__, "message": exc.message})
    response = Response(body, status=exc.status, content_type="application/json")
    response.headers.update(exc.headers)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    container = Container(settings)
    app = Flask("serving")
    app.config["container"] = container
    max_bytes = settings.max_payload_bytes

    def ping() -> Response:
        started = time.perf_counter()
        if container.transformer is None:
            response = Response(f"the model failed to load: {container.error}\n", status=503, content_type="text/plain")
        else:
            response = Response(b"", status=200, content_type="text/plain")
        access_log("GET", "/ping", response.status_code, started, "-", 0)
        return response

    def invocations() -> Response:
        started = time.perf_counter()
        request_id = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        try:
            transformer = container.ready()
            length = request.content_length
            if length is not None and length > max_bytes:
                raise _too_large(length, settings)
            body = request.stream.read(max_bytes + 1) if length is None else request.get_data(cache=False)
            if len(body) > max_bytes:
                raise _too_large(len(body), settings)
            result = transformer.invoke(body, request.headers.get("Content-Type"), request.headers.get("Accept"))
            response = Response(result.body, status=result.status)
            response.headers["Content-Type"] = result.content_type  # exactly: no added charset
            response.headers.update(result.headers)
        except ServingError as exc:
            response = error_response(exc, request_id)
            if exc.status >= 500:
                log.error("request %s failed: %s", request_id, exc.message)
        response.headers[REQUEST_ID_HEADER] = request_id
        access_log(request.method, request.path, response.status_code, started, request_id, len(response.get_data()))
        return response

    def execution_parameters() -> Response:
        try:
            params = container.ready().execution_parameters()
        except ServingError as exc:
            return error_response(exc, uuid.uuid4().hex)
        if isinstance(params, Response):
            return params
        return Response(json.dumps(params), content_type="application/json")

    app.add_url_rule("/ping", "ping", ping, methods=["GET"])
    app.add_url_rule("/invocations", "invocations", invocations, methods=["POST"])
    app.add_url_rule("/execution-parameters", "execution_parameters", execution_parameters, methods=["GET"])
    return app


def _too_large(size: int, settings: Settings) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is {size} bytes, over the limit of {settings.max_payload_bytes} bytes "
        f"({settings.max_payload_mb:g} MB, SAGEMAKER_MAX_PAYLOAD_IN_MB); send fewer rows per request"
    )
