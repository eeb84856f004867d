"""Request validation from botocore's own model of the SageMaker API.

botocore ships the service model AWS generates its SDKs from (``botocore/data/sagemaker``):
every operation's input shape, with its required members, lengths, ranges, patterns and
enums. boto3 checks only the required members and the types before it sends; SageMaker
checks the rest and answers ``ValidationException`` with one message in the form of its
request framework::

    1 validation error detected: Value 'my_model' at 'modelName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: [a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?

Walking the model gives every operation those rules and that message, with the field paths
SageMaker uses (lower camel case, list members counted from 1: ``containers.2.member.image``).
A value of the wrong JSON type is a ``SerializationException``, as SageMaker answers it.

The patterns are Java regular expressions (``\\p{L}``, ``\\p{Alnum}``); the ``regex`` module
reads those, Python's ``re`` does not. A pattern neither can compile is skipped.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import regex

SERVICE = "sagemaker"
MAX_ERRORS = 10
SHOWN_VALUE = 256  # SageMaker lists at most this many constraint failures in one message


class ApiError(Exception):
    """An AWS JSON 1.1 error answer: ``code`` is its ``__type`` (``ValidationException`` ...). The
    validation here raises it, and so do the operations (:mod:`serving.api.service`, :mod:`serving.api.logs`)."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@functools.lru_cache(maxsize=None)
def service_model(service: str = SERVICE):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@functools.lru_cache(maxsize=None)
def _pattern(text: str):
    try:
        return regex.compile(text)
    except (regex.error, ValueError):
        return None


def validate(operation: str, params: Any, service: str = SERVICE) -> None:
    """Raise :class:`ApiError` unless ``params`` satisfies ``operation``'s input shape."""
    shape = service_model(service).operation_model(operation).input_shape
    if shape is None:
        return
    if not isinstance(params, dict):
        raise ApiError("SerializationException", "the request body must be a JSON object")
    problems: list[str] = []
    _check(shape, params, "", problems)
    if problems:
        count = len(problems)
        shown = problems[:MAX_ERRORS]
        noun = "error" if count == 1 else "errors"
        raise ApiError("ValidationException", f"{count} validation {noun} detected: " + "; ".join(shown))


def _field(name: str) -> str:
    return name[:1].lower() + name[1:]


def _value_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        text = json.dumps(value, default=str)
    if len(text) > SHOWN_VALUE:  # a message names the value; a 32 KiB environment need not be repeated
        text = text[:SHOWN_VALUE] + f"... ({len(text)} characters)"
    return f"'{text}'"


def _fail(problems: list[str], value: Any, path: str, constraint: str) -> None:
    problems.append(f"Value {_value_text(value)} at '{path}' failed to satisfy constraint: {constraint}")


TYPES = {"structure": dict, "list": list, "map": dict, "string": str, "boolean": bool, "blob": str}


def _type_error(shape, value: Any, path: str) -> ApiError:
    return ApiError("SerializationException",
                          f"{path or 'the request'}: expected {'an' if shape.type_name[0] in 'aeiou' else 'a'} "
                          f"{shape.type_name} ({shape.name}), "
                          f"got {type(value).__name__} {json.dumps(value, default=str)[:80]}")


def _check(shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            if not (isinstance(value, float) and value.is_integer()):
                raise _type_error(shape, value, path)
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(shape, value, path)
    elif kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _type_error(shape, value, path)
    elif kind in TYPES and not isinstance(value, TYPES[kind]):
        raise _type_error(shape, value, path)
    meta = shape.metadata
    if kind == "structure":
        for name in shape.required_members:
            if value.get(name) is None:
                _fail(problems, None, _join(path, name), "Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], _join(path, name), problems)
        return
    if kind in ("string", "list", "map", "blob"):
        _length(meta, value, path, problems, "Map value" if kind == "map" else "Member")
    if kind == "string":
        if "enum" in meta and value not in meta["enum"]:
            _fail(problems, value, path, f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]")
        elif "pattern" in meta:
            compiled = _pattern(meta["pattern"])
            if compiled is not None and compiled.fullmatch(value) is None:
                _fail(problems, value, path, f"Member must satisfy regular expression pattern: {meta['pattern']}")
    elif kind in ("integer", "long", "float", "double"):
        if "min" in meta and value < meta["min"]:
            _fail(problems, value, path, f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            _fail(problems, value, path, f"Member must have value less than or equal to {meta['max']}")
    elif kind == "list":
        for i, item in enumerate(value, 1):
            if item is None:
                _fail(problems, None, f"{path}.{i}.member", "Member must not be null")
            else:
                _check(shape.member, item, f"{path}.{i}.member", problems)
    elif kind == "map":
        for key, item in value.items():
            key_problems: list[str] = []
            _check(shape.key, key, path, key_problems)
            if key_problems:
                problems.append(f"Value '{key}' at '{path}' failed to satisfy constraint: Map keys must satisfy "
                                f"constraint: [{_constraints(key_problems)}]")
            if item is None:
                continue
            item_problems: list[str] = []
            _check(shape.value, item, path, item_problems)
            if item_problems:
                problems.append(f"Value '{item}' at '{path}.{key}' failed to satisfy constraint: Map value must "
                                f"satisfy constraint: [{_constraints(item_problems)}]")


def _constraints(problems: list[str]) -> str:
    return ", ".join(p.split("failed to satisfy constraint: ", 1)[-1] for p in problems)


def _length(meta: dict, value: Any, path: str, problems: list[str], what: str) -> None:
    size = len(value)
    if "min" in meta and size < meta["min"]:
        _fail(problems, value, path, f"{what} must have length greater than or equal to {meta['min']}")
    if "max" in meta and size > meta["max"]:
        _fail(problems, value, path, f"{what} must have length less than or equal to {meta['max']}")


def _join(path: str, name: str) -> str:
    return f"{path}.{_field(name)}" if path else _field(name)
