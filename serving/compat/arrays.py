"""Array encoders with the exact output of the AWS toolkits, shared by both stand-ins."""

from __future__ import annotations

import io
import json

import numpy as np


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
