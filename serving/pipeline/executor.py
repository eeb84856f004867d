"""The one way a pipeline request runs, whatever carries it between containers.

The router (over HTTP) and batch transform's in-process and Spark engines (handler chains
in this process) both run a request here; only "call container k with this body" differs,
and that is a :class:`Step`. So the limits, the order of the hops, the 424 wording and the
failure a caller sees are the same in every engine, and so are the outputs.

Serial mode (contract §3.2): container 1 gets the client's body and Content-Type, container
k+1 gets container k's body and Content-Type verbatim, only the last container gets the
client's Accept, custom attributes and the inference id go to every container, and the
caller gets the last container's body, Content-Type and custom attributes. Direct mode runs
the one container the request names. A failure stops the chain with SageMaker's
``ModelError`` (424): ``OriginalStatusCode``, ``OriginalMessage`` and the container's name,
worded as SageMaker words it, so that botocore raises the same exception it raises against
the real service.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol, Sequence

from ..errors import BadRequest, ContainerFailed, ServiceUnavailable

MB = 1024 * 1024
VARIANT = "AllTraffic"
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"
TARGET_CONTAINER = "X-Amzn-SageMaker-Target-Container-Hostname"


@dataclass(frozen=True)
class Limits:
    """Per-request limits; SageMaker's values by default (contract §1.4, §3.3). ``None``: no limit."""

    timeout: float = 60.0  # per container call
    max_request_bytes: int | None = 6 * MB  # 6,291,456: InvokeEndpoint's BodyBlob
    max_response_bytes: int | None = 6 * MB
    max_hop_bytes: int | None = 5 * MB  # between two containers

    @classmethod
    def for_transform(cls, payload_bytes: int | None, timeout: float = 60.0) -> "Limits":
        """A batch job's limits: the endpoint's, raised to its ``MaxPayloadInMB`` (``None``: unlimited)."""
        if payload_bytes is None:
            return cls(timeout, None, None, None)
        base = cls()
        return cls(timeout, max(base.max_request_bytes, payload_bytes), max(base.max_response_bytes, payload_bytes),
                   max(base.max_hop_bytes, payload_bytes))


@dataclass
class Reply:
    """One container's answer: status, headers (lower-case names), body, and its declared size."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    size: int = -1  # the Content-Length it announced, when the body was cut at the limit

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


@dataclass
class Result:
    """What the caller gets: the last container's body, Content-Type and custom attributes."""

    body: bytes
    content_type: str | None
    custom_attributes: str | None = None


class Step(Protocol):
    """One container, as the executor calls it."""

    name: str  # its ContainerHostname
    label: str  # ``endpoint/container``, the prefix of its log lines

    def unavailable(self) -> str | None:
        """None when the container can take a request now, else why not (starting, restarting)."""

    def call(self, body: bytes, headers: dict[str, str], limit: int | None, timeout: float) -> Reply:
        """Send ``body``; raise a worded :class:`~serving.errors.ServingError` if no answer comes."""


Observer = Callable[[Step, int, float, BaseException | None], None]  # (step, status or 0, seconds, error): metrics


@dataclass
class Request:
    body: bytes
    content_type: str | None = None
    accept: str | None = None
    shared: dict[str, str] = field(default_factory=dict)  # headers every container gets


def choose(steps: Sequence[Step], mode: str, target: str | None, endpoint: str) -> list[Step]:
    """The containers a request runs: all of them (Serial), or the one it names (Direct)."""
    by_name = {s.name: s for s in steps}
    if target is None:
        if mode == "Direct":
            raise BadRequest(f"Endpoint {endpoint} is configured for direct invocation: set TargetContainerHostname "
                             f"(header {TARGET_CONTAINER}) to one of: {', '.join(by_name)}")
        return list(steps)
    if mode != "Direct":
        raise BadRequest(f"TargetContainerHostname is set to '{target}', but endpoint {endpoint} is not configured "
                         "for direct invocation (its InferenceExecutionConfig.Mode is Serial); leave it out to run "
                         "the pipeline")
    if target not in by_name:
        raise BadRequest(f"TargetContainerHostname '{target}' does not exist in endpoint {endpoint}; its containers "
                         f"are: {', '.join(by_name)}")
    return [by_name[target]]


