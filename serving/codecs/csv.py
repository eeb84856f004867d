"""``text/csv``: many rows per body, no header, quoted fields allowed, strings allowed.

One grammar, whatever the size of the body:

- rows end with ``\\n``, ``\\r\\n`` or ``\\r``; a line that is empty or blank is not a row;
- fields are separated by ``,``; a field may be quoted (``"a,b"``, ``""`` for a quote),
  spaces before its opening quote are skipped, and a quoted field may span lines;
- fields are stripped of surrounding spaces and tabs, so ``M, 0.44, 0.365`` (the form the
  public abalone example sends) reads as ``"M", 0.44, 0.365``; an empty field is missing (NaN);
- a column is numbers when every value in it is a number by :mod:`serving.codecs.numbers`.

One row stays a 1×n batch (the AWS container squeezes it to a 1-D array and the model then
fails). Three parsers implement the grammar, chosen for speed: Arrow's C++ reader for large
bodies, orjson for all-numeric ones (what containers pass each other), and ``str.split``
or, for quoted fields, the ``csv`` module for the rest; a property test holds them to the
same answers.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import numpy as np

from ..errors import BadRequest
from . import numbers
from .registry import Codec, register
from .tabular import WIDE, columns_to_batch, numeric_lines, numeric_rows, rows_to_batch, to_array

# Above this size a body is parsed by Arrow's C++ CSV reader (4 to 5 times faster than
# orjson or splitting in Python); below it, Arrow's fixed cost per call is more than it saves.
ARROW_MIN_BYTES = 64 * 1024
BLANKS = " \t"
# The csv module refuses fields over 128 KiB, which Arrow reads: every parser takes what the
# payload limit lets in (the module's limit is process-wide; raising it affects nothing else).
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
_LINE_END = re.compile(r"\r\n|\r|\n")
_BLANK_LINE = re.compile(r'(?:^|[\r\n])[ \t]*(?:"[ \t]*"[ \t]*)?(?:[\r\n]|$)')
_SPACED_QUOTE = re.compile(r'(?:^|[,\r\n]) +"')


@register
class CsvCodec(Codec):
    media_types = ("text/csv",)
    text = True
    order = 10

    def decode(self, text: str, frame: bool = True) -> Any:
        """The batch; ``frame=False``: mixed columns as a :class:`~.tabular.ColumnBatch`, not a DataFrame."""
        if len(text) >= ARROW_MIN_BYTES and not wide(text):
            batch = decode_with_arrow(text, frame)
            if batch is not None:
                return batch
        numbers_only = numeric_rows(text)
        if numbers_only is not None:
            return numbers_only
        return rows_to_batch(rows_of(text), "CSV", plain=numbers.safe(text), frame=frame)

    def encode(self, data: Any) -> bytes:
        arr = to_array(data)
        fast = numeric_lines(arr, b"", b"")
        if fast is not None:
            return fast
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim > 2:
            raise BadRequest(f"a {arr.ndim}-D prediction cannot be written as CSV rows; use application/json")
        if arr.dtype.kind == "f" and arr.dtype != np.float64:  # as NumPy prints float32, as the AWS encoder does
            arr = arr.astype(str)
        rows = arr.tolist()
        if arr.dtype.kind in "fiub":
            if arr.ndim == 1:
                return "".join(f"{v!r}\n" for v in rows).encode()
            return "".join(",".join(map(repr, row)) + "\n" for row in rows).encode()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows([r] if arr.ndim == 1 else r for r in rows)
        return out.getvalue().encode()


def wide(text: str) -> bool:
    """More columns than :data:`~serving.codecs.tabular.WIDE`: Arrow's cost is per column (50 µs
    each here), so a wide body goes to the row-wise parsers, whose cost is per value."""
    ends = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
    return text.count(",", 0, min(ends) if ends else len(text)) >= WIDE


def rows_of(text: str) -> list[list[str]]:
    """The body's rows as lists of stripped fields; blank lines are not rows."""
    if '"' not in text:
        return [[f.strip(BLANKS) for f in line.split(",")] for line in _LINE_END.split(text) if line.strip(BLANKS)]
    try:
        reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
        return [[f.strip(BLANKS) for f in row] for row in reader if row and not _blank(row)]
    except csv.Error as exc:
        raise BadRequest(f"the CSV body is malformed: {exc}") from None


