"""The endpoint router: one WSGI app in front of the pipeline's containers.

Routes (SageMaker Runtime's own and the container contract's):

- ``POST /invocations`` and ``POST /endpoints/{name}/invocations``: run the pipeline;
- ``GET /ping``: 200 with an empty body when every container answers its ``/ping``, else
  503 naming each unhealthy container and why;
- ``GET /metrics``: Prometheus text (:mod:`serving.pipeline.metrics`);
- ``/admin/status``, ``/admin/update``, ``/admin/shutdown``: what ``serving endpoint
  update`` and ``down`` use from another shell; loopback only, and only with the
  endpoint's admin token (kept in its registry file, readable by its owner alone).

Serial mode (contract §3.2): container 1 gets the client's body and Content-Type, container
k+1 gets container k's body and Content-Type verbatim, only the last container gets the
client's Accept, custom attributes and the inference id go to every container, and the
client gets the last container's body, Content-Type and custom attributes. A failure stops
the chain with SageMaker's ``ModelError`` (424): ``OriginalStatusCode``, ``OriginalMessage``
and the container's name, worded as SageMaker words it, so that botocore raises the same
exception it raises against the real service.

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
from dataclasses import dataclass
from typing import Callable

from ..server.http11 import status_line
from .backends import Container
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import EndpointMetrics
from .upstream import Answer, UpstreamError, UpstreamTimeout, UpstreamUnreachable

log = logging.getLogger("serving.endpoint")

MB = 1024 * 1024
VARIANT = "AllTraffic"
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"
TARGET_CONTAINER = "X-Amzn-SageMaker-Target-Container-Hostname"
ADMIN_TOKEN = "X-Serving-Admin-Token"
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")
# Headers SageMaker limits to 1024 characters (API runtime); the WSGI key, the API field name.
LIMITED_HEADERS = (("CONTENT_TYPE", "contentType"), ("HTTP_ACCEPT", "accept"),
                   ("HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES", "customAttributes"))


@dataclass(frozen=True)
class Limits:
    """Per-request limits; SageMaker's values by default (contract §1.4, §3.3)."""

    timeout: float = 60.0  # per container call
    max_request_bytes: int = 6 * MB  # 6,291,456: InvokeEndpoint's BodyBlob
    max_response_bytes: int = 6 * MB
    max_hop_bytes: int = 5 * MB  # between two containers


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


