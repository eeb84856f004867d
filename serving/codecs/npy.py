"""``application/x-npy``: a NumPy ``.npy`` body. Never unpickles: object arrays are refused
(loading a pickle from a request would let any client run code in the container)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from ..errors import BadRequest
from .registry import Codec, register
from .tabular import to_array


@register
class NpyCodec(Codec):
    media_types = ("application/x-npy",)
    order = 40

    def decode(self, body: bytes) -> np.ndarray:
        if not body.startswith(b"\x93NUMPY"):
            raise BadRequest("the body is not a .npy array (it lacks the NUMPY magic header); write it with numpy.save")
        try:
            arr = np.load(io.BytesIO(body), allow_pickle=False)
        except ValueError as exc:
            if "pickle" in str(exc):
                raise BadRequest("the .npy body holds Python objects (a pickle), which are refused; send a numeric or string array") from None
            raise BadRequest(f"the body is not a valid .npy array: {exc}") from None
        except (OSError, EOFError) as exc:
            raise BadRequest(f"the body is not a valid .npy array: {exc}") from None
        if arr.ndim == 0:
            return arr.reshape(1, 1)
        if arr.ndim == 1:
            return arr.reshape(1, -1)  # a single row is a batch of one
        return arr

    def encode(self, data: Any) -> bytes:
        buf = io.BytesIO()
        arr = to_array(data)
        if arr.dtype == object:
            arr = arr.astype(str)
        np.save(buf, arr, allow_pickle=False)
        return buf.getvalue()
