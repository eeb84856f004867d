"""Turning rows of parsed values into one columnar batch, and a batch back into rows.

Every text codec ends the same way: a list of rows (or of records) becomes a 2-D ``float64``
array when every value is numeric, and a DataFrame with typed columns otherwise. Output goes
the other way. Keeping this in one place is what makes CSV, JSON and JSON Lines agree on
shapes: a single row is a batch of one, a 1-D prediction is one value per row.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Sequence

import numpy as np
import orjson
import pandas as pd

from ..errors import BadRequest, NotAcceptable
from .numbers import is_number, to_float, to_floats

try:
    import scipy.sparse as _sparse
except ImportError:  # pragma: no cover - scipy comes with scikit-learn
    _sparse = None


class ColumnBatch(list):
    """Typed columns of equal length, positional, not yet a DataFrame: what a compiled model
    reads directly (building the frame costs more than a compiled featurizer's whole work)."""

    #: a one-row batch's values as Python scalars (float, or the text), set by the decoder
    #: that typed them: what a compiled model's one-row path reads (see rows_to_batch)
    row: list | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self[0]) if self else 0, len(self))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(dict(enumerate(self)))


def rows_to_batch(rows: Sequence[Sequence[Any]], what: str, plain: bool = False,
                  frame: bool = True) -> np.ndarray | pd.DataFrame | ColumnBatch:
    """Rows of equal length -> float array, or a DataFrame with positional columns if mixed.

    Values are numbers by :mod:`serving.codecs.numbers`' grammar; ``plain``: the body they
    came from holds nothing that needs checking against it.
    """
    if not rows:
        raise BadRequest(f"the {what} body holds no rows")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise BadRequest(
                f"row {i + 1} of the {what} body has {len(row)} values, row 1 has {width}: "
                "every row needs the same number of columns"
            )
    if width == 0:
        raise BadRequest(f"the {what} body holds empty rows")
    if len(rows) == 1 and width <= WIDE:
        batch = one_row_batch(rows[0], plain, frame)
        if batch is not None:
            return batch
    if plain:
        try:
            return np.array(rows, dtype=np.float64)
        except (ValueError, TypeError):
            pass
    if width > WIDE:
        return wide_batch(rows, plain)
    return columns_to_batch([typed_column(col, plain) for col in zip(*rows)], frame)


def one_row_batch(row: Sequence[Any], plain: bool, frame: bool) -> np.ndarray | pd.DataFrame | ColumnBatch | None:
    """One row typed value by value, as :func:`typed_column` types a column of one value, in a
    tenth of the time (no NumPy conversion tried and failed per column); None for a value this
    path does not take (a bool, a list, an int too large for a float), which the general path then does."""
    values, numeric = [], []
    for v in row:
        kind = type(v)
        if v is None:
            number = math.nan
        elif kind is str:
            number = to_float(v, plain)
        elif kind is float:
            number = v
        elif kind is int:
            try:
                number = float(v)
            except OverflowError:
                return None
        else:
            return None
        values.append(v if number is None else number)
        numeric.append(number is not None)
    if all(numeric):
        return np.array([values], dtype=np.float64)
    # the numbers in one array, each column a slice of it: a third of the cost of an array each
    floats = np.array([v for v, n in zip(values, numeric) if n], dtype=np.float64)
    columns, at = [], 0
    for v, n in zip(values, numeric):
        if n:
            columns.append(floats[at:at + 1])
            at += 1
        else:
            columns.append(np.array([v], dtype=object))
    batch = ColumnBatch(columns)
    if frame:
        return batch.frame()
    batch.row = values
    return batch


# Above this many columns a batch is typed as one matrix, not column by column: pandas builds
# a frame of many columns one column at a time (40,000 took 8 s), a matrix in one block.
WIDE = 512