class Failure(Exception):
    """A request that ends in an error response: status, SageMaker error type, message, fields."""

    def __init__(self, status: int, error_type: str, message: str, **fields):
        super().__init__(message)
        self.status, self.error_type, self.message, self.fields = status, error_type, message, fields

    @property
    def model_error(self) -> bool:
        return self.error_type == "ModelError"


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
        if method == "POST" and (path == "/invocations" or path.startswith("/endpoints/")):
            return self.invoke(environ, start_response)
        if method == "GET" and path == "/ping":
            return self.ping(start_response)
        if method == "GET" and path == "/execution-parameters":
            return self.execution_parameters(start_response)
        if method == "GET" and path == "/metrics":
            return _respond(start_response, 200, [("Content-Type", METRICS_CONTENT_TYPE)], self.metrics.exposition())
        if path.startswith("/admin/"):
            return self.admin_call(environ, start_response, method, path.removeprefix("/admin/"))
        known = "POST /invocations, POST /endpoints/{name}/invocations, GET /ping, GET /execution-parameters, GET /metrics"
        return _error(start_response, Failure(404, "UnknownOperationException", f"{method} {path} is not a route here; routes: {known}"))

    # -- invocations -------------------------------------------------------------------

    def invoke(self, environ, start_response):
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        pipeline = self.enter()
        model_seconds = [0.0]
        try:
            status, headers, body = self.run(environ, pipeline, request_id, model_seconds)
        except Failure as failure:
            status, headers, body = _error_parts(failure)
            level = logging.WARNING if failure.model_error else logging.INFO
            log.log(level, "[%s] request %s: %d %s", self.name, request_id, failure.status, failure.message)
            model_error = failure.model_error
        else:
            model_error = False
        finally:
            pipeline.leave()
        headers.append(("x-amzn-RequestId", request_id))
        self.metrics.request(status, time.perf_counter() - started, model_seconds[0], model_error)
        return _respond(start_response, status, headers, body)

    def enter(self) -> Pipeline:
        """The current pipeline, counted as in use; re-read if an update switched it meanwhile."""
        while True:
            pipeline = self.pipeline
            pipeline.enter()
            if pipeline is self.pipeline:
                return pipeline
            pipeline.leave()

    def run(self, environ, pipeline: Pipeline, request_id: str, model_seconds: list[float]):
        self.check_request(environ)
        body = self.read_body(environ)
        ctype = environ.get("CONTENT_TYPE") or None
        accept = environ.get("HTTP_ACCEPT") or None
        shared = {INFERENCE_ID: environ.get("HTTP_X_AMZN_SAGEMAKER_INFERENCE_ID") or request_id}
        attributes = environ.get("HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES")
        if attributes is not None:
            shared[CUSTOM_ATTRIBUTES] = attributes
        chain = self.chain(pipeline, environ.get("HTTP_X_AMZN_SAGEMAKER_TARGET_CONTAINER_HOSTNAME"))
        for k, container in enumerate(chain):
            last = k == len(chain) - 1
            headers = dict(shared)
            if ctype is not None:
                headers["Content-Type"] = ctype
            if last and accept is not None:
                headers["Accept"] = accept
            limit = self.limits.max_response_bytes if last else self.limits.max_hop_bytes
            answer = self.call(container, body, headers, limit, model_seconds)
            body, ctype = answer.body, answer.headers.get("content-type")
            if len(body) > limit:
                size = int(answer.headers.get("content-length") or len(body))
                raise self.too_large(container, chain[k + 1] if not last else None, size, limit)
        out = [("Content-Type", ctype or "application/octet-stream"), ("x-Amzn-Invoked-Production-Variant", VARIANT)]
        returned = answer.headers.get(CUSTOM_ATTRIBUTES.lower())
        if returned is not None:
            out.append((CUSTOM_ATTRIBUTES, returned))
        return 200, out, body

    def check_request(self, environ) -> None:
        path = environ.get("PATH_INFO", "")
        if path != "/invocations":
            name = path.removeprefix("/endpoints/").removesuffix("/invocations")
            if not path.endswith("/invocations") or name != self.name:
                raise Failure(400, "ValidationError", f"Endpoint {name} not found: this router serves endpoint "
                                                      f"{self.name} (POST /endpoints/{self.name}/invocations or /invocations)")
        for key, field in LIMITED_HEADERS:
            value = environ.get(key)
            if value is not None and len(value) > 1024:
                raise Failure(400, "ValidationError", f"1 validation error detected: Value at '{field}' failed to satisfy "
                                                      f"constraint: Member must have length less than or equal to 1024 (it has {len(value)})")

    def read_body(self, environ) -> bytes:
        limit = self.limits.max_request_bytes
        length = environ.get("CONTENT_LENGTH")
        size = int(length) if length else None
        if size is not None and size > limit:
            raise self.request_too_large(size)
        body = environ["wsgi.input"].read(size if size is not None else limit + 1)
        if len(body) > limit:
            raise self.request_too_large(len(body))
        return body

    def request_too_large(self, size: int) -> Failure:
        return Failure(413, "ValidationError",
                       f"Received a request body of {size} bytes, which exceeds the maximum of {self.limits.max_request_bytes} "
                       f"bytes ({_size(self.limits.max_request_bytes)}) for InvokeEndpoint; send fewer records per request, "
                       "or use batch transform for large inputs")

    def chain(self, pipeline: Pipeline, target: str | None) -> list[Container]:
        direct = pipeline.spec.mode == "Direct"
        if target is None:
            if direct:
                raise Failure(400, "ValidationError",
                              f"Endpoint {self.name} is configured for direct invocation: set TargetContainerHostname "
                              f"(header {TARGET_CONTAINER}) to one of: {', '.join(pipeline.by_name)}")
            return pipeline.containers
        if not direct:
            raise Failure(400, "ValidationError",
                          f"TargetContainerHostname is set to '{target}', but endpoint {self.name} is not configured for "
                          "direct invocation (its InferenceExecutionConfig.Mode is Serial); leave it out to run the pipeline")
        if target not in pipeline.by_name:
            raise Failure(400, "ValidationError",
                          f"TargetContainerHostname '{target}' does not exist in endpoint {self.name}; its containers are: "
                          f"{', '.join(pipeline.by_name)}")
        return [pipeline.by_name[target]]

    def call(self, container: Container, body: bytes, headers: dict, limit: int, model_seconds: list[float]) -> Answer:
        """POST to one container; any failure becomes the ModelError SageMaker would give."""
        reason = container.unavailable()
        if reason is not None:
            raise Failure(503, "ServiceUnavailable", f"{reason}; retry shortly (see the log lines prefixed "
                                                     f"[{container.label}])", container=container.name)
        started = time.perf_counter()
        status = 0
        try:
            answer = container.upstream.request("POST", "/invocations", body, headers, self.limits.timeout, limit)
            status = answer.status
        except UpstreamTimeout:
            raise self.model_error(container, 0, f"Your invocation timed out while waiting for a response from container "
                                                 f"{container.name}. Review the latency metrics for each container at this "
                                                 f"endpoint's /metrics, resolve the issue, and try again.",
                                   note=f" The limit is {self.limits.timeout:g} s per container (--timeout).") from None
        except UpstreamUnreachable as exc:
            raise self.model_error(container, 0, f"Could not reach container {container.name} at "
                                                 f"{container.host}:{container.port}: {exc}") from None
        except UpstreamError as exc:
            status = exc.status
            if status:
                raise Failure(424, "ModelError", f"Received server error ({status}) from {container.name} and could not "
                                                 f"load the entire response body ({exc})",
                              OriginalStatusCode=status, OriginalMessage="", container=container.name) from None
            raise self.model_error(container, 0, f"The connection to container {container.name} broke: {exc}") from None
        finally:
            seconds = time.perf_counter() - started
            model_seconds[0] += seconds
            self.metrics.container_call(container.name, status, seconds)
        if not 200 <= status < 300:
            raise self.model_error(container, status, answer.body.decode("utf-8", "replace"))
        return answer

    def model_error(self, container: Container, status: int, original: str, note: str = "") -> Failure:
        kind = "client" if 400 <= status < 500 else "server"
        message = (f'Received {kind} error ({status}) from {container.name} with message "{original}". See the log lines '
                   f"prefixed [{container.label}] for more information.{note}")
        return Failure(424, "ModelError", message, OriginalStatusCode=status, OriginalMessage=original,
                       LogStreamArn=f"{self.name}/{VARIANT}/local/{container.name}", container=container.name)

    def too_large(self, sender: Container, receiver: Container | None, size: int, limit: int) -> Failure:
        if receiver is None:
            where = f"the response payload from {sender.name} to the client"
            option = "--max-response-mb"
        else:
            where = f"the request payload from {sender.name} to {receiver.name}"
            option = "--max-hop-mb"
        return Failure(424, "ModelError",
                       f"Received response from {sender.name} with status code 200. However, {where} is {size} bytes, "
                       f"which has exceeded the maximum limit of {_size(limit)}. Send fewer records per request "
                       f"or raise the limit ({option}).",
                       OriginalStatusCode=200, OriginalMessage="", container=sender.name)

    # -- health --------------------------------------------------------------------------

    def ping(self, start_response):
        problems = []
        for container in self.pipeline.containers:
            problem = container.unavailable() or container.ping()
            if problem is not None:
                problems.append(f"{container.name}: {problem}")
        if not problems:
            return _respond(start_response, 200, [("Content-Type", "text/plain")], b"")
        text = f"{len(problems)} container(s) did not pass the ping health check:\n" + "\n".join(problems) + "\n"
        return _respond(start_response, 503, [("Content-Type", "text/plain")], text.encode())

    def execution_parameters(self, start_response):
        """The first container's answer: a batch job sends its records to the first container.

        A container without the route (or one that is down) gives the job SageMaker's defaults.
        """
        first = self.pipeline.containers[0]
        try:
            answer = first.upstream.request("GET", "/execution-parameters", timeout=5.0)
        except UpstreamError as exc:  # the container is down: say so, the job uses defaults
            return _error(start_response, Failure(503, "ServiceUnavailable", f"{first.name} did not answer /execution-parameters: {exc}"))
        return _respond(start_response, answer.status, [("Content-Type", answer.headers.get("content-type", "application/json"))],
                        answer.body)

    # -- admin -----------------------------------------------------------------------------

    def admin_call(self, environ, start_response, method: str, action: str):
        token = environ.get("HTTP_X_SERVING_ADMIN_TOKEN", "")
        if (environ.get("REMOTE_ADDR") not in LOOPBACK or not self.admin_token
                or not hmac.compare_digest(token, self.admin_token)):
            return _error(start_response, Failure(403, "AccessDeniedException",
                                                  "admin routes take requests from this machine with the endpoint's admin token only"))
        if method == "GET" and action == "status":
            return _json(start_response, 200, self.status())
        handler = self.admin.get(action)
        if method != "POST" or handler is None:
            return _error(start_response, Failure(404, "UnknownOperationException",
                                                  f"{method} /admin/{action} is not an admin route (GET status, POST update, POST shutdown)"))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = json.loads(environ["wsgi.input"].read(length) or b"{}")
        try:
            result = handler(payload)
        except Exception as exc:  # noqa: BLE001 - the caller in the other shell must see why
            return _json(start_response, 409, {"error": type(exc).__name__, "message": str(exc)})
        return _json(start_response, 200, result or {})

    def status(self) -> dict:
        pipeline = self.pipeline
        return {
            "name": self.name,
            "mode": pipeline.spec.mode,
            "containers": [{"name": c.name, "state": c.state, "reason": c.reason, "port": c.port, "pid": c.pid}
                           for c in pipeline.containers],
            "spec": pipeline.spec.to_dict(),
        }


def _size(limit: int) -> str:
    return f"{limit // MB} MB" if limit % MB == 0 else f"{limit} bytes"


def _respond(start_response, status: int, headers: list, body: bytes):
    headers.append(("Content-Length", str(len(body))))
    start_response(status_line(status), headers)
    return [body]


def _json(start_response, status: int, data: dict):
    return _respond(start_response, status, [("Content-Type", "application/json")], json.dumps(data).encode())


def _error_parts(failure: Failure) -> tuple[int, list, bytes]:
    """SageMaker Runtime's error shape: ``x-amzn-ErrorType`` names it, the JSON body has the fields."""
    fields = {k: v for k, v in failure.fields.items() if k != "container"}
    body = {"ErrorCode": failure.error_type, "Message": failure.message, **fields}
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", failure.error_type)]
    if "container" in failure.fields:
        headers.append(("X-Serving-Failed-Container", failure.fields["container"]))
    return failure.status, headers, json.dumps(body).encode()


def _error(start_response, failure: Failure):
    return _respond(start_response, *_error_parts(failure))


