"""``serving api``: SageMaker's API and SageMaker Runtime's InvokeEndpoint on one port.

Requests are told apart as AWS tells them apart:

- ``POST /`` with ``X-Amz-Target: SageMaker.<Operation>``: the control plane (AWS JSON 1.1,
  what boto3's ``sagemaker`` client sends), answered by :class:`serving.api.service.SageMaker`;
  errors as AWS JSON 1.1 errors: status 400, ``x-amzn-ErrorType`` and
  ``{"__type": code, "message": text}``, which botocore turns into ``ClientError``;
- ``POST /endpoints/<name>/invocations``: SageMaker Runtime (``sagemaker-runtime``'s
  InvokeEndpoint), handed to the endpoint's router in this process (errors as the router
  answers them, :func:`serving.errors.runtime_response`);
- ``GET /ping``: 200 while the service runs.

Requests are not authenticated: the service binds loopback by default, as the pipeline
router does. The signature's credential scope gives the region that ARNs carry.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
import uuid
from pathlib import Path

from ..errors import BadRequest, NotFound, runtime_response
from ..http.headers import status_line
from ..pipeline.executor import Limits
from ..settings import HostSettings
from . import logs
from .fleet import Retired
from .service import ApiError, Context, SageMaker
from .store import Store

log = logging.getLogger("serving.api")

JSON_11 = "application/x-amz-json-1.1"
TARGET_PREFIX = "SageMaker."
INVOKE = re.compile(r"^/endpoints/([^/]+)/invocations$")
SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")
VARIANT_HEADER = "x-amzn-invoked-production-variant"


def state_path(home: str | None = None) -> Path:
    return Path(home or HostSettings.from_env().home) / "api" / "state.db"


class Api:
    """The WSGI app of ``serving api``."""

    def __init__(self, service: SageMaker, account: str, default_region: str, book: logs.LogBook | None = None):
        self.service = service
        self.book = book
        self.account = account
        self.default_region = default_region

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if method == "POST" and path == "/" and target:
            status, headers, body = self.control(environ, target)
        else:
            match = INVOKE.match(path)
            if method == "POST" and match:
                return self.invoke(environ, start_response, match.group(1))
            if method == "GET" and path == "/ping":
                status, headers, body = 200, [("Content-Type", "text/plain")], b""
            else:
                status, headers, body = runtime_response(NotFound(
                    f"{method} {path} is not a route of serving api: POST / with X-Amz-Target: SageMaker.<Operation> "
                    "(the SageMaker API), POST /endpoints/<name>/invocations (InvokeEndpoint), GET /ping"))
        headers.append(("Content-Length", str(len(body))))
        start_response(status_line(status), headers)
        return [body]

    def context(self, environ) -> Context:
        match = SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        return Context(match.group(1) if match else self.default_region, self.account)

    # -- the control plane -------------------------------------------------------------------

    def control(self, environ, target: str):
        request_id = str(uuid.uuid4())
        operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else None
        started = time.perf_counter()
        try:
            if operation is None and not (target.startswith(logs.TARGET_PREFIX) and self.book is not None):
                raise ApiError("UnknownOperationException",
                               f"X-Amz-Target {target!r} is not one this service answers: SageMaker.<Operation> "
                               f"(or {logs.TARGET_PREFIX}DescribeLogStreams and GetLogEvents)")
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            try:
                params = json.loads(raw or b"{}")
            except ValueError as exc:
                raise ApiError("SerializationException", f"the request body is not JSON: {exc}") from None
            if operation is None:
                operation = target
                answer = self.book.call(target.removeprefix(logs.TARGET_PREFIX), params)
            else:
                answer = self.service.call(operation, params, self.context(environ))
            status, body = 200, json.dumps(answer, separators=(",", ":")).encode()
            log.debug("SageMaker.%s 200 in %.1f ms", operation, (time.perf_counter() - started) * 1000)
        except ApiError as exc:
            status, code, message = exc.status, exc.code, exc.message
            log.info("SageMaker.%s %d %s: %s", operation, status, code, message)
        except Exception:  # noqa: BLE001 - a bug of ours: logged, answered without a traceback
            log.exception("SageMaker.%s failed", operation)
            status, code, message = 500, "InternalFailure", "internal error in serving api; see its log"
        else:
            return 200, [("Content-Type", JSON_11), ("x-amzn-RequestId", request_id)], body
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, [("Content-Type", JSON_11), ("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", code)], body

    # -- SageMaker Runtime ------------------------------------------------------------------

    def invoke(self, environ, start_response, name: str):
        status, headers, out = self.run(environ, name)
        headers.append(("Content-Length", str(len(out))))
        start_response(status_line(status), headers)
        return [out]

    def run(self, environ, name: str):
        """One InvokeEndpoint: the endpoint's current deployment, looked up again if an update or a
        delete retired it between the lookup and the choice of an instance.

        The body is read once: a request an instance could not take (one of its containers is
        restarting: 503 ServiceUnavailable) goes to another healthy instance of its variant.
        """
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0) or -1)
        while True:
            deployment = self.service.deployment(name)
            if deployment is None:
                return runtime_response(self.not_serving(name))
            try:
                return self.run_on(environ, body, deployment)
            except Retired:
                continue

    def run_on(self, environ, body: bytes, deployment):
        tried: set = set()
        variant = None
        while True:
            try:
                variant, instance = deployment.acquire(environ.get("HTTP_X_AMZN_SAGEMAKER_TARGET_VARIANT"),
                                                       frozenset(tried), variant)
            except BadRequest as exc:
                return runtime_response(exc)
            try:
                status, headers, out = instance.endpoint.router.invoke({**environ, "wsgi.input": io.BytesIO(body)})
            finally:
                deployment.release(instance)
            tried.add(instance)
            unavailable = status == 503 and ("x-amzn-ErrorType", "ServiceUnavailable") in headers
            if not (unavailable and any(i not in tried and i.healthy for i in variant.instances)):
                return status, [(k, variant.name if k.lower() == VARIANT_HEADER else v) for k, v in headers], out

    def not_serving(self, name: str) -> BadRequest:
        doc = self.service.store.get("endpoint", name)
        if doc is None:
            return BadRequest(f"Endpoint {name} of account {self.account} not found.")
        return BadRequest(f"Endpoint {name} of account {self.account} is {doc['EndpointStatus']}, not InService; "
                          "it takes requests once DescribeEndpoint says InService.")


class ApiServer:
    """The service, its state and its port: what ``serving api`` runs and the tests start."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, *, home: str | None = None, backend: str = "process",
                 workers: int | None = None, limits: Limits | None = None, startup_timeout: float | None = None,
                 stop_grace: float = 30.0, account: str = "123456789012", region: str = "us-east-1",
                 threads: int = 64):
        from ..pipeline.endpoint import STARTUP_TIMEOUT

        self.host, self.port = host, port
        self.store = Store(state_path(home))
        self.book = logs.LogBook()
        self.service = SageMaker(self.store, backend=backend, workers=workers, limits=limits,
                                 startup_timeout=startup_timeout or STARTUP_TIMEOUT, stop_grace=stop_grace,
                                 logs=self.book)
        self.app = Api(self.service, account, region, self.book)
        self.threads = threads
        self.server = None
        self._shutdown = threading.Event()

    def start(self) -> None:
        from ..errors import ConfigurationError
        from ..http.server import ThreadedServer

        options = HostSettings.from_env().connection_options(stop_linger=0.0,
                                                             max_body_bytes=self.service.limits.max_request_bytes)
        try:
            self.server = ThreadedServer(self.host, self.port, self.app, runtime_response, threads=self.threads,
                                         options=options, name="serving-api")
        except OSError as exc:
            raise ConfigurationError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}; "
                                     "choose another --port") from None
        self.port = self.server.address[1]
        self.server.start()
        self.service.recover()
        log.info("serving api at %s (state in %s)", self.url, self.store.path)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        """Block until SIGTERM or SIGINT (Ctrl-C); then stop everything."""
        from ..pipeline.endpoint import serve_until_signalled

        serve_until_signalled(self._shutdown, self.stop)

    def stop(self) -> None:
        """Stop taking requests, then stop every endpoint's containers and every job (their records stay)."""
        if self.server is not None:
            self.server.stop(grace=5.0)
            self.server = None
        self.service.close()
        self.store.close()
        self.book.close()

    def __enter__(self) -> "ApiServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
