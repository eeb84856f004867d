"""One number grammar for every CSV parser: a body decodes the same at 4 KB and at 4 MB.

Small bodies are read by orjson or in Python, bodies of 64 KiB and more by Arrow; the
property tests generate bodies and hold every path to the same batch.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from serving import codecs
from serving.codecs.csv import ARROW_MIN_BYTES
from serving.codecs.mediatype import MediaType
from serving.errors import BadRequest

CSV = MediaType.parse("text/csv")

NUMBERS = ["0", "12", "-1.5", "+2", ".5", "5.", "1e5", "1E-3", "+.25e+2", "007", "inf", "-Infinity", "INF",
           "+inf", "nan", "NaN", "-nan", "-NaN", "123456789012345678901234567890", "1e999", "-0"]
NOT_NUMBERS = ["0x10", "1_000", "NAN", "+nan", "Nan", "١٢", "NA", "null", "1e", "e5", "--1", "1.2.3", "0b1", "true",
               "M", "F", "abc", "a b", "Ünïcode"]
BLANKS = ["", " ", "\t", "  "]


def decode(text: str):
    return codecs.decode(text.encode(), CSV)


def outcome(text: str):
    """The batch, or the 4xx it raises (its class: messages may name different rows)."""
    try:
        return decode(text)
    except BadRequest as exc:
        return type(exc)


def same(a, b, copies: int) -> bool:
    """``b`` is ``copies`` times ``a``: same kind of batch, types and values (NaN = NaN)."""
    if isinstance(a, type) or isinstance(b, type):
        return a is b
    if type(a) is not type(b) or len(b) != copies * len(a):
        return False
    rows = len(a)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b[:rows], equal_nan=True)
    b = b.iloc[:rows]
    if list(a.columns) != list(b.columns) or list(a.dtypes) != list(b.dtypes):
        return False
    return all(pd.Series(a[c]).equals(pd.Series(b[c].to_numpy())) for c in a.columns)


def copies(text: str) -> int:
    return ARROW_MIN_BYTES // max(len(text), 1) + 1


def large(text: str) -> str:
    body = text * copies(text)
    assert len(body) >= ARROW_MIN_BYTES
    return body


@st.composite
def csv_bodies(draw):
    width = draw(st.integers(1, 4))
    height = draw(st.integers(1, 5))
    kinds = [draw(st.sampled_from(["numbers", "mixed", "text"])) for _ in range(width)]
    pools = {"numbers": NUMBERS + BLANKS, "mixed": NUMBERS + NOT_NUMBERS + BLANKS, "text": NOT_NUMBERS + BLANKS}
    rows = []
    for _ in range(height):
        fields = []
        for kind in kinds:
            value = draw(st.sampled_from(pools[kind]))
            pad = draw(st.sampled_from(["", " ", "\t"]))
            if draw(st.integers(0, 4)) == 0:
                value = '"' + draw(st.sampled_from([value, value + ",x", 'say ""hi""', "two\nlines"])) + '"'
            fields.append(pad + value + draw(st.sampled_from(["", " "])))
        rows.append(",".join(fields))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    gap = draw(st.sampled_from(["", end]))  # an empty line between rows
    return (end + gap).join(rows) + end, height


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_bodies())
@example(("0x10,1\n", 1))
@example(("1_000,1\n", 1))
@example(("NAN,1\r", 1))
def test_small_and_large_bodies_decode_alike(body_and_rows):
    body, _ = body_and_rows
    small = outcome(body)
    big = outcome(large(body))
    assert same(small, big, copies(body)), (body, small, big)


@settings(max_examples=300, deadline=None)
@given(csv_bodies(), st.sampled_from(["text/csv", "application/json"]))
@example(("M,1e400,0x10,\n", 1), "text/csv")
def test_one_row_is_typed_as_the_same_row_among_others(body_and_rows, media):
    """A body of one row is typed value by value (its own path, for speed); the same row
    twice goes the general way: the same types and values, and the row's Python values."""
    body, height = body_and_rows
    if height != 1:
        return
    row = outcome(body)
    if isinstance(row, type) or len(row) != 1:  # refused, or more rows than generated ('\t"a\nb"' is two)
        return
    fields = row.iloc[0].tolist() if isinstance(row, pd.DataFrame) else row[0].tolist()
    if media == "application/json":  # the same values as JSON: strings stay strings, numbers numbers
        if any(isinstance(v, float) and v in (float("inf"), float("-inf")) for v in fields):
            return  # JSON has no infinity
        body = json.dumps([[None if isinstance(v, float) and v != v else v for v in fields]])
        twice = json.dumps([json.loads(body)[0]] * 2)
    else:
        twice = body + body
    kind = MediaType.parse(media)
    one = codecs.REGISTRY[media].decode(body, frame=False)
    two = codecs.REGISTRY[media].decode(twice, frame=False)
    if isinstance(two, np.ndarray):
        assert isinstance(one, np.ndarray) and one.dtype == two.dtype
        np.testing.assert_array_equal(one[0], two[0])
        return
    assert [c.dtype for c in one] == [c.dtype for c in two]
    assert all(pd.Series(a).equals(pd.Series(b[:1])) for a, b in zip(one, two))
    values = [c.tolist()[0] for c in two]  # the general path's first row, as Python values
    assert [type(v) for v in one.row] == [type(v) for v in values]
    assert all(a == b or (a != a and b != b) for a, b in zip(one.row, values)), (one.row, values)
    assert codecs.decode(body.encode(), kind).equals(two.frame().iloc[:1])


@pytest.mark.parametrize("value", ["0x10", "1_000", "NAN", "١٢"])
@pytest.mark.parametrize("size", ["small", "large"])
def test_values_outside_the_grammar_are_text_at_any_size(value, size):
    body = f"{value},1\n"
    batch = decode(body if size == "small" else large(body))
    assert batch[0].iloc[0] == value and batch[1].iloc[0] == 1.0


@pytest.mark.parametrize("size", ["small", "large"])
def test_spellings_of_infinity_and_nan_are_numbers_at_any_size(size):
    body = "inf,-Infinity,INF,nan,-NaN,1e5,.5,\n"
    batch = decode(body if size == "small" else large(body))
    assert isinstance(batch, np.ndarray)
    np.testing.assert_array_equal(batch[0], [np.inf, -np.inf, np.inf, np.nan, np.nan, 1e5, 0.5, np.nan])


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_every_line_ending_ends_a_row_at_any_size(end):
    rows = ["M,1.5", "F,2.5"]
    body = end.join(rows) + end
    assert decode(body).shape == (2, 2)
    assert decode(large(body)).shape == (len(large(body).split(end)) - 1, 2)


def test_blank_lines_are_not_rows_at_any_size():
    body = "1,2\n  \n\t\n3,4\n"
    np.testing.assert_array_equal(decode(body), [[1, 2], [3, 4]])
    assert decode(large(body)).shape == (2 * (ARROW_MIN_BYTES // len(body) + 1), 2)


@pytest.mark.parametrize("gap", ["", "\n  \n"], ids=["arrow", "python"])
def test_a_field_over_the_csv_modules_limit_is_read_at_any_size(gap):
    """The csv module refuses fields over 128 KiB by default (a 500 before); either parser reads it."""
    field = "x" * 200_000
    batch = decode(f'"{field}",1{gap}\n"b",2\n')
    assert batch[0].tolist() == [field, "b"] and batch[1].tolist() == [1.0, 2.0]