def _may_have(text: str, *pieces: str) -> bool:
    """Whether one of ``pieces`` is in ``text`` (or starts it): a scan in C, before a regex that is not."""
    return text[:1] in (" ", "\t") or any(piece in text for piece in pieces)


def _blank(row: list[str]) -> bool:
    """A line of blanks, or of one empty quoted field (the csv module reads both as ``[""]``)."""
    return len(row) == 1 and not row[0].strip(BLANKS)


def _all_numbers(trimmed, blank) -> bool:
    """Whether every non-blank value of a text column is a number by the grammar. The first
    value decides most columns at once (a category name is not a number); only a column that
    starts with one is matched whole."""
    import pyarrow.compute as pc

    first = pc.index(blank, False).as_py()
    if first >= 0 and not numbers.is_number(trimmed[first].as_py()):
        return False
    return pc.all(pc.or_(blank, pc.match_substring_regex(trimmed, numbers.ARROW_PATTERN))).as_py()


def decode_with_arrow(text: str, frame: bool = True) -> Any:
    """Large bodies, typed by the grammar: numbers, else stripped strings.

    Arrow infers the column types; a column it reads as numbers is checked against the
    grammar where the body holds anything Arrow might read as a number and the grammar not
    (:func:`serving.codecs.numbers.safe`), and a column it reads as text is typed by the
    grammar after stripping. None (a ragged body, a blank line, no pyarrow) sends the caller
    to the Python path, which words the error.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv
    except ImportError:
        return None
    if '"' in text and _may_have(text, ' "') and _SPACED_QUOTE.search(text):
        return None  # Arrow reads a quote after spaces as text; the grammar as a quoted field
    data = text.encode()
    body = pa.py_buffer(data)
    read = pcsv.ReadOptions(autogenerate_column_names=True)
    # a line break inside a value needs a quoted field; without quotes Arrow parses a third faster
    parse = pcsv.ParseOptions(newlines_in_values='"' in text)
    try:
        table = pcsv.read_csv(body, read_options=read, parse_options=parse, convert_options=pcsv.ConvertOptions(
            null_values=[""], strings_can_be_null=False))
        names = table.column_names
        if (len(names) == 1 and _may_have(text, "\n ", "\n\t", "\r ", "\r\t", '\n"', '\r"')
                and _BLANK_LINE.search(text.strip("\r\n"))):
            return None  # a line of blanks is a row to Arrow, none to the grammar (with more columns it is ragged)
        numeric = {n for n, f in zip(names, table.schema)
                   if pa.types.is_floating(f.type) or pa.types.is_integer(f.type) or pa.types.is_null(f.type)}
        check = {n for n in names if n not in numeric} if numbers.safe(data) else set(names)
        # the columns whose text the first read did not keep (numbers, booleans, dates) are read
        # again as text; a column Arrow already read as text is that text (one parse, not two,
        # for the usual body of numbers and category names)
        reread = {n for n in check if not pa.types.is_string(table.schema.field(n).type)}
        strings = None
        if reread:
            strings = pcsv.read_csv(body, read_options=read, parse_options=parse, convert_options=pcsv.ConvertOptions(
                include_columns=[n for n in names if n in reread], column_types={n: pa.string() for n in reread},
                strings_can_be_null=False))
    except pa.ArrowInvalid:
        return None
    columns = []
    for name in names:
        if name not in check:
            columns.append(pc.cast(table.column(name), pa.float64()).to_numpy(zero_copy_only=False))
            continue
        trimmed = pc.utf8_trim((strings if name in reread else table).column(name), BLANKS)
        blank = pc.equal(trimmed, "")
        if _all_numbers(trimmed, blank):
            missing = pc.if_else(blank, pa.scalar(None, pa.string()), trimmed)
            columns.append(pc.cast(missing, pa.float64()).to_numpy(zero_copy_only=False))
        else:
            columns.append(trimmed.to_numpy(zero_copy_only=False).astype(object))
    return columns_to_batch(columns, frame)

