"""The request being served, for hooks that need more than the body.

The AWS hook signatures pass only the body and the content types. A hook that needs a
request header — the custom attributes, the inference id — reads it here:

    from serving.handlers.context import current_request

    def predict_fn(data, model):
        attrs = current_request().custom_attributes
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names

    @property
    def custom_attributes(self) -> str | None:
        return self.headers.get("x-amzn-sagemaker-custom-attributes")


_current: ContextVar[Request | None] = ContextVar("serving_request", default=None)


def current_request() -> Request | None:
    """The request being handled in this thread, or None outside a request."""
    return _current.get()


def set_request(request: Request | None):
    return _current.set(request)


def reset_request(token) -> None:
    _current.reset(token)


def headers_from_environ(environ: dict) -> dict[str, str]:
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers
