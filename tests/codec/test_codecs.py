import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from serving import codecs
from serving.codecs import MediaType
from serving.errors import BadRequest, NotAcceptable, UnsupportedMediaType

CSV = MediaType.parse("text/csv")
JSON = MediaType.parse("application/json")
JSONL = MediaType.parse("application/jsonlines")
NPY = MediaType.parse("application/x-npy")


def decode(body, ct):
    return codecs.decode(body.encode() if isinstance(body, str) else body, MediaType.parse(ct))


# -- CSV -----------------------------------------------------------------------------------
def test_csv_many_rows():
    out = decode("1,2,3\n4,5,6\n", "text/csv")
    np.testing.assert_array_equal(out, [[1, 2, 3], [4, 5, 6]])
    assert out.dtype == np.float64


def test_csv_one_row_stays_a_batch_of_one():
    assert decode("1,2,3", "text/csv").shape == (1, 3)
    assert decode("1,2,3\n", "text/csv").shape == (1, 3)


def test_csv_one_value_per_line_is_a_column():
    assert decode("1\n2\n3\n", "text/csv").shape == (3, 1)


def test_csv_strings_make_typed_columns():
    out = decode("M, 0.455, 0.365\nF,0.53,0.42\n", "text/csv")
    assert isinstance(out, pd.DataFrame)
    assert out[0].tolist() == ["M", "F"]
    assert out[1].tolist() == [0.455, 0.53]
    assert out[1].dtype == np.float64


def test_csv_quoted_fields_keep_commas():
    out = decode('"Smith, J",1\n"O""Brien",2\n', "text/csv")
    assert out[0].tolist() == ["Smith, J", 'O"Brien']


def test_csv_empty_field_is_missing():
    out = decode("1,,3\n", "text/csv")
    assert np.isnan(out[0, 1])


def test_csv_crlf_lines():
    np.testing.assert_array_equal(decode("1,2\r\n3,4\r\n", "text/csv"), [[1, 2], [3, 4]])


def test_csv_ragged_rows_name_the_row():
    with pytest.raises(BadRequest) as err:
        decode("1,2,3\n4,5\n", "text/csv")
    assert str(err.value) == (
        "row 2 of the CSV body has 2 values, row 1 has 3: every row needs the same number of columns"
    )


def test_csv_empty_body():
    with pytest.raises(BadRequest, match="holds no rows"):
        decode("\n\n", "text/csv")


def test_csv_charset_parameter_is_honoured():
    out = codecs.decode("é,1\n".encode("latin-1"), MediaType.parse("text/csv; charset=latin-1"))
    assert out[0].tolist() == ["é"]


def test_csv_invalid_utf8_is_a_bad_request():
    with pytest.raises(BadRequest, match="not valid utf-8 text"):
        codecs.decode(b"\xff\xfe,1", CSV)


def test_csv_encode_rows_and_columns():
    assert codecs.encode(np.array([[1.5, 2.0], [3.0, 4.0]]), CSV) == b"1.5,2.0\n3.0,4.0\n"
    assert codecs.encode(np.array([1.5, 2.0]), CSV) == b"1.5\n2.0\n"
    assert codecs.encode(np.array([["a,b", "c"]], dtype=object), CSV) == b'"a,b",c\n'


# -- JSON ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        "[[1, 2], [3, 4]]",
        '{"instances": [[1, 2], [3, 4]]}',
        '{"instances": [{"features": [1, 2]}, {"features": [3, 4]}]}',
    ],
)
def test_json_row_shapes(body):
    np.testing.assert_array_equal(decode(body, "application/json"), [[1, 2], [3, 4]])


def test_json_flat_list_is_one_row():
    assert decode("[1, 2, 3]", "application/json").shape == (1, 3)
    assert decode('{"features": [1, 2, 3]}', "application/json").shape == (1, 3)


def test_json_records_keep_column_names():
    out = decode('[{"sex": "M", "length": 0.4}, {"sex": "F", "length": 0.5}]', "application/json")
    assert list(out.columns) == ["sex", "length"]
    assert out["length"].tolist() == [0.4, 0.5]


def test_json_single_record():
    out = decode('{"sex": "M", "length": 0.4}', "application/json")
    assert out.shape == (1, 2)


def test_json_invalid_says_where():
    with pytest.raises(BadRequest, match=r"not valid JSON: unexpected character, expected a JSON value: line 1 column 2"):
        decode("[x]", "application/json")


def test_json_nested_rows_refused():
    with pytest.raises(BadRequest, match="row 1 of the JSON body holds nested values"):
        decode("[[[1], 2]]", "application/json")


def test_json_encode_nan_as_null():
    assert codecs.encode(np.array([1.0, np.nan]), JSON) == b"[1.0, null]"


