"""``text/csv``: many rows per body, no header, quoted fields allowed, strings allowed.

One row stays a 1×n batch (the AWS container squeezes it to a 1-D array and the model then
fails). Unquoted fields are stripped of surrounding blanks, so ``M, 0.44, 0.365`` (the form
the public abalone example sends) reads as ``"M", 0.44, 0.365``. An empty field is missing
(NaN). All-numeric bodies (what containers pass each other) are parsed and written in C by
orjson (``tabular.numeric_rows`` / ``numeric_lines``); other bodies without a double quote
are split with ``str.split``, several times faster than the ``csv`` module, which reads the
rest.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from ..errors import BadRequest
from .tabular import columns_to_batch, numeric_lines, numeric_rows, rows_to_batch, to_array

MEDIA_TYPE = "text/csv"


# Above this size a body is parsed by Arrow's C++ CSV reader (4 to 5 times faster than
# orjson or splitting in Python); below it, Arrow's fixed cost per call is more than it saves.
ARROW_MIN_BYTES = 64 * 1024


def decode(text: str) -> Any:
    if len(text) >= ARROW_MIN_BYTES:
        batch = decode_with_arrow(text)
        if batch is not None:
            return batch
    numbers = numeric_rows(text)
    if numbers is not None:
        return numbers
    if '"' in text:
        try:
            rows = [[f.strip() for f in row] for row in csv.reader(io.StringIO(text), strict=True) if row]
        except csv.Error as exc:
            raise BadRequest(f"the CSV body is malformed: {exc}") from None
    else:
        rows = [[f.strip() for f in line.split(",")] for line in text.splitlines() if line.strip()]
    return rows_to_batch(rows, "CSV")


def decode_with_arrow(text: str) -> Any:
    """Large bodies, typed as the Python path types them: numbers, else stripped strings.

    Arrow infers the column types; a column it does not read as numbers is read again as
    text, so a value such as ``true`` or ``2024-01-01`` stays the string it was. None (a
    ragged body, no pyarrow) sends the caller to the Python path, which words the error.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv
    except ImportError:
        return None
    body = pa.py_buffer(text.encode())
    first = text.lstrip("\r\n").split("\n", 1)[0]
    names = [str(i) for i in range(len(next(csv.reader([first]))))]
    read = pcsv.ReadOptions(column_names=names)
    try:
        table = pcsv.read_csv(body, read_options=read, convert_options=pcsv.ConvertOptions(
            null_values=[""], strings_can_be_null=False))
        numeric = [n for n, f in zip(names, table.schema)
                   if pa.types.is_floating(f.type) or pa.types.is_integer(f.type) or pa.types.is_null(f.type)]
        textual = [n for n in names if n not in numeric]
        if textual:
            strings = pcsv.read_csv(body, read_options=read, convert_options=pcsv.ConvertOptions(
                include_columns=textual, column_types={n: pa.string() for n in textual}, strings_can_be_null=False))
    except pa.ArrowInvalid:
        return None
    columns = []
    for name in names:
        if name in numeric:
            columns.append(pc.cast(table.column(name), pa.float64()).to_numpy(zero_copy_only=False))
        else:
            trimmed = pc.utf8_trim_whitespace(strings.column(name))
            try:  # numbers after all once blank fields count as missing, as in the Python path
                blank_as_null = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
                columns.append(pc.cast(blank_as_null, pa.float64()).to_numpy(zero_copy_only=False))
            except pa.ArrowInvalid:
                columns.append(trimmed.to_numpy(zero_copy_only=False).astype(object))
    return columns_to_batch(columns)


def encode(data: Any) -> bytes:
    arr = to_array(data)
    fast = numeric_lines(arr, b"", b"")
    if fast is not None:
        return fast
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim > 2:
        raise BadRequest(f"a {arr.ndim}-D prediction cannot be written as CSV rows; use application/json")
    rows = arr.tolist()
    if arr.dtype.kind in "fiub":
        if arr.ndim == 1:
            return "".join(f"{v!r}\n" for v in rows).encode()
        return "".join(",".join(map(repr, row)) + "\n" for row in rows).encode()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([r] if arr.ndim == 1 else r for r in rows)
    return out.getvalue().encode()

