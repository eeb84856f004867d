"""The engines that turn request bodies into responses: over HTTP, or in this process.

An engine sees one file's requests at a time (``invoke_all``) and answers them in order;
the first failure ends the file (requests not yet sent are cancelled: the file will have no
output anyway). The Spark engine (``spark.py``) works on many files at once instead.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator, Mapping

from ..errors import FAILED_CONTAINER, ConfigurationError
from ..http.client import Client, RequestFailed, RequestTimedOut
from ..pipeline.executor import Limits
from .chain import Chain, Failure, Response, Stage

log = logging.getLogger("serving.transform")

#: statuses worth another try: overload and server faults; a 4xx will fail the same way again
RETRY_STATUSES = frozenset((429, 500, 502, 503, 504))


class Engine:
    name = "base"
    pool: ThreadPoolExecutor | None = None  # MaxConcurrentTransforms threads, when the engine uses them

    def execution_parameters(self) -> dict | None:
        return None

    def start(self, options) -> None:
        """Called once the job's options are resolved, before the first request."""
        self.options = options

    def invoke(self, body: bytes) -> Response | Failure:
        raise NotImplementedError

    def invoke_all(self, bodies: Iterable[bytes]) -> list[Response | Failure]:
        """Answers in request order, up to the first failure; requests not yet sent are then
        dropped (``Executor.map`` cancels its pending futures when it is dropped)."""
        answers = self.pool.map(self.invoke, bodies) if self.pool is not None else map(self.invoke, bodies)
        out = []
        for answer in answers:
            out.append(answer)
            if isinstance(answer, Failure):
                break
        return out

    def process(self, prepared: Iterator) -> Iterator:
        """Yield ``(file, outcomes)`` per prepared file, in order (Spark overrides this)."""
        for item in prepared:
            if item.error is not None:
                yield item, []
            else:
                yield item, self.invoke_all(item.bodies())

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class InProcessEngine(Engine):
    """Our own containers' handler chain, called directly, ``MaxConcurrentTransforms`` at a time.

    The threads share one loaded chain, as a container's threads share its model; NumPy,
    pandas, Arrow and scikit-learn release the GIL in their heavy loops, so two threads go
    faster than one on two cores. Answers keep request order; the first failure ends the file.
    """

    name = "inprocess"

    def __init__(self, stages: list[Stage], environment: Mapping[str, str]):
        self.stages = stages
        self.environment = dict(environment)
        self.chain: Chain | None = None

    def execution_parameters(self) -> dict | None:
        self.chain = Chain(self.stages, self.environment)
        return self.chain.execution_parameters()

    def start(self, options) -> None:
        super().start(options)
        self.chain.limits = Limits.for_transform(options.max_payload_bytes)
        if options.MaxConcurrentTransforms > 1:
            self.pool = ThreadPoolExecutor(max_workers=options.MaxConcurrentTransforms, thread_name_prefix="inprocess")

    def invoke(self, body: bytes) -> Response | Failure:
        return self.chain.invoke(body, self.options.ContentType, self.options.Accept)


class HttpEngine(Engine):
    """POST /invocations to an endpoint, ``MaxConcurrentTransforms`` requests at a time.

    ``endpoint``: the pipeline endpoint brought up for this job, whose limits are then the
    job's (:meth:`Limits.for_transform`), as the in-process engine's are.
    """

    name = "http"

    def __init__(self, url: str, endpoint=None):
        self.url = url.rstrip("/").removesuffix("/invocations")
        try:
            self.client = Client.for_url(self.url, connect_timeout=10.0)
        except ValueError as exc:
            raise ConfigurationError(f"--endpoint {url}: {exc}") from None
        self.endpoint = endpoint

    def execution_parameters(self) -> dict | None:
        try:
            answer = self.client.request("GET", "/execution-parameters", timeout=10)
        except RequestFailed as exc:
            raise ConfigurationError(f"cannot reach the endpoint at {self.url}: {exc}; is it running?") from None
        params = answer.json() if answer.status == 200 else None  # optional: the defaults apply
        return params if isinstance(params, dict) else None

    def start(self, options) -> None:
        super().start(options)
        if self.endpoint is not None:
            self.endpoint.set_limits(Limits.for_transform(options.max_payload_bytes))
        self.client.max_idle = max(self.client.max_idle, options.MaxConcurrentTransforms)
        self.pool = ThreadPoolExecutor(max_workers=max(1, options.MaxConcurrentTransforms), thread_name_prefix="transform")

    def invoke(self, body: bytes) -> Response | Failure:
        options = self.options
        headers = {}
        if options.ContentType:
            headers["Content-Type"] = options.ContentType
        if options.Accept:
            headers["Accept"] = options.Accept
        attempts = options.InvocationsMaxRetries + 1
        failure: Failure | None = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
            try:
                answer = self.client.request("POST", "/invocations", body, headers,
                                             timeout=options.InvocationsTimeoutInSeconds,
                                             chunked=not options.MaxPayloadInMB)  # 0: no limit, streamed
            except RequestTimedOut:
                failure = Failure(None, 0, f"the invocation timed out after {options.InvocationsTimeoutInSeconds} s "
                                           "(InvocationsTimeoutInSeconds)")
                continue
            except RequestFailed as exc:
                failure = Failure(None, 0, f"cannot reach the endpoint at {self.url}: {exc}")
                continue
            if answer.status < 400:
                return Response(answer.body, answer.headers.get("content-type", ""))
            failure = failure_from_http(answer)
            if answer.status not in RETRY_STATUSES:
                break
        return failure

    def close(self) -> None:
        super().close()
        self.client.close()


def failure_from_http(answer) -> Failure:
    """The failure an error answer stands for, from its status and headers (router or container).

    Our router names the failed container in ``X-Serving-Failed-Container`` and gives its
    status in ``OriginalStatusCode``; a container's own answer is its status. The message is
    the answer's ``Message`` (SageMaker Runtime) or ``message`` (a container), else its text.
    """
    doc = answer.json()
    doc = doc if isinstance(doc, dict) else {}
    message = doc.get("Message") or doc.get("message") or answer.body.decode("utf-8", "replace").strip()
    original = doc.get("OriginalStatusCode")
    status = original if isinstance(original, int) and answer.headers.get("x-amzn-errortype") == "ModelError" else answer.status
    return Failure(answer.headers.get(FAILED_CONTAINER.lower()), status, str(message))


ENGINES = ("http", "inprocess", "spark")


def check_engine(name: str) -> None:
    if name not in ENGINES:
        raise ConfigurationError(f"unknown engine '{name}'; choose http, inprocess or spark")
