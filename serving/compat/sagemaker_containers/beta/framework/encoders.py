"""Array encoders with the behaviour of ``sagemaker_containers._encoders``.

They keep that module's shapes on purpose (a one-row CSV decodes to a 1-D array; a 1-D
array encodes as a column), because scripts written against it rely on them.
"""

import csv
import io
import json

import numpy as np

from serving.compat.common import array_to_json, array_to_npy, npy_to_numpy

from . import content_types
from .errors import UnsupportedFormatError


def json_to_numpy(string_like, dtype=None):
    return np.array(json.loads(string_like), dtype=dtype)


def csv_to_numpy(string_like, dtype=None):
    rows = list(csv.reader(io.StringIO(string_like), delimiter=",", quotechar='"', doublequote=True, strict=True))
    return np.array(rows, dtype=dtype).squeeze()


def array_to_csv(array_like):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    arr = np.asarray(array_like)
    writer.writerows(arr.reshape(-1, 1) if arr.ndim == 1 else arr)
    return out.getvalue()


def array_to_recordio_protobuf(array_like, labels=None):
    """Rows as RecordIO-protobuf ``Record`` s, features under ``values`` (a 1-D array is one
    row), each with its label when ``labels`` are given: the bytes the SDK's
    ``write_numpy_to_dense_tensor`` writes."""
    from serving.codecs.recordio import write_records

    array = np.asarray(array_like)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise ValueError("Array must be a Matrix")
    if labels is None:
        return write_records(array.tolist(), _tensor(array.dtype))
    labels = np.asarray(labels)
    if len(labels) != array.shape[0]:
        raise ValueError(f"{len(labels)} labels for {array.shape[0]} rows")
    return write_records(array.tolist(), _tensor(array.dtype), labels=labels.tolist(), label_kind=_tensor(labels.dtype))


def _tensor(dtype) -> str:
    if dtype == np.dtype(int):
        return "int32_tensor"
    if dtype == np.dtype(float):
        return "float64_tensor"
    if dtype == np.dtype("float32"):
        return "float32_tensor"
    raise ValueError(f"Unsupported dtype {dtype} on array")


_ENCODERS = {content_types.NPY: array_to_npy, content_types.CSV: array_to_csv, content_types.JSON: array_to_json}
_DECODERS = {content_types.NPY: npy_to_numpy, content_types.CSV: csv_to_numpy, content_types.JSON: json_to_numpy}


def decode(obj, content_type):
    try:
        return _DECODERS[str(content_type)](obj)
    except KeyError:
        raise UnsupportedFormatError(content_type) from None


def encode(array_like, content_type):
    try:
        return _ENCODERS[str(content_type)](array_like)
    except KeyError:
        raise UnsupportedFormatError(content_type) from None
