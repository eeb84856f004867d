"""Typed errors, raised where a problem is found and mapped to HTTP in one place.

Every error carries the HTTP status it stands for and a message that says what was wrong
and what would be right. User scripts may raise these from any hook to choose the status
(``raise BadRequest("column 'sex' must be M, F or I")``); anything else raised by a hook
is a fault in the model and becomes a 500.
"""

from __future__ import annotations


class ServingError(Exception):
    """Base class. ``status`` is the HTTP status; ``title`` a short name for logs/bodies."""

    status = 500
    title = "Internal Server Error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def __str__(self) -> str:
        return self.message


class BadRequest(ServingError):
    """The request body or its headers cannot be understood (400)."""

    status = 400
    title = "Bad Request"


class NotFound(ServingError):
    status = 404
    title = "Not Found"


class MethodNotAllowed(ServingError):
    status = 405
    title = "Method Not Allowed"


class NotAcceptable(ServingError):
    """No type in the Accept header can be produced (406)."""

    status = 406
    title = "Not Acceptable"


class PayloadTooLarge(ServingError):
    status = 413
    title = "Payload Too Large"


class UnsupportedMediaType(ServingError):
    """The Content-Type cannot be decoded (415)."""

    status = 415
    title = "Unsupported Media Type"


class ModelError(ServingError):
    """A fault inside the model or the user's code (500)."""

    status = 500
    title = "Internal Server Error"


class ModelNotReady(ServingError):
    """The model failed to load, or has not loaded yet (503)."""

    status = 503
    title = "Service Unavailable"


class UpstreamError(ServingError):
    """A container behind the router failed (424, as SageMaker's ``ModelError``)."""

    status = 424
    title = "Failed Dependency"


class ConfigurationError(Exception):
    """A setting, spec or model directory is wrong; raised at start-up, not per request."""
