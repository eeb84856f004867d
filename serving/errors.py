"""Typed errors, raised where a problem is found and mapped to HTTP in one place.

Every error carries the HTTP status it stands for and a message that says what was wrong
and what would be right. User scripts may raise these from any hook to choose the status
(``raise BadRequest("column 'sex' must be M, F or I")``); anything else raised by a hook
is a fault in the model and becomes a 500.
"""

from __future__ import annotations


class ServingError(Exception):
    """Base class. ``status`` is the HTTP status; the class name names the error in bodies."""

    status = 500

    def __init__(self, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def __str__(self) -> str:
        return self.message


class BadRequest(ServingError):
    """The request body or its headers cannot be understood (400)."""

    status = 400


class NotFound(ServingError):
    status = 404


class MethodNotAllowed(ServingError):
    status = 405


class NotAcceptable(ServingError):
    """No type in the Accept header can be produced (406)."""

    status = 406


class PayloadTooLarge(ServingError):
    status = 413


class UnsupportedMediaType(ServingError):
    """The Content-Type cannot be decoded (415)."""

    status = 415


class ModelError(ServingError):
    """A fault inside the model or the user's code (500)."""

    status = 500


class ModelNotReady(ServingError):
    """The model failed to load, or has not loaded yet (503)."""

    status = 503


class ConfigurationError(Exception):
    """A setting, spec or model directory is wrong; raised at start-up, not per request."""
