"""Attribute values in MLeap's JSON encoding (``mleap-format.md`` section 5), for writing.

The inverse of ``bundle.decode_value``. We always write explicit values (``false``, ``0.0``)
as the Python MLeap writer does; both MLeap readers accept them. Non-finite doubles are
written as ``null``, as spray-json does, never as the ``NaN`` literal the JVM cannot read.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np


def _finite(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def double(x: float) -> dict:
    return {"double": _finite(x)}


def long(x: int) -> dict:
    return {"long": int(x)}


def integer(x: int) -> dict:
    return {"int": int(x)}


def string(s: str) -> dict:
    return {"string": str(s)}


def boolean(b: bool) -> dict:
    return {"boolean": bool(b)}


def doubles(xs: Iterable[float]) -> dict:
    return {"double": [_finite(x) for x in xs], "type": "list"}


def longs(xs: Iterable[int]) -> dict:
    return {"long": [int(x) for x in xs], "type": "list"}


def integers(xs: Iterable[int]) -> dict:
    return {"int": [int(x) for x in xs], "type": "list"}


def strings(xs: Iterable[str]) -> dict:
    return {"string": [str(x) for x in xs], "type": "list"}


def _shape(dims: Iterable[int]) -> dict:
    return {"dimensions": [{"size": int(d), "name": ""} for d in dims]}


def tensor(array: Any, with_type: bool = True) -> dict:
    """A double tensor; matrices are written column-major as Spark writes them."""
    array = np.asarray(array, dtype=np.float64)
    flat = array.reshape(-1, order="F")
    value = {"double": [_finite(x) for x in flat.tolist()], "shape": _shape(array.shape)}
    if with_type:
        value["type"] = "tensor"
    return value


def tensors(arrays: Iterable[Any]) -> dict:
    """A list of tensors (KMeans centres, LSH vectors): inner tensors carry no ``type``."""
    return {"tensor": [tensor(a, with_type=False) for a in arrays], "type": "list"}


def data_shape(size: int | None, nullable: bool = True) -> dict:
    """A data shape: ``None`` for a scalar, else a vector (tensor) of ``size``."""
    if size is None:
        return {"base": "scalar", "isNullable": nullable}
    return {"base": "tensor", "isNullable": nullable, "tensorShape": _shape([size])}


def data_shapes(sizes: Iterable[int | None]) -> dict:
    return {"data_shape": [data_shape(s) for s in sizes], "type": "list"}
