"""application/x-recordio-protobuf against the SageMaker SDK's own writers and readers.

Bytes written by ``sagemaker.amazon.common`` are read by our codec, and bytes our codec
writes are read by the SDK (and are the very bytes the SDK writes for the same array).
"""

from __future__ import annotations

import io
import os
import struct

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sagemaker.amazon.common import read_records, write_numpy_to_dense_tensor, write_spmatrix_to_sparse_tensor
from sagemaker.amazon.record_pb2 import Record as SdkRecord

from serving import codecs
from serving.codecs import MediaType
from serving.errors import BadRequest, NotAcceptable

RECORDIO = MediaType.parse("application/x-recordio-protobuf")


def sdk_dense(array, labels=None) -> bytes:
    buf = io.BytesIO()
    write_numpy_to_dense_tensor(buf, array, labels)
    return buf.getvalue()


def sdk_sparse(matrix, labels=None) -> bytes:
    buf = io.BytesIO()
    write_spmatrix_to_sparse_tensor(buf, matrix, labels)
    return buf.getvalue()


def decode(body: bytes):
    return codecs.decode(body, RECORDIO)


def encode(data) -> bytes:
    return codecs.encode(data, RECORDIO)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_dense_sdk_bytes_are_read_and_ours_are_the_sdks(dtype):
    array = (np.arange(15).reshape(5, 3) * 1.25).astype(dtype)
    body = sdk_dense(array)
    out = decode(body)
    np.testing.assert_array_equal(out, array)
    assert out.dtype == {np.float32: np.float32, np.float64: np.float64, np.int64: np.int32}[dtype]
    assert encode(array.astype(np.int32) if dtype == np.int64 else array) == body


def test_what_we_write_the_sdk_reads():
    array = np.array([[0.5, -1.0, 3.25], [1e-3, 7.0, 0.0]], dtype=np.float32)
    records = read_records(io.BytesIO(encode(array)))
    assert len(records) == 2
    assert [list(r.features["values"].float32_tensor.values) for r in records] == array.tolist()
    assert all(not r.label for r in records)


def test_labels_are_not_features():
    body = sdk_dense(np.ones((3, 2)), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(decode(body), np.ones((3, 2)))


def test_sparse_sdk_bytes_are_read_as_csr_and_written_back_identically():
    matrix = sp.csr_matrix(np.array([[0, 1.5, 0, 0], [0, 0, 0, 0], [2.0, 0, 0, -3.0]], dtype=np.float32))
    body = sdk_sparse(matrix)
    out = decode(body)
    assert sp.issparse(out) and out.shape == (3, 4)
    np.testing.assert_array_equal(out.toarray(), matrix.toarray())
    assert encode(matrix) == body


def test_a_1d_prediction_is_one_record_per_row():
    records = read_records(io.BytesIO(encode(np.array([0.25, 0.75]))))
    assert [list(r.features["values"].float64_tensor.values) for r in records] == [[0.25], [0.75]]


def test_text_cannot_be_written():
    with pytest.raises(NotAcceptable, match="holds text, which application/x-recordio-protobuf cannot carry"):
        encode(np.array([["a", "b"]], dtype=object))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([np.float32, np.float64, np.int32]), st.integers(1, 20), st.integers(1, 12), st.data())
def test_dense_round_trips_with_the_sdk(dtype, rows, cols, data):
    elements = (st.integers(-2**31, 2**31 - 1) if dtype == np.int32
                else st.floats(width=32 if dtype == np.float32 else 64, allow_nan=False))
    array = data.draw(arrays(dtype, (rows, cols), elements=elements))
    sdk_dtype = int if dtype == np.int32 else dtype
    body = sdk_dense(array.astype(sdk_dtype))
    np.testing.assert_array_equal(decode(body), array)
    assert encode(array) == body
    back = read_records(io.BytesIO(encode(array)))
    kind = {np.float32: "float32_tensor", np.float64: "float64_tensor", np.int32: "int32_tensor"}[dtype]
    np.testing.assert_array_equal(
        np.array([list(getattr(r.features["values"], kind).values) for r in back], dtype=dtype), array)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([np.float32, np.float64]), st.integers(1, 15), st.integers(1, 30),
       st.floats(0, 1), st.integers(0, 2**32 - 1))
