"""The engines that turn request bodies into responses: over HTTP, or in this process.

An engine answers each file's requests in order (``process``); the first failure ends the
file (its requests not yet sent are cancelled: the file will have no output anyway). With
``MaxConcurrentTransforms`` workers, the next file's requests are queued while this one's
finish. The Spark engine (``spark.py``) works on many files at once instead.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor, ThreadPoolExecutor
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
    pool: ThreadPoolExecutor | ProcessPoolExecutor | None = None  # MaxConcurrentTransforms threads or processes
    task = None  # what the pool runs for one body, where not this engine's invoke (a function a process can find)
    broken = "a worker of the engine died"  # the failure of the requests a broken pool could not answer

    def execution_parameters(self) -> dict | None:
        return None

    def start(self, options) -> None:
        """Called once the job's options are resolved, before the first request."""
        self.options = options

    def invoke(self, body: bytes) -> Response | Failure:
        raise NotImplementedError

    def queue(self, bodies: Iterable[bytes]) -> list[Future]:
        """The file's requests, submitted to the pool; a broken pool (a worker died) fails the
        rest of them at once."""
        futures = []
        for body in bodies:
            try:
                futures.append(self.pool.submit(self.task or self.invoke, body))
            except BrokenExecutor as exc:
                futures.append(Future())
                futures[-1].set_exception(exc)
                break
        return futures

    def collect(self, futures: list[Future]) -> list[Response | Failure]:
        """The futures' answers in order, up to the first failure; the requests behind it that
        have not started are cancelled (the file will have no output anyway)."""
        try:
            return _until_failure(future.result() for future in futures)
        except BrokenExecutor:
            return [Failure(None, 500, self.broken)]
        finally:
            for future in futures:
                future.cancel()  # a no-op for those done or running

    def process(self, prepared: Iterator) -> Iterator:
        """Yield ``(file, outcomes)`` per prepared file, in order (Spark overrides this).

        With a pool, the next file is read and its requests queued before this file's answers
        are collected, so the workers do not wait at each file's end while the job reads the
        next input and writes this output. At most two files' requests are in flight."""
        ahead = None  # (file, its futures)
        for item in prepared:
            if self.pool is None:
                yield item, [] if item.error is not None else _until_failure(map(self.invoke, item.bodies()))
                continue
            queued = (item, [] if item.error is not None else self.queue(item.bodies()))
            if ahead is not None:
                yield ahead[0], self.collect(ahead[1])
            ahead = queued
        if ahead is not None:
            yield ahead[0], self.collect(ahead[1])

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _until_failure(answers: Iterable) -> list[Response | Failure]:
    out = []
    for answer in answers:
        out.append(answer)
        if isinstance(answer, Failure):
            break
    return out


class InProcessEngine(Engine):
    """Our own containers' handler chain, called directly, ``MaxConcurrentTransforms`` at a time.

    One request at a time runs in this process. More than one run in as many worker
    processes forked from this one once the chain is loaded (where the platform forks:
    Linux), each with the same loaded chain, as a container's model server runs its model in
    several workers: two threads of one interpreter answered 1.1 to 1.25 times what one does
    here, two processes 1.7 to 2 times (the Python between the C parts holds the GIL). Bodies
    and answers cross a pipe, a copy each way. Answers keep request order; the first failure
    ends the file.
    """

    name = "inprocess"
    broken = ("a worker process of the inprocess engine died (out of memory, or killed); "
              "run with MaxConcurrentTransforms=1 to see the failure in this process")

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
        workers = options.MaxConcurrentTransforms
        if workers > 1 and sys.platform.startswith("linux"):
            global _FORKED
            _FORKED = (self.chain, options.ContentType, options.Accept)  # what the forked workers inherit
            self.task = _invoke_forked
            self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                                            initializer=_worker_start, initargs=(os.getpid(),))
            gc.freeze()  # the workers' collector leaves the loaded objects alone: their pages stay shared
            try:
                self.pool.submit(int).result()  # the workers are forked now, at the job's start, not by its first file
            finally:
                gc.unfreeze()
        elif workers > 1:
            self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inprocess")

    def invoke(self, body: bytes) -> Response | Failure:
        return self.chain.invoke(body, self.options.ContentType, self.options.Accept)

    def close(self) -> None:
        super().close()
        global _FORKED
        if _FORKED is not None and _FORKED[0] is self.chain:
            _FORKED = None  # the workers have their own copy; this one would keep the models alive after the job


_FORKED: tuple | None = None  # (chain, ContentType, Accept), set in the parent before its workers fork


def _worker_start(parent: int) -> None:
    """A forked worker ends with the job: killed when the thread that forked it ends (a job
    killed with SIGKILL would otherwise leave its workers waiting for requests, holding its
    output pipes open), deaf to the SIGINT and SIGTERM meant for the job, which ends its
    workers itself when it stops."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the job died before the call above
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _invoke_forked(body: bytes) -> Response | Failure:
    chain, content_type, accept = _FORKED
    return chain.invoke(body, content_type, accept)


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
