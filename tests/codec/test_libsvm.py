"""text/libsvm: read as the SageMaker XGBoost container reads it, written so that it reads back."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.datasets import load_svmlight_file

from serving import codecs
from serving.codecs import MediaType
from serving.errors import BadRequest

LIBSVM = MediaType.parse("text/libsvm")


def decode(text: str):
    return codecs.decode(text.encode(), LIBSVM)


def test_one_based_indices_with_labels():
    out = decode("1 1:0.5 3:2\n0 2:-1.25\n")
    assert sp.issparse(out) and out.shape == (2, 3)
    np.testing.assert_array_equal(out.toarray(), [[0.5, 0, 2], [0, -1.25, 0]])


def test_zero_based_when_index_zero_appears():
    out = decode("0:1 2:3\n1:4\n")
    np.testing.assert_array_equal(out.toarray(), [[1, 0, 3], [0, 4, 0]])


def test_same_rows_in_either_base_and_without_labels():
    one = decode("1 1:0.1 2:0.2 3:0.3 4:0.4")
    zero = decode("1 0:0.1 1:0.2 2:0.3 3:0.4")
    bare = decode("1:0.1 2:0.2 3:0.3 4:0.4")
    np.testing.assert_array_equal(one.toarray(), zero.toarray())
    np.testing.assert_array_equal(one.toarray(), bare.toarray())


def test_absent_is_not_stored_and_a_zero_is():
    out = decode("1 1:0 3:1\n")
    assert out.nnz == 2  # index 1 holds a stored zero (a value to XGBoost), index 2 is absent (missing)


def test_tabs_and_blank_lines():
    np.testing.assert_array_equal(decode("1\t1:1\t2:2\n\n\n0 2:5\n").toarray(), [[1, 2], [0, 5]])


def test_a_line_with_only_a_label_is_an_empty_row():
    assert decode("1 1:2\n0\n").shape == (2, 1)


@pytest.mark.parametrize("body, message", [
    ("1 1:abc\n", "line 1 of the text/libsvm body has the token '1:abc', whose value 'abc' is not a number"),
    ("1 1:1\n1 x:2\n", "line 2 of the text/libsvm body has the token 'x:2', whose index 'x' is not a whole number; write index:value, e.g. 3:0.25"),
    ("1 -1:2\n", "line 1 of the text/libsvm body has the token '-1:2', whose index '-1' is not a whole number; write index:value, e.g. 3:0.25"),
    ("1 2:1 2:3\n", "line 1 of the text/libsvm body names index 2 twice"),
    ("1 1:0x10\n", "line 1 of the text/libsvm body has the token '1:0x10', whose value '0x10' is not a number"),
    ("\n \n", "the text/libsvm body holds no rows"),
    ("1\n0\n", "the text/libsvm body holds no index:value features"),
])
def test_bad_bodies(body, message):
    with pytest.raises(BadRequest) as info:
        decode(body)
    assert str(info.value) == message


def test_writing_dense_keeps_zeros_and_drops_nan():
    body = codecs.encode(np.array([[0.5, 0.0, np.nan], [1.0, 2.0, 3.0]]), LIBSVM)
    assert body == b"0 1:0.5 2:0.0\n0 1:1.0 2:2.0 3:3.0\n"


def test_writing_sparse_writes_stored_entries():
    matrix = sp.csr_matrix(np.array([[0, 1.5, 0], [2.0, 0, 0]]))
    assert codecs.encode(matrix, LIBSVM) == b"0 2:1.5\n0 1:2.0\n"


def test_what_we_write_scikit_learn_reads(tmp_path):
    array = np.array([[0.25, 1.0, 7.5], [3.0, 0.5, 1e-3]])
    path = tmp_path / "rows.libsvm"
    path.write_bytes(codecs.encode(array, LIBSVM))
    features, labels = load_svmlight_file(str(path), n_features=3)
    np.testing.assert_array_equal(features.toarray(), array)
    np.testing.assert_array_equal(labels, [0, 0])


@settings(max_examples=80, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 10)),
              elements=st.floats(allow_nan=False, allow_infinity=False, width=64)))
def test_dense_round_trip(array):
    back = decode(codecs.encode(array, LIBSVM).decode())
    np.testing.assert_array_equal(back.toarray(), array)