def test_sparse_round_trips_with_the_sdk(dtype, rows, cols, density, seed):
    matrix = sp.random(rows, cols, density=density, format="csr", dtype=dtype, random_state=seed)
    body = sdk_sparse(matrix)
    out = decode(body)
    np.testing.assert_array_equal(out.toarray() if sp.issparse(out) else out, matrix.toarray())
    assert encode(matrix) == body


def test_mixed_dense_and_sparse_records():
    dense = sdk_dense(np.array([[1.0, 0.0, 2.0]], dtype=np.float32))
    sparse = sdk_sparse(sp.csr_matrix(np.array([[0.0, 5.0, 0.0]], dtype=np.float32)))
    out = decode(dense + sparse)
    np.testing.assert_array_equal(out.toarray(), [[1, 0, 2], [0, 5, 0]])


# -- what a client gets wrong ------------------------------------------------------------
def bad(body: bytes) -> str:
    with pytest.raises(BadRequest) as info:
        decode(body)
    return str(info.value)


def test_empty_body():
    assert bad(b"") == "the application/x-recordio-protobuf body holds no records"


def test_truncated_record():
    body = sdk_dense(np.ones((2, 3), dtype=np.float32))
    assert bad(body[:-7]) == "RecordIO record 2 at byte 36 is truncated: it declares 28 bytes, 21 follow"
    assert bad(body[:40]) == "RecordIO record 2 at byte 36 is truncated: 4 bytes left, a record header needs 8 (magic 0xced7230a, then the length)"


def test_not_recordio():
    assert bad(b"1,2,3\n4,5,6\n") == (
        "RecordIO record 1 at byte 0 does not start with the magic number 0xced7230a (found 0x2c322c31); "
        "is the body application/x-recordio-protobuf?")


def test_payload_that_is_not_a_record():
    payload = b"\xff\xff\xff\xff"
    body = struct.pack("<II", 0xCED7230A, len(payload)) + payload
    assert bad(body).startswith("RecordIO record 1 (bytes 8-12) is not a SageMaker Record protobuf: ")


def test_record_of_bytes():
    record = SdkRecord()
    record.features["values"].bytes.value.append(b"hello")
    payload = record.SerializeToString()
    body = struct.pack("<II", 0xCED7230A, len(payload)) + payload + b"\0" * (-len(payload) % 4)
    assert bad(body) == "RecordIO record 1 holds bytes features; a float32, float64 or int32 tensor is needed"


def test_records_of_different_widths():
    body = sdk_dense(np.ones((1, 3))) + sdk_dense(np.ones((1, 2)))
    assert bad(body) == "RecordIO record 2 has 2 columns, record 1 has 3: every record needs the same number of columns"


def test_sparse_key_beyond_shape():
    record = SdkRecord()
    tensor = record.features["values"].float32_tensor
    tensor.values.extend([1.0])
    tensor.keys.extend([9])
    tensor.shape.extend([4])
    payload = record.SerializeToString()
    body = struct.pack("<II", 0xCED7230A, len(payload)) + payload + b"\0" * (-len(payload) % 4)
    assert bad(body) == "RecordIO record 1 has key 9 beyond its shape [4]"


@pytest.mark.parametrize("array, labels", [
    (np.arange(12, dtype=np.float64).reshape(3, 4) / 7, None),
    (np.arange(12, dtype=np.float32).reshape(3, 4), np.array([1.0, 0.0, 1.0])),
    (np.arange(6).reshape(2, 3), np.array([4, 5])),
])
def test_sagemaker_containers_array_to_recordio_protobuf_writes_the_sdks_bytes(array, labels):
    from serving.compat.sagemaker_containers.beta.framework.encoders import array_to_recordio_protobuf

    assert array_to_recordio_protobuf(array, labels) == sdk_dense(array, labels)
