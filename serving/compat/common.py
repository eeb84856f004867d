"""What both stand-ins share: array encoders with the AWS toolkits' exact output, and the
unsupported-format error (a 415 here)."""

from __future__ import annotations

import io
import json

import numpy as np

from serving.errors import UnsupportedMediaType


def array_to_json(array_like) -> str:
    def default(obj):
        if hasattr(obj, "tolist"):
            return obj.tolist()
        return json.JSONEncoder().default(obj)

    return json.dumps(array_like, default=default)


def array_to_npy(array_like) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array_like))
    return buffer.getvalue()


def npy_to_numpy(body: bytes) -> np.ndarray:
    return np.load(io.BytesIO(body), allow_pickle=False)  # never unpickle a request


class UnsupportedFormatError(UnsupportedMediaType):
    def __init__(self, content_type, **kwargs):  # the toolkits accept extra keywords
        super().__init__(f"Content type {content_type} is not supported by this framework.")
        self.content_type = content_type