def wide_batch(rows: Sequence[Sequence[Any]], plain: bool) -> np.ndarray | pd.DataFrame:
    """Many columns, typed at once by the same grammar; text columns stay ``object`` (pandas
    would infer a string dtype column by column, which is what takes the time)."""
    cells = np.empty((len(rows), len(rows[0])), dtype=object)
    cells[:] = rows
    flat = cells.ravel()
    floats = pd.to_numeric(pd.Series(flat, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    missing = pd.isna(flat) | (flat == "")
    text = np.isnan(floats) & ~missing & ~pd.Series(flat, dtype=object).isin(NAN_SPELLINGS).to_numpy()
    if not plain:  # what pandas reads as a number and the grammar does not (other scripts' digits, ...)
        parsed = ~np.isnan(floats)
        text[parsed] |= _not_grammar(flat[parsed]).astype(bool)
    floats = floats.reshape(cells.shape)
    textual = text.reshape(cells.shape).any(axis=0)
    if not textual.any():
        return floats
    numeric_at, text_at = np.flatnonzero(~textual), np.flatnonzero(textual)
    strings = cells[:, text_at]
    strings[pd.isna(strings)] = np.nan
    frame = pd.concat([pd.DataFrame(floats[:, numeric_at], columns=numeric_at),
                       pd.DataFrame(strings, columns=text_at, dtype=object)], axis=1)
    return frame.reindex(columns=range(cells.shape[1]))


NAN_SPELLINGS = ("nan", "NaN", "-nan", "-NaN")
_not_grammar = np.frompyfunc(lambda v: isinstance(v, str) and not is_number(v.strip(" \t")), 1, 1)


def columns_to_batch(columns: list[np.ndarray], frame: bool = True) -> np.ndarray | pd.DataFrame | ColumnBatch:
    """Typed columns -> a float array if all are numbers, else a DataFrame with positional
    names (``frame=False``: the columns as a :class:`ColumnBatch`)."""
    if all(col.dtype == np.float64 for col in columns):  # numbers with some missing values
        return np.column_stack(columns)
    batch = ColumnBatch(columns)
    return batch.frame() if frame else batch


def records_to_batch(records: Sequence[dict], what: str) -> pd.DataFrame:
    """Records (``{"col": value}``) -> DataFrame; column order from the first record."""
    names: dict[str, None] = {}
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise BadRequest(
                f"item {i + 1} of the {what} body is a {type(rec).__name__}, but item 1 is a "
                "record: send all rows as lists or all as {\"column\": value} records"
            )
        for k, v in rec.items():
            if isinstance(v, (list, dict)):
                raise BadRequest(f"record {i + 1} of the {what} body has a {'list' if isinstance(v, list) else 'object'} "
                                 f"for column {k!r}; a record's values must be numbers, strings or null")
            names.setdefault(k, None)
    if len(names) > WIDE:
        batch = wide_batch([[rec.get(name) for name in names] for rec in records], False)
        if isinstance(batch, np.ndarray):
            return pd.DataFrame(batch, columns=list(names))
        return batch.set_axis(list(names), axis=1)
    return pd.DataFrame(
        {name: typed_column([rec.get(name) for rec in records]) for name in names}
    )


def typed_column(values: Sequence[Any], plain: bool = False) -> np.ndarray:
    """Numeric when every non-missing value is a number (strings that pass the grammar count), else str."""
    numbers = to_floats(values, checked=plain)
    if numbers is not None:
        return numbers
    return np.array([np.nan if v is None else v for v in values], dtype=object)


def numeric_array(data: Any, media_type: str) -> np.ndarray:
    """A dense prediction of at most two dimensions as numbers (text that reads as numbers
    becomes float64), for the formats that carry only numbers; else a 406 naming others."""
    if isinstance(data, pd.DataFrame):
        if not {dtype.kind for dtype in data.dtypes} <= set("fiub"):
            raise _holds_text(media_type)
        data = data.to_numpy()
    arr = np.asarray(data)
    if arr.dtype.kind in "OUS":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise _holds_text(media_type) from None
    if arr.dtype.kind not in "fiub" or arr.ndim > 2:
        raise NotAcceptable(f"a {arr.ndim}-D {arr.dtype} prediction cannot be written as {media_type} "
                            "(rows of numbers); ask for application/json")
    return arr


def _holds_text(media_type: str) -> NotAcceptable:
    return NotAcceptable(f"the prediction holds text, which {media_type} cannot carry; ask for text/csv or "
                         "application/json")


def to_array(data: Any) -> np.ndarray:
    """Normalise a prediction into an ndarray (1-D: one value per row; 2-D: rows)."""
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, (pd.DataFrame, pd.Series)):
        return data.to_numpy()
    if _sparse is not None and _sparse.issparse(data):
        return data.toarray()
    if np.isscalar(data):
        return np.array([data])
    return np.asarray(data)


def python_rows(data: Any) -> list:
    """A prediction as nested Python lists, NaN and infinities as ``None`` (JSON has neither)."""
    arr = to_array(data)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        arr = arr.astype(object)
        arr[~np.isfinite(arr.astype(np.float64))] = None
    elif arr.dtype == object:
        arr = arr.copy()
        flat = arr.reshape(-1)
        for i, value in enumerate(flat):
            if isinstance(value, float) and not np.isfinite(value):
                flat[i] = None
    return arr.tolist()


def dumps(value: Any) -> bytes:
    """JSON as Python's ``json.dumps`` writes it (what the AWS containers send), NumPy values included."""
    return json.dumps(value, default=_plain_value).encode()


def _plain_value(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# orjson writes a numeric ndarray straight from its buffer with shortest round-trip floats,
# about 25 times faster than ``json.dumps(arr.tolist())``; CSV and JSON Lines are cut out of
# the same bytes (numbers never contain brackets or commas). Non-finite values, which orjson
# writes as ``null``, keep the slower paths so CSV can say ``nan`` and ``inf``.
#
# Its digits are Python's (both shortest round-trip), but not always its notation: Python
# writes an exponent with a sign and two digits at least (``1e-05``, ``1e+16``) and switches
# to one below 1e-4, orjson below 1e-5. The two substitutions below make the bytes those of
# ``repr(float)``; they only run when the output holds an exponent or a value under 1e-4.
_NUMERIC_KINDS = "fiu"
_EXPONENT = re.compile(rb"e(-?)([0-9]+)")
# (A pattern that starts with its literal is searched for that literal first, fast; a
# look-behind in front would make the engine try every position, 30 times slower.)
_UNDER_1E4 = re.compile(rb"0\.0000([1-9])([0-9]*)")


def _exponent(match: re.Match) -> bytes:
    return b"e" + (match.group(1) or b"+") + match.group(2).zfill(2)


def _under_1e4(match: re.Match) -> bytes:
    start = match.start()
    if start and match.string[start - 1] in b"0123456789.":
        return match.group(0)  # the tail of a larger number (10.00001), not a value of its own
    digits = match.group(2)
    return match.group(1) + (b"." + digits if digits else b"") + b"e-05"


def _python_notation(text: bytes) -> bytes:
    if b"e" in text:
        text = _EXPONENT.sub(_exponent, text)
    if b"0.0000" in text:
        text = _UNDER_1E4.sub(_under_1e4, text)
    return text


def numeric_json(data: Any, as_python: bool = False) -> bytes | None:
    """``[[...],...]`` / ``[...]`` for a finite numeric 1-D or 2-D array, else None.

    Numbers are written as ``repr`` writes them; ``as_python``: the whole text is what
    ``json.dumps(data.tolist())`` writes (a space after each comma, float32 widened to the
    float64 that ``tolist`` gives).
    """
    if not isinstance(data, np.ndarray) or data.dtype.kind not in _NUMERIC_KINDS or data.ndim not in (1, 2):
        return None
    if data.dtype.kind == "u":
        data = data.astype(np.int64)
    elif data.dtype.kind == "f" and data.dtype != np.float64:
        if not as_python:
            return None  # NumPy writes float32 in a notation of its own: the caller's slower path
        data = data.astype(np.float64)
    text = orjson.dumps(np.ascontiguousarray(data), option=orjson.OPT_SERIALIZE_NUMPY)
    if data.dtype.kind == "f" and b"null" in text:  # a NaN or an infinity, which orjson writes as null
        return None
    text = _python_notation(text)
    return text.replace(b",", b", ") if as_python else text


def numeric_lines(data: Any, row_open: bytes, row_close: bytes, as_python: bool = False) -> bytes | None:
    """One line per row from ``numeric_json``: ``row_open`` + values + ``row_close``
    (``as_python``: each line as ``json.dumps`` writes a row)."""
    text = numeric_json(data, as_python)
    if text is None:
        return None
    if len(text) <= 2:  # no rows
        return b""
    comma = b", " if as_python else b","
    if data.ndim == 1:
        return text[1:-1].replace(comma, b"\n") + b"\n"
    rows = text[2:-2].replace(b"]" + comma + b"[", row_close + b"\n" + row_open)
    return row_open + rows + row_close + b"\n"


# the bytes of lines of JSON numbers: a body with any other byte (a letter, a bracket, a quote)
# is not one, found in C before orjson would fail on it (its exception costs more than the check)
_JSON_NUMBER_BYTES = b"0123456789+-.eE,\n \t"


def numeric_rows(text: str | bytes) -> np.ndarray | None:
    """Parse lines of comma-separated JSON numbers in C (orjson); None when anything else is there.

    A ``None`` sends the caller to the general parser, which also words the error messages.
    """
    body = text.encode() if isinstance(text, str) else text
    body = body.replace(b"\r\n", b"\n").strip(b"\n")
    # a lone CR ends a CSV row but is blank space to JSON; blank lines are not rows
    if not body or b"\n\n" in body or body.translate(None, _JSON_NUMBER_BYTES):
        return None
    try:
        rows = orjson.loads(b"[[" + body.replace(b"\n", b"],[") + b"]]")
        out = np.array(rows, dtype=np.float64)
    except (orjson.JSONDecodeError, ValueError, TypeError):
        return None
    return out if out.ndim == 2 and out.shape[1] > 0 else None
