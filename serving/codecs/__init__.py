"""Codecs: one module per content type, found through one registry.

``decode(body, content_type)`` turns a request body into a batch (a 2-D NumPy array, or a
DataFrame when values are mixed or columns are named); ``encode(prediction, accept)`` turns
a prediction into response bytes. Both take :class:`MediaType` objects, so parameters such
as ``charset`` never break the match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import BadRequest, NotAcceptable, UnsupportedMediaType
from . import csv, json, jsonlines, npy
from .mediatype import MediaType, negotiate, parse_accept


@dataclass(frozen=True)
class Codec:
    media_type: str
    decode: Callable[[Any], Any]
    encode: Callable[[Any], bytes]
    text: bool  # decode() takes str (decoded with the charset parameter) rather than bytes


REGISTRY: dict[str, Codec] = {}


def register(codec: Codec) -> None:
    REGISTRY[codec.media_type] = codec


for _module, _text in ((csv, True), (json, True), (jsonlines, True), (npy, False)):
    register(Codec(_module.MEDIA_TYPE, _module.decode, _module.encode, _text))

# Order matters: it is the preference when a wildcard Accept does not match the default.
DECODABLE: tuple[str, ...] = tuple(REGISTRY)
ENCODABLE: tuple[str, ...] = tuple(REGISTRY)

TEXT_TYPES = frozenset(("text/csv", "application/json", "application/jsonlines", "application/x-jsonlines"))


def is_text(content_type: MediaType) -> bool:
    return content_type.type == "text" or content_type in TEXT_TYPES


def body_as_text(body: bytes, content_type: MediaType) -> str:
    try:
        return body.decode(content_type.charset)
    except LookupError:
        raise UnsupportedMediaType(f"charset '{content_type.charset}' in '{content_type.full}' is unknown; use utf-8") from None
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"the body is not valid {content_type.charset} text ({exc.reason} at byte {exc.start}); "
            "send UTF-8 or name the charset in Content-Type"
        ) from None


def lookup(content_type: str) -> Codec:
    codec = REGISTRY.get(str(content_type))
    if codec is None:
        raise UnsupportedMediaType(
            f"Content-Type '{getattr(content_type, 'full', content_type)}' is not supported; "
            f"send one of: {', '.join(DECODABLE)}"
        )
    return codec


def decode(body: bytes | str, content_type: MediaType) -> Any:
    codec = lookup(content_type)
    if codec.text and isinstance(body, bytes):
        body = body_as_text(body, content_type)
    elif not codec.text and isinstance(body, str):
        body = body.encode(content_type.charset)
    return codec.decode(body)


def encode(data: Any, accept: MediaType | str) -> bytes:
    codec = REGISTRY.get(str(accept))
    if codec is None:
        raise NotAcceptable(f"cannot write the prediction as '{accept}'; supported: {', '.join(ENCODABLE)}")
    return codec.encode(data)


__all__ = [
    "Codec", "MediaType", "REGISTRY", "DECODABLE", "ENCODABLE", "decode", "encode", "lookup",
    "negotiate", "parse_accept", "is_text", "body_as_text", "register",
]
