"""Codecs: one module per content type, found through one registry.

``decode(body, content_type)`` turns a request body into a batch (a 2-D NumPy array, or a
DataFrame when values are mixed or columns are named); ``encode(prediction, accept)`` turns
a prediction into response bytes. Both take :class:`MediaType` objects, so parameters such
as ``charset`` never break the match. Every module of this package is imported here, and a
codec module registers its codec itself (:mod:`.registry` says how), so a new content type
is one new module.
"""

from __future__ import annotations

import importlib
import pkgutil

from .mediatype import MediaType, negotiate, not_acceptable, parse_accept, unsupported
from .registry import REGISTRY, Codec, body_as_text, decodable, decode, encodable, encode, is_text, register

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

#: the types the codecs read and write, best first
DECODABLE: tuple[str, ...] = decodable()
ENCODABLE: tuple[str, ...] = encodable()

__all__ = [
    "Codec", "MediaType", "REGISTRY", "DECODABLE", "ENCODABLE", "decode", "encode", "negotiate", "parse_accept",
    "is_text", "body_as_text", "register", "unsupported", "not_acceptable",
]
