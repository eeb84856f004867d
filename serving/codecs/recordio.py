"""``application/x-recordio-protobuf``: SageMaker ``Record`` messages in RecordIO framing.

What the built-in algorithms read and write, and what the SageMaker SDK's
``write_numpy_to_dense_tensor`` / ``write_spmatrix_to_sparse_tensor`` / ``read_records`` make
and take. Each record is the magic ``0xced7230a`` and the payload length (little-endian
uint32 each, the top three bits of the length a continuation flag that must be 0 here), the
``Record`` protobuf, then zero bytes up to a multiple of 4.

Reading: each record is one row, its features under the key ``values`` (or the one key
there is): dense (a tensor's ``values``) or sparse (``values`` at ``keys`` of a vector of
``shape[0]`` columns). Rows of one body are a 2-D array of the tensors' type (float32,
float64 or int32; mixed types widen), or a SciPy CSR matrix when any row is sparse. Labels
are not features, and are not read. Nothing is unpickled; a body that is not what it claims
is a 400 that says which record and byte went wrong.

Writing: one record per row, features under ``values`` (float32 for float32 arrays, int32
for integers and booleans, float64 otherwise; sparse matrices as sparse tensors), as the
SDK's writers frame them. A 1-D prediction is one value per row, as in every other codec.

Dense float bodies of same-width rows are by far the most common (a featurizer feeding an
algorithm), and every such record has the same bytes around its values. protobuf's own
parser and writer are used to make and check those bytes once per body; the values of all
rows then move in one NumPy copy, since per-record parsing costs microseconds a row.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from ..errors import BadRequest
from .record import Record
from .registry import Codec, register
from .tabular import numeric_array

MAGIC = 0xCED7230A
_HEADER = struct.Struct("<II")
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_LENGTH_MASK = (1 << 29) - 1
TENSORS = {"float32_tensor": np.float32, "float64_tensor": np.float64, "int32_tensor": np.int32}
_TENSOR_OF = {np.dtype(np.float32): "float32_tensor", np.dtype(np.float64): "float64_tensor",
              np.dtype(np.int32): "int32_tensor"}

try:
    import scipy.sparse as _sparse
except ImportError:  # the model image has no SciPy: sparse records are read as dense rows
    _sparse = None


def _padding(length: int) -> int:
    return -length % 4


def frames(body: bytes) -> list[tuple[int, int]]:
    """(start, end) of each record's payload; a 400 naming the record and byte where the
    framing breaks."""
    out = []
    at, size = 0, len(body)
    while at < size:
        n = len(out) + 1
        if size - at < 8:
            raise BadRequest(f"RecordIO record {n} at byte {at} is truncated: {size - at} bytes left, "
                             "a record header needs 8 (magic 0xced7230a, then the length)")
        magic, word = _HEADER.unpack_from(body, at)
        if magic != MAGIC:
            raise BadRequest(f"RecordIO record {n} at byte {at} does not start with the magic number 0xced7230a "
                             f"(found 0x{magic:08x}); is the body application/x-recordio-protobuf?")
        if word >> 29:
            raise BadRequest(f"RecordIO record {n} at byte {at} is split across frames (continuation flag "
                             f"{word >> 29}), which is not supported; write each record whole")
        length = word & _LENGTH_MASK
        start = at + 8
        end = start + length
        if end > size:
            raise BadRequest(f"RecordIO record {n} at byte {at} is truncated: it declares {length} bytes, "
                             f"{size - start} follow")
        out.append((start, end))
        at = min(size, end + _padding(length))
    return out


def _parse(body: bytes, start: int, end: int, n: int) -> Any:
    record = Record()
    try:
        record.ParseFromString(body[start:end])
    except DecodeError as exc:
        raise BadRequest(f"RecordIO record {n} (bytes {start}-{end}) is not a SageMaker Record protobuf: {exc}") from None
    return record


def _features(record: Any, n: int) -> tuple[Any, str]:
    features = record.features
    if "values" in features:
        value = features["values"]
    elif len(features) == 1:
        value = next(iter(features.values()))
    elif not features:
        raise BadRequest(f"RecordIO record {n} has no features; the features go under the key 'values'")
    else:
        raise BadRequest(f"RecordIO record {n} has features {sorted(features)} but none named 'values'")
    kind = value.WhichOneof("value")
    if kind not in TENSORS:
        raise BadRequest(f"RecordIO record {n} holds {kind or 'an empty value'} features; a float32, float64 "
                         "or int32 tensor is needed")
    return getattr(value, kind), kind


@register
class RecordIOProtobufCodec(Codec):
    media_types = ("application/x-recordio-protobuf",)
    order = 60

    def decode(self, body: bytes) -> Any:
        fast = _dense_rows(body)
        if fast is not None:
            return fast
        spans = frames(body)
        if not spans:
            raise BadRequest("the application/x-recordio-protobuf body holds no records")
        rows, kinds, sparse, width = [], set(), False, None
        for n, (start, end) in enumerate(spans, 1):
            tensor, kind = _features(_parse(body, start, end, n), n)
            kinds.add(kind)
            values = np.asarray(tensor.values, dtype=TENSORS[kind])
            keys = np.asarray(tensor.keys, dtype=np.int64)
            shape = list(tensor.shape)
            if len(keys) or (shape and not len(values)):  # a sparse row (the SDK writes no keys for an all-zero one)
                if len(keys) != len(values):
                    raise BadRequest(f"RecordIO record {n} has {len(keys)} keys for {len(values)} values; a sparse "
                                     "tensor needs one key per value")
                if not shape:
                    raise BadRequest(f"RecordIO record {n} is sparse (it has keys) but has no shape; "
                                     "set shape to the number of columns")
                sparse = True
            elif shape and int(np.prod(shape)) != len(values):
                raise BadRequest(f"RecordIO record {n} has {len(values)} values for shape {shape}")
            row_width = int(np.prod(shape)) if shape else len(values)
            if width is None:
                width = row_width
            elif row_width != width:
                raise BadRequest(f"RecordIO record {n} has {row_width} columns, record 1 has {width}: "
                                 "every record needs the same number of columns")
            if len(keys) and (keys.max() >= width):
                raise BadRequest(f"RecordIO record {n} has key {int(keys.max())} beyond its shape {shape}")
            rows.append((values, keys))
        dtype = np.result_type(*(TENSORS[k] for k in kinds))
        if sparse:
            return _sparse_batch(rows, width, dtype)
        out = np.empty((len(rows), width), dtype=dtype)
        for i, (values, _) in enumerate(rows):
            out[i] = values
        return out

    def encode(self, data: Any) -> bytes:
        if _sparse is not None and _sparse.issparse(data):
            return _write_sparse(data.tocsr())
        arr = _numeric(data)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if arr.shape[0] == 0:
            return b""
        if arr.dtype == np.int32:  # int32 values are varints: each record has a length of its own
            return write_records(arr.tolist(), "int32_tensor")
        prefix = _dense_prefix(arr.dtype, arr.shape[1])
        length = len(prefix) + arr.itemsize * arr.shape[1]
        head = _HEADER.pack(MAGIC, length) + prefix
        pad = _padding(length)
        rows = np.empty((arr.shape[0], len(head) + length - len(prefix) + pad), dtype=np.uint8)
        rows[:, :len(head)] = np.frombuffer(head, dtype=np.uint8)
        rows[:, len(head):len(head) + arr.itemsize * arr.shape[1]] = (
            np.ascontiguousarray(arr).view(np.uint8).reshape(arr.shape[0], -1))
        if pad:
            rows[:, -pad:] = 0
        return rows.tobytes()


def _numeric(data: Any) -> np.ndarray:
    arr = numeric_array(data, "application/x-recordio-protobuf")
    if arr.dtype.kind in "iub":
        return arr.astype(np.int32)
    return arr if arr.dtype == np.float32 else arr.astype(np.float64)


_PREFIXES: dict[tuple[np.dtype, int], bytes] = {}


def _dense_prefix(dtype: np.dtype, width: int) -> bytes:
    """The bytes protobuf writes before the values of a dense record of ``width`` floats of
    ``dtype`` (features only): the fixed part of every such record."""
    key = (np.dtype(dtype), width)
    prefix = _PREFIXES.get(key)
    if prefix is None:
        probe = np.arange(1, width + 1, dtype=dtype)
        record = Record()
        getattr(record.features["values"], _TENSOR_OF[key[0]]).values.extend(probe.tolist())
        payload = record.SerializeToString()
        values = probe.tobytes()
        assert payload.endswith(values), "protobuf wrote a dense tensor's values in an unexpected place"
        prefix = payload[:len(payload) - len(values)]
        if len(_PREFIXES) < 256:
            _PREFIXES[key] = prefix
    return prefix


def _dense_rows(body: bytes) -> np.ndarray | None:
    """All rows at once when every record is a features-only dense record of one width and
    type (what the writers above and the SDK's dense writer make); else None."""
    if len(body) < 8:
        return None
    magic, length = _HEADER.unpack_from(body, 0)
    if magic != MAGIC or length >> 29:
        return None
    size = 8 + length + _padding(length)
    if len(body) % size or len(body) < size:
        return None
    try:
        record = Record.FromString(body[8:8 + length])
    except DecodeError:
        return None
    if len(record.ListFields()) != 1 or len(record.features) != 1 or "values" not in record.features:
        return None
    kind = record.features["values"].WhichOneof("value")
    if kind not in ("float32_tensor", "float64_tensor"):  # int32 values are varints, of no fixed width
        return None
    tensor = getattr(record.features["values"], kind)
    if len(tensor.keys) or len(tensor.shape):
        return None
    dtype = np.dtype(TENSORS[kind])
    width = len(tensor.values)
    prefix = _dense_prefix(dtype, width)
    if len(prefix) + width * dtype.itemsize != length:
        return None
    table = np.frombuffer(body, dtype=np.uint8).reshape(-1, size)
    head = 8 + len(prefix)
    if not (table[:, :head] == table[0, :head]).all() or bytes(table[0, 8:head]) != prefix:
        return None
    if size > 8 + length and table[:, 8 + length:].any():
        return None
    return table[:, head:8 + length].copy().view(dtype)


def _sparse_batch(rows: list[tuple[np.ndarray, np.ndarray]], width: int, dtype: np.dtype) -> Any:
    if _sparse is None:
        out = np.zeros((len(rows), width), dtype=dtype)
        for i, (values, keys) in enumerate(rows):
            if len(keys):
                out[i, keys] = values
            else:
                out[i] = values
        return out
    data, indices, indptr = [], [], [0]
    for values, keys in rows:
        if not len(keys):  # a dense row among sparse ones
            keys = np.flatnonzero(values)
            values = values[keys]
        order = np.argsort(keys, kind="stable")
        data.append(values[order])
        indices.append(keys[order])
        indptr.append(indptr[-1] + len(keys))
    return _sparse.csr_matrix(
        (np.concatenate(data).astype(dtype), np.concatenate(indices), np.array(indptr)), shape=(len(rows), width))


def _write_sparse(matrix: Any) -> bytes:
    dtype = _numeric(matrix.data[:0]).dtype
    spans = list(zip(matrix.indptr[:-1], matrix.indptr[1:]))
    return write_records([matrix.data[lo:hi].astype(dtype).tolist() for lo, hi in spans], _TENSOR_OF[dtype],
                         keys=[matrix.indices[lo:hi].tolist() for lo, hi in spans], width=matrix.shape[1])


def write_records(rows: list[list], kind: str, *, keys: list[list[int]] | None = None, width: int | None = None,
                  labels: list | None = None, label_kind: str | None = None) -> bytes:
    """One framed ``Record`` per row through protobuf: the row's values as a ``kind`` tensor
    under ``values`` (sparse: at ``keys`` of a vector of ``width``), with its label when given.
    For what the vectorised dense writer does not cover: int32 values, sparse rows, labels."""
    out = bytearray()
    record = Record()
    for i, values in enumerate(rows):
        record.Clear()
        tensor = getattr(record.features["values"], kind)
        tensor.values.extend(values)
        if keys is not None:
            tensor.keys.extend(keys[i])
            tensor.shape.append(width)
        if labels is not None:
            getattr(record.label["values"], label_kind).values.append(labels[i])
        out += write_record(record.SerializeToString())
    return bytes(out)


def write_record(payload: bytes) -> bytes:
    """One payload in RecordIO framing."""
    return _HEADER.pack(MAGIC, len(payload)) + payload + b"\x00" * _padding(len(payload))
