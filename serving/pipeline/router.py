"""The endpoint router: one WSGI app in front of the pipeline's containers.

Routes (SageMaker Runtime's own and the container contract's):

- ``POST /invocations`` and ``POST /endpoints/{name}/invocations``: run the pipeline
  (:mod:`serving.pipeline.executor` runs it; the router calls each container over HTTP);
- ``GET /ping``: 200 with an empty body when every container answers its ``/ping``, else
  503 naming each unhealthy container and why;
- ``GET /metrics``: Prometheus text (:mod:`serving.pipeline.metrics`);
- ``/admin/status``, ``/admin/update``, ``/admin/shutdown``: what ``serving endpoint
  update`` and ``down`` use from another shell; loopback only, and only with the
  endpoint's admin token (kept in its registry file, readable by its owner alone).

Errors are answered as SageMaker Runtime answers them (:func:`serving.errors.runtime_response`);
the admin routes answer theirs in the container's shape (:data:`serving.errors.admin_response`).

The pipeline is swapped whole on an update: a request takes the current pipeline once when
it starts and finishes on it, which is what lets blue/green drain the old one.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from ..errors import (BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, ServiceUnavailable, ServingError,
                      admin_response, runtime_response)
from ..http.client import RequestFailed
from ..http.headers import status_line
from . import executor
from .backends import Container
from .executor import CUSTOM_ATTRIBUTES, INFERENCE_ID, VARIANT, Limits
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import EndpointMetrics

log = logging.getLogger("serving.endpoint")

ADMIN_TOKEN = "X-Serving-Admin-Token"
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")
# Headers SageMaker limits to 1024 characters (API runtime); the WSGI key, the API field name.
LIMITED_HEADERS = (("CONTENT_TYPE", "contentType"), ("HTTP_ACCEPT", "accept"),
                   ("HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES", "customAttributes"))
PING_WITHIN = 1.5  # seconds each container has to answer the router's /ping
ROUTES = "POST /invocations, POST /endpoints/{name}/invocations, GET /ping, GET /execution-parameters, GET /metrics"

__all__ = ["Limits", "Pipeline", "Router"]


class Pipeline:
    """The containers of one spec, in order, and the requests running on them."""

    def __init__(self, spec, containers: list[Container]):
        self.spec = spec
        self.containers = containers
        self.by_name = {c.name: c for c in containers}
        self.inflight = 0
        self._idle = threading.Condition()

    def enter(self) -> None:
        with self._idle:
            self.inflight += 1

    def leave(self) -> None:
        with self._idle:
            self.inflight -= 1
            if self.inflight == 0:
                self._idle.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until no request runs on this pipeline; False if some still do after ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self.inflight == 0, timeout)


class Router:
    """The WSGI app. ``admin`` maps an admin action (``update``, ``shutdown``) to a callback."""

    def __init__(self, name: str, pipeline: Pipeline, limits: Limits | None = None,
                 admin_token: str | None = None, admin: dict[str, Callable] | None = None):
        self.name = name
        self.pipeline = pipeline
        self.limits = limits or Limits()
        self.metrics = EndpointMetrics(name)
        self.admin_token = admin_token
        self.admin = admin or {}

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if path.startswith("/admin/"):
            try:
                status, headers, body = self.admin_call(environ, method, path.removeprefix("/admin/"))
            except Exception as exc:  # noqa: BLE001 - mapped to the admin surface's answer
                status, headers, body = admin_response(exc)
            return _respond(start_response, status, headers, body)
        if method == "POST" and (path == "/invocations" or path.startswith("/endpoints/")):
            status, headers, body = self.invoke(environ)
        else:
            try:
                status, headers, body = self.get(method, path)
            except Exception as exc:  # noqa: BLE001 - mapped to SageMaker Runtime's answer
                status, headers, body = runtime_response(exc)
        return _respond(start_response, status, headers, body)

    def get(self, method: str, path: str):
        if method == "GET" and path == "/ping":
            return self.ping()
        if method == "GET" and path == "/execution-parameters":
            return self.execution_parameters()
        if method == "GET" and path == "/metrics":
            return 200, [("Content-Type", METRICS_CONTENT_TYPE)], self.metrics.exposition()
        raise NotFound(f"{method} {path} is not a route here; routes: {ROUTES}")

    # -- invocations -------------------------------------------------------------------

    def invoke(self, environ):
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        pipeline = self.enter()
        model_seconds = [0.0]

        def observe(step, status: int, seconds: float, error: BaseException | None) -> None:
            model_seconds[0] += seconds
            self.metrics.container_call(step.name, status, seconds, timed_out=status == 504 or getattr(error, "timed_out", False))

        model_error = False
        try:
            status, headers, body = self.run(environ, pipeline, request_id, observe)
        except Exception as exc:  # noqa: BLE001 - mapped to SageMaker Runtime's answer
            status, headers, body = runtime_response(exc)
            model_error = getattr(exc, "code", None) == "ModelError"
            if isinstance(exc, ServingError):
                log.log(logging.WARNING if model_error else logging.INFO, "[%s] request %s: %d %s", self.name,
                        request_id, exc.status, exc.message)
            else:
                log.exception("[%s] request %s failed", self.name, request_id)
        finally:
            pipeline.leave()
        headers.append(("x-amzn-RequestId", request_id))
        self.metrics.request(status, time.perf_counter() - started, model_seconds[0], model_error)
        return status, headers, body

    def enter(self) -> Pipeline:
        """The current pipeline, counted as in use; re-read if an update switched it meanwhile."""
        while True:
            pipeline = self.pipeline
            pipeline.enter()
            if pipeline is self.pipeline:
                return pipeline
            pipeline.leave()

    def run(self, environ, pipeline: Pipeline, request_id: str, observe):
        self.check_request(environ)
        shared = {INFERENCE_ID: environ.get("HTTP_X_AMZN_SAGEMAKER_INFERENCE_ID") or request_id}
        attributes = environ.get("HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES")
        if attributes is not None:
            shared[CUSTOM_ATTRIBUTES] = attributes
        chain = executor.choose(pipeline.containers, pipeline.spec.mode,
                                environ.get("HTTP_X_AMZN_SAGEMAKER_TARGET_CONTAINER_HOSTNAME"), self.name)
        request = executor.Request(self.read_body(environ), environ.get("CONTENT_TYPE") or None,
                                   environ.get("HTTP_ACCEPT") or None, shared)
        result = executor.run(chain, request, self.limits, observe)
        out = [("Content-Type", result.content_type or "application/octet-stream"),
               ("x-Amzn-Invoked-Production-Variant", VARIANT)]
        if result.custom_attributes is not None:
            out.append((CUSTOM_ATTRIBUTES, result.custom_attributes))
        return 200, out, result.body

    def check_request(self, environ) -> None:
        path = environ.get("PATH_INFO", "")
        if path != "/invocations":
            name = path.removeprefix("/endpoints/").removesuffix("/invocations")
            if not path.endswith("/invocations") or name != self.name:
                raise BadRequest(f"Endpoint {name} not found: this router serves endpoint {self.name} "
                                 f"(POST /endpoints/{self.name}/invocations or /invocations)")
        for key, field in LIMITED_HEADERS:
            value = environ.get(key)
            if value is not None and len(value) > 1024:
                raise BadRequest(f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
                                 f"Member must have length less than or equal to 1024 (it has {len(value)})")

    def read_body(self, environ) -> bytes:
        limit = self.limits.max_request_bytes
        length = environ.get("CONTENT_LENGTH")
        size = int(length) if length else None
        if limit is not None and size is not None and size > limit:
            raise self.request_too_large(size)
        body = environ["wsgi.input"].read(size if size is not None else (-1 if limit is None else limit + 1))
        if limit is not None and len(body) > limit:
            raise self.request_too_large(len(body))
        return body

    def request_too_large(self, size: int) -> PayloadTooLarge:
        limit = self.limits.max_request_bytes
        return PayloadTooLarge(f"Received a request body of {size} bytes, which exceeds the maximum of {limit} bytes "
                               f"({executor.size_text(limit)}) for InvokeEndpoint; send fewer records per request, "
                               "or use batch transform for large inputs")

    # -- health --------------------------------------------------------------------------

    def ping(self):
        """All containers pinged at once, each within ``PING_WITHIN`` seconds: the answer comes
        inside SageMaker's 2 s ping timeout whatever one container does."""
        containers = self.pipeline.containers
        with ThreadPoolExecutor(max_workers=len(containers), thread_name_prefix="ping") as pool:
            answers = list(pool.map(lambda c: c.unavailable() or c.ping(PING_WITHIN), containers))
        problems = [f"{c.name}: {problem}" for c, problem in zip(containers, answers) if problem is not None]
        if not problems:
            return 200, [("Content-Type", "text/plain")], b""
        text = f"{len(problems)} container(s) did not pass the ping health check:\n" + "\n".join(problems) + "\n"
        return 503, [("Content-Type", "text/plain")], text.encode()

    def execution_parameters(self):
        """The first container's answer: a batch job sends its records to the first container.

        A container without the route (or one that is down) gives the job SageMaker's defaults.
        """
        first = self.pipeline.containers[0]
        try:
            status, content_type, body = first.execution_parameters()
        except RequestFailed as exc:  # the container is down: say so, the job uses defaults
            raise ServiceUnavailable(f"{first.name} did not answer /execution-parameters: {exc}") from None
        return status, [("Content-Type", content_type)], body

    # -- admin -----------------------------------------------------------------------------

    def admin_call(self, environ, method: str, action: str):
        token = environ.get("HTTP_X_SERVING_ADMIN_TOKEN", "")
        if (environ.get("REMOTE_ADDR") not in LOOPBACK or not self.admin_token
                or not hmac.compare_digest(token.encode("latin-1", "replace"), self.admin_token.encode())):
            raise Forbidden("admin routes take requests from this machine with the endpoint's admin token only")
        if method == "GET" and action == "status":
            return _json(200, self.status())
        handler = self.admin.get(action)
        if method != "POST" or handler is None:
            raise NotFound(f"{method} /admin/{action} is not an admin route (GET status, POST update, POST shutdown)")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            payload = json.loads(environ["wsgi.input"].read(length) or b"{}")
        except ValueError as exc:
            raise BadRequest(f"the admin request is not JSON: {exc}") from None
        try:
            result = handler(payload)
        except Exception as exc:  # noqa: BLE001 - the caller in the other shell must see why
            raise Conflict(str(exc)) from exc
        return _json(200, result or {})

    def status(self) -> dict:
        pipeline = self.pipeline
        return {
            "name": self.name,
            "mode": pipeline.spec.mode,
            "containers": [{"name": c.name, "state": c.state, "reason": c.reason, "port": c.port, "pid": c.pid}
                           for c in pipeline.containers],
            "spec": pipeline.spec.to_dict(),
        }


def _respond(start_response, status: int, headers: list, body: bytes):
    headers.append(("Content-Length", str(len(body))))
    start_response(status_line(status), headers)
    return [body]


def _json(status: int, data: dict):
    return status, [("Content-Type", "application/json")], json.dumps(data).encode()