# -- JSON Lines ----------------------------------------------------------------------------
def test_jsonlines_rows_records_features():
    np.testing.assert_array_equal(decode("[1,2]\n[3,4]\n", "application/jsonlines"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(decode('{"features":[1,2]}\n{"features":[3,4]}', "application/jsonlines"), [[1, 2], [3, 4]])
    assert list(decode('{"a":1}\n{"a":2}\n', "application/jsonlines")["a"]) == [1.0, 2.0]


def test_jsonlines_bad_line_is_named():
    with pytest.raises(BadRequest, match=r"JSON Lines \(line 2\) body is not valid JSON"):
        decode("[1,2]\n[3,\n", "application/jsonlines")


# -- NPY -----------------------------------------------------------------------------------
def test_npy_never_unpickles():
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(BadRequest, match="pickle"):
        codecs.decode(buf.getvalue(), NPY)


def test_npy_garbage():
    with pytest.raises(BadRequest, match="not a .npy array"):
        codecs.decode(b"not numpy", NPY)


def _saved(arr):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


@pytest.mark.filterwarnings("ignore:Stored array in format 2.0")
@pytest.mark.parametrize("arr", [
    np.arange(12.0).reshape(4, 3),
    np.arange(12.0).reshape(4, 3).T,  # Fortran order: np.save writes it so
    np.arange(24.0).reshape(6, 4)[::2, 1:3],  # strided: written in C order
    np.array(3.5), np.zeros((0, 3)), np.arange(5, dtype=np.int32), np.ones((2, 2), np.float32),
    np.array(["a", "bc"]), np.array([True, False]), np.array([1 + 2j]),
    np.zeros(2, dtype=[("x", "<f8"), ("y", "<i4")]),
    np.zeros(2, dtype=[(f"field_{i:05d}", "<f8") for i in range(4000)]),  # a header over 64 KiB: format 2.0
], ids=lambda a: f"{a.dtype.str}{a.shape}")
def test_npy_encode_writes_what_numpy_save_writes(arr):
    body = codecs.encode(arr, NPY)
    assert type(body) is bytes and body == _saved(arr)
    assert np.array_equal(np.load(io.BytesIO(body), max_header_size=1 << 20), arr)


def test_npy_encode_writes_object_arrays_as_strings():
    assert codecs.encode(np.array([1, "x"], dtype=object), NPY) == _saved(np.array(["1", "x"]))


def test_unknown_types():
    with pytest.raises(UnsupportedMediaType, match="send one of: text/csv, application/json"):
        codecs.decode(b"x", MediaType.parse("application/xml"))
    with pytest.raises(NotAcceptable):
        codecs.encode([1], MediaType.parse("application/xml"))


# -- round trips (property tests) ----------------------------------------------------------
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
matrices = arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 5)), elements=finite)


@settings(max_examples=150, deadline=None)
@given(matrices, st.sampled_from([CSV, JSON, JSONL, NPY]))
def test_numeric_batches_round_trip(batch, media_type):
    back = codecs.decode(codecs.encode(batch, media_type), media_type)
    assert back.shape == batch.shape
    np.testing.assert_array_equal(back, batch)


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1).filter(
    lambda s: s.strip() == s and not _numeric(s)
)


def _numeric(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(texts, finite), min_size=1, max_size=5), st.sampled_from([CSV, JSON, JSONL]))
def test_mixed_rows_round_trip(rows, media_type):
    batch = np.array(rows, dtype=object)
    back = codecs.decode(codecs.encode(batch, media_type), media_type)
    assert back[0].tolist() == [r[0] for r in rows]
    assert back[1].tolist() == [r[1] for r in rows]


def test_csv_numbers_that_json_would_misread_take_the_general_parser():
    np.testing.assert_array_equal(decode(".5,01,+2\n", "text/csv"), [[0.5, 1.0, 2.0]])
    assert decode("true,1\n", "text/csv")[0].tolist() == ["true"]
    assert np.isnan(decode("nan,1\n", "text/csv")[0, 0])
    np.testing.assert_array_equal(decode("1],[2\n", "text/csv")[0].tolist(), ["1]"])


def test_non_finite_values_in_every_text_type():
    arr = np.array([[1.0, np.nan, np.inf]])
    assert codecs.encode(arr, CSV) == b"1.0,nan,inf\n"
    assert codecs.encode(arr, JSON) == b"[[1.0, null, null]]"
    assert codecs.encode(arr, JSONL) == b"[1.0, null, null]\n"


def test_integer_and_float32_predictions():
    assert codecs.encode(np.array([1, 2], dtype=np.int64), CSV) == b"1\n2\n"
    assert codecs.encode(np.array([0.1], dtype=np.float32), JSON) == b"[0.10000000149011612]"  # as tolist() widens it
    assert codecs.encode(np.array([0.1], dtype=np.float32), CSV) == b"0.1\n"  # as numpy prints it
    assert codecs.encode(np.zeros((0, 3)), CSV) == b""


def test_large_mixed_csv_reads_the_same_as_small_pieces():
    """Above csv.ARROW_MIN_BYTES another parser reads the body: the batch must not change."""
    from serving.codecs.csv import ARROW_MIN_BYTES

    rows = ['M, 0.455,"a, b",', 'F,0.53,c, 1e3', 'I, ,"d""e",-2']
    body = "\n".join(rows * (ARROW_MIN_BYTES // 40 + 1)) + "\n"
    assert len(body) > ARROW_MIN_BYTES
    big = decode(body, "text/csv")
    small = decode("\n".join(rows) + "\n", "text/csv")
    assert big.shape == (len(rows) * (ARROW_MIN_BYTES // 40 + 1), 4)
    for col in range(4):
        expected = small[col].tolist() * (ARROW_MIN_BYTES // 40 + 1)
        got = big[col].tolist()
        assert [str(v) for v in got] == [str(v) for v in expected]
    assert big[1].dtype == np.float64 and big[3].dtype == np.float64


def test_large_ragged_csv_names_the_row():
    from serving.codecs.csv import ARROW_MIN_BYTES

    body = "M,1,2\n" * (ARROW_MIN_BYTES // 6 + 1) + "F,1\n"
    with pytest.raises(BadRequest, match=r"has 2 values, row 1 has 3"):
        decode(body, "text/csv")


def test_json_predictions_of_a_builtin_algorithm_are_records():
    out = decode('{"predictions": [{"score": 9.5}, {"score": 3}]}', "application/json")
    assert out["score"].tolist() == [9.5, 3.0]


def test_json_object_of_lists_is_a_bad_request_not_a_crash():
    with pytest.raises(BadRequest, match="values are lists or objects is not a record"):
        decode('{"a": [1, 2], "b": [3, 4]}', "application/json")
