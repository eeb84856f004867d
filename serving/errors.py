"""Typed errors, raised where a problem is found, and the one mapping to HTTP of each surface.

Every error carries the HTTP status it stands for and a message that says what was wrong and
what would be right. User scripts may raise these from any hook to choose the status
(``raise BadRequest("column 'sex' must be M, F or I")``); any exception with an integer
``status_code`` (the AWS toolkits' ``BaseInferenceToolkitError`` family, ours or the real
one) keeps its status too, as on AWS; anything else a hook raises is a fault in the model (500).

An error becomes a response in one function per surface:

- :func:`container_response`: a container's ``/invocations`` and friends:
  ``{"error": name, "message": text}``;
- :func:`runtime_response`: SageMaker Runtime, as the pipeline router answers it:
  ``x-amzn-ErrorType`` names the error, the body is ``{"ErrorCode", "Message", ...fields}``
  (a failed container adds ``OriginalStatusCode``, ``OriginalMessage`` and ``LogStreamArn``,
  and the ``X-Serving-Failed-Container`` header);
- :data:`admin_response`: the router's ``/admin`` routes, in the container's shape.

Each surface maps an unexpected exception (a bug) to a 500 that says where to look, never
a traceback.
"""

from __future__ import annotations

import json
from http import HTTPStatus

FAILED_CONTAINER = "X-Serving-Failed-Container"

Response = tuple[int, list[tuple[str, str]], bytes]


class ServingError(Exception):
    """Base class. ``status`` is the HTTP status; ``code`` the SageMaker Runtime ErrorCode.

    ``fields`` are extra members of an error body (SageMaker's 424 carries the container's
    status and message); ``headers`` go out with the response. The class attributes are
    defaults, so a subclass that never calls ``__init__`` still maps cleanly.
    """

    status = 500
    code = "InternalFailure"
    message = ""
    headers: dict[str, str] = {}
    fields: dict = {}
    container: str | None = None  # the pipeline container that failed, where one did
    name: str | None = None  # the ``error`` of a container's body; default: the class name
    timed_out = False  # a container did not answer in time (counted by the endpoint's metrics)

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None, container: str | None = None, name: str | None = None,
                 **fields):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if name is not None:
            self.name = name
        self.headers = dict(headers or {})
        self.container = container
        self.fields = fields

    @property
    def error(self) -> str:
        return self.name or type(self).__name__

    def __str__(self) -> str:
        return self.message or super().__str__()


class BadRequest(ServingError):
    """The request body or its headers cannot be understood (400)."""

    status, code = 400, "ValidationError"


class Forbidden(ServingError):
    status, code = 403, "AccessDeniedException"


class NotFound(ServingError):
    status, code = 404, "UnknownOperationException"


class MethodNotAllowed(ServingError):
    status, code = 405, "UnknownOperationException"


class NotAcceptable(ServingError):
    """No type in the Accept header can be produced (406)."""

    status, code = 406, "ValidationError"


class RequestTimeout(ServingError):
    """The request body stopped arriving (408)."""

    status, code = 408, "ValidationError"


class Conflict(ServingError):
    """The request cannot be done in the resource's current state (409)."""

    status, code = 409, "ValidationError"


class PayloadTooLarge(ServingError):
    status, code = 413, "ValidationError"


class UnsupportedMediaType(ServingError):
    """The Content-Type cannot be decoded (415)."""

    status, code = 415, "ValidationError"


class RequestHeaderFieldsTooLarge(ServingError):
    status, code = 431, "ValidationError"


class ModelError(ServingError):
    """A fault inside the model or the user's code (500)."""

    status = 500


class InternalServerError(ServingError):
    """A fault of ours, not of the request or the model (500)."""

    status = 500


class ModelTimeout(ServingError):
    """The model did not answer within ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` (504)."""

    status, code = 504, "ModelError"


class ContainerFailed(ServingError):
    """A container of a pipeline answered with an error, too much, or not at all (SageMaker's 424)."""

    status, code = 424, "ModelError"


class ModelNotReady(ServingError):
    """The model failed to load, or has not loaded yet (503)."""

    status, code = 503, "ServiceUnavailable"


class ServiceUnavailable(ServingError):
    """A pipeline container is starting or restarting; retry shortly (503)."""

    status, code = 503, "ServiceUnavailable"


class ConfigurationError(Exception):
    """A setting, spec or model directory is wrong; raised at start-up, not per request."""


def from_script(exc: BaseException, where: str) -> ServingError:
    """What a user hook's exception means: its own status where it has an integer
    ``status_code`` (4xx or 5xx), else a model fault naming the hook (500)."""
    if isinstance(exc, ServingError):
        return exc
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599:
        message = getattr(exc, "message", None)
        if not isinstance(message, str) or not message:
            args = [a for a in exc.args if isinstance(a, str) and a]
            message = args[0] if args else HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        return ServingError(message, status=status, name=type(exc).__name__)
    return ModelError(f"{where} failed: {type(exc).__name__}: {exc}")


def _unexpected(exc: BaseException) -> ServingError:
    return exc if isinstance(exc, ServingError) else InternalServerError("internal server error; see the server log")


def container_response(exc: BaseException) -> Response:
    """A container's error answer: ``{"error": name, "message": text}``."""
    error = _unexpected(exc)
    body = json.dumps({"error": error.error, "message": error.message}).encode()
    return error.status, [("Content-Type", "application/json"), *error.headers.items()], body


def runtime_response(exc: BaseException) -> Response:
    """SageMaker Runtime's error answer, as botocore reads it (``x-amzn-ErrorType``, then the body)."""
    error = _unexpected(exc)
    body = json.dumps({"ErrorCode": error.code, "Message": error.message, **error.fields}).encode()
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", error.code), *error.headers.items()]
    if error.container is not None:
        headers.append((FAILED_CONTAINER, error.container))
    return error.status, headers, body


#: The router's ``/admin`` routes answer errors in the container's shape; they have no
#: AWS counterpart to follow.
admin_response = container_response
