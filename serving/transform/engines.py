"""The engines that turn request bodies into responses: over HTTP, or in this process.

An engine sees one file's requests at a time (``invoke_all``) and answers them in order;
the first failure ends the file (requests not yet sent are cancelled: the file will have no
output anyway). The Spark engine (``spark.py``) works on many files at once instead.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator, Mapping

from ..errors import ConfigurationError
from .chain import Chain, Failure, Response, Stage

log = logging.getLogger("serving.transform")

#: statuses worth another try: overload and server faults; a 4xx will fail the same way again
RETRY_STATUSES = frozenset((429, 500, 502, 503, 504))
_FROM_CONTAINER = re.compile(r"from (\S+?) with message")


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
        if options.MaxConcurrentTransforms > 1:
            self.pool = ThreadPoolExecutor(max_workers=options.MaxConcurrentTransforms, thread_name_prefix="inprocess")

    def invoke(self, body: bytes) -> Response | Failure:
        return self.chain.invoke(body, self.options.ContentType, self.options.Accept)



class HttpEngine(Engine):
    """POST /invocations to an endpoint, ``MaxConcurrentTransforms`` requests at a time."""

    name = "http"

    def __init__(self, url: str):
        import requests  # noqa: F401 - fail early if the optional dependency is missing

        self.url = url.rstrip("/").removesuffix("/invocations")
        self.local = threading.local()

    def session(self):
        session = getattr(self.local, "session", None)
        if session is None:
            import requests
            from requests.adapters import HTTPAdapter

            session = requests.Session()
            size = max(1, self.options.MaxConcurrentTransforms)
            session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=size))
            session.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=size))
            self.local.session = session
        return session

    def execution_parameters(self) -> dict | None:
        import requests

        try:
            response = requests.get(self.url + "/execution-parameters", timeout=10)
        except requests.RequestException as exc:
            raise ConfigurationError(f"cannot reach the endpoint at {self.url}: {exc}; is it running?") from None
        if response.status_code != 200:
            return None  # optional: the defaults apply
        try:
            params = response.json()
        except ValueError:
            return None
        return params if isinstance(params, dict) else None

    def start(self, options) -> None:
        super().start(options)
        self.pool = ThreadPoolExecutor(max_workers=max(1, options.MaxConcurrentTransforms), thread_name_prefix="transform")

    def invoke(self, body: bytes) -> Response | Failure:
        import requests

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
            data = body if options.MaxPayloadInMB else iter([body])  # 0: chunked streaming
            try:
                response = self.session().post(self.url + "/invocations", data=data, headers=headers,
                                               timeout=(10, options.InvocationsTimeoutInSeconds))
            except requests.Timeout:
                failure = Failure(None, 0, f"the invocation timed out after {options.InvocationsTimeoutInSeconds} s "
                                           "(InvocationsTimeoutInSeconds)")
                continue
            except requests.ConnectionError as exc:
                failure = Failure(None, 0, f"cannot reach the endpoint at {self.url}: {exc}")
                continue
            if response.status_code < 400:
                return Response(response.content, response.headers.get("Content-Type", ""))
            failure = failure_from_http(response.status_code, response.content,
                                        response.headers.get("X-Serving-Failed-Container"))
            if response.status_code not in RETRY_STATUSES:
                break
        return failure


def failure_from_http(status: int, body: bytes, container: str | None = None) -> Failure:
    """Read the container and its own status out of an error answer (router or container).

    Our router names the container in ``X-Serving-Failed-Container`` and its status in
    ``OriginalStatusCode``; other endpoints' ModelError messages name it ("... from NAME ...").
    """
    text = body.decode("utf-8", "replace")
    message, original = text.strip(), None
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        message = str(doc.get("message") or doc.get("Message") or message)
        original = doc.get("OriginalStatusCode")
    if container is None:
        match = _FROM_CONTAINER.search(message)
        container = match.group(1) if match else None
    return Failure(container, int(original) if original else status, message)


ENGINES = ("http", "inprocess", "spark")


def check_engine(name: str) -> None:
    if name not in ENGINES:
        raise ConfigurationError(f"unknown engine '{name}'; choose http, inprocess or spark")