def run(chain: Sequence[Step], request: Request, limits: Limits, observe: Observer | None = None) -> Result:
    """Pass ``request`` along ``chain``; the last answer, or a raised 424 naming the container."""
    body, ctype = request.body, request.content_type
    reply = None
    for k, step in enumerate(chain):
        last = k == len(chain) - 1
        headers = dict(request.shared)
        if ctype is not None:
            headers["Content-Type"] = ctype
        if last and request.accept is not None:
            headers["Accept"] = request.accept
        limit = limits.max_response_bytes if last else limits.max_hop_bytes
        reason = step.unavailable()
        if reason is not None:
            raise ServiceUnavailable(f"{reason}; retry shortly (see the log lines prefixed [{step.label}])",
                                     container=step.name)
        started = time.perf_counter()
        status, error = 0, None
        try:
            reply = step.call(body, headers, limit, limits.timeout)
            status = reply.status
        except BaseException as exc:
            error = exc
            raise
        finally:
            if observe is not None:
                observe(step, status, time.perf_counter() - started, error)
        if not 200 <= status < 300:
            raise failed(step, status, reply.body.decode("utf-8", "replace"))
        if limit is not None and len(reply.body) > limit:
            size = reply.size if reply.size > len(reply.body) else len(reply.body)
            raise too_large(step, chain[k + 1] if not last else None, size, limit)
        body, ctype = reply.body, reply.content_type
    return Result(body, ctype, reply.headers.get(CUSTOM_ATTRIBUTES.lower()))


def call_app(app, body: bytes, headers: Mapping[str, str]) -> Reply:
    """A container's app (:class:`serving.server.app.App`) called in this process: what it would
    answer over HTTP, as a step's reply (the inprocess backend's and the in-process chain's call)."""
    status, out, answer = app.invoke(body, {k.lower(): v for k, v in headers.items()})
    return Reply(status, {k.lower(): v for k, v in out}, answer)


def failed(step: Step, status: int, original: str, note: str = "") -> ContainerFailed:
    """SageMaker's ModelError for a container that answered ``status`` (0: no answer)."""
    kind = "client" if 400 <= status < 500 else "server"
    message = (f'Received {kind} error ({status}) from {step.name} with message "{original}". See the log lines '
               f"prefixed [{step.label}] for more information.{note}")
    endpoint = step.label.rsplit("/", 1)[0]
    return ContainerFailed(message, container=step.name, OriginalStatusCode=status, OriginalMessage=original,
                           LogStreamArn=f"{endpoint}/{VARIANT}/local/{step.name}")


def timed_out(step: Step, timeout: float) -> ContainerFailed:
    """SageMaker's ModelError for a container that did not answer within ``timeout`` seconds."""
    error = failed(step, 0, f"Your invocation timed out while waiting for a response from container {step.name}. "
                            "Review the latency metrics for each container at this endpoint's /metrics, resolve the "
                            "issue, and try again.", note=f" The limit is {timeout:g} s per container (--timeout).")
    error.timed_out = True
    return error


def cut_short(step: Step, status: int, detail: str) -> ContainerFailed:
    """A container whose answer broke off after its status line."""
    return ContainerFailed(f"Received server error ({status}) from {step.name} and could not load the entire "
                           f"response body ({detail})", container=step.name, OriginalStatusCode=status,
                           OriginalMessage="")


def too_large(sender: Step, receiver: Step | None, size: int, limit: int) -> ContainerFailed:
    if receiver is None:
        where = f"the response payload from {sender.name} to the client"
        option = "--max-response-mb"
    else:
        where = f"the request payload from {sender.name} to {receiver.name}"
        option = "--max-hop-mb"
    return ContainerFailed(f"Received response from {sender.name} with status code 200. However, {where} is {size} "
                           f"bytes, which has exceeded the maximum limit of {size_text(limit)}. Send fewer records per "
                           f"request or raise the limit ({option}).",
                           container=sender.name, OriginalStatusCode=200, OriginalMessage="")


def size_text(limit: int) -> str:
    return f"{limit // MB} MB" if limit % MB == 0 else f"{limit} bytes"
