"""The codec registry: one :class:`Codec` per content type, registered once by a decorator.

A codec module declares a class::

    @register
    class CsvCodec(Codec):
        media_types = ("text/csv",)
        text = True        # decode() takes str, decoded with the charset parameter
        order = 10         # preference when a wildcard Accept must choose between codecs

        def decode(self, text): ...
        def encode(self, data): ...

and that is all: :mod:`serving.codecs` imports every module of its package, so adding a
content type is adding one module. A codec that only reads (or only writes) a type sets
``encodes = False`` (or ``decodes = False``). Whether a body is text comes from its codec
here, and nowhere else; a type no codec knows is text when its major type is ``text``.
The 415 and the 406 are raised by :func:`~serving.codecs.mediatype.unsupported` and
:func:`~serving.codecs.mediatype.not_acceptable` alone.
"""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest
from .mediatype import MediaType, not_acceptable, unsupported


class Codec:
    media_types: tuple[str, ...] = ()  # the first is the one named in messages; the rest are aliases
    text: bool = False
    order: int = 100
    decodes = True
    encodes = True

    def decode(self, body: Any) -> Any:
        raise NotImplementedError

    def encode(self, data: Any) -> bytes:
        raise NotImplementedError


REGISTRY: dict[str, Codec] = {}
_CODECS: list[Codec] = []


def register(cls: type[Codec]) -> type[Codec]:
    """Class decorator: make an instance of ``cls`` the codec of each of its media types."""
    codec = cls()
    for media_type in cls.media_types:
        if media_type in REGISTRY:
            raise RuntimeError(f"{media_type} has two codecs: {type(REGISTRY[media_type]).__name__} and {cls.__name__}")
        REGISTRY[media_type] = codec
    _CODECS.append(codec)
    _CODECS.sort(key=lambda c: c.order)
    return cls


def decodable() -> tuple[str, ...]:
    """The types the codecs read, best first (named in 415 messages)."""
    return tuple(c.media_types[0] for c in _CODECS if c.decodes)


def encodable() -> tuple[str, ...]:
    """The types the codecs write, best first (what negotiation offers)."""
    return tuple(c.media_types[0] for c in _CODECS if c.encodes)


def is_text(content_type: MediaType) -> bool:
    codec = REGISTRY.get(str(content_type))
    return codec.text if codec is not None else content_type.type == "text"


def body_as_text(body: bytes, content_type: MediaType) -> str:
    """The body as text in its charset; a UTF-8 byte-order mark at its start is read as one, not as text."""
    try:
        text = body.decode(content_type.charset)
        return text[1:] if text.startswith("\ufeff") else text
    except LookupError:
        raise unsupported(f"charset '{content_type.charset}' in '{content_type.full}' is unknown", (),
                          hint="use utf-8") from None
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"the body is not valid {content_type.charset} text ({exc.reason} at byte {exc.start}); "
            "send UTF-8 or name the charset in Content-Type"
        ) from None


def decode(body: bytes | str, content_type: MediaType) -> Any:
    codec = REGISTRY.get(str(content_type))
    if codec is None or not codec.decodes:
        raise unsupported(f"Content-Type '{content_type.full}' is not supported", decodable())
    if codec.text and isinstance(body, bytes):
        body = body_as_text(body, content_type)
    elif not codec.text and isinstance(body, str):
        body = body.encode(content_type.charset)
    return codec.decode(body)


def encode(data: Any, accept: MediaType) -> bytes:
    codec = REGISTRY.get(str(accept))
    if codec is None or not codec.encodes:
        raise not_acceptable(accept.full, encodable())
    return codec.encode(data)
