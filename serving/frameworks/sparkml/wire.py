"""Request bodies to rows, and output columns to response bodies, for the Spark ML container.

Inputs: ``text/csv`` (many rows, schema order), ``application/json`` (``{"data": row}`` or
``{"data": [row, ...]}``, optionally with ``"schema"``), ``application/jsonlines`` (one such
object per line; the first line may carry the schema).

Outputs, one record per input row, in order (a row Spark would have dropped, under
``handleInvalid="skip"``, is an empty record: an empty CSV line, ``null`` in JSON):
``text/csv`` (a vector as comma-joined values), ``application/jsonlines``
(``{"features": [...]}`` for vectors and arrays, the bare value for scalars),
``application/jsonlines;data=text`` (``{"source": "v1 v2 ..."}``), ``application/json`` (one
JSON array with an element per row).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np

from ...codecs.json import loads
from ...errors import BadRequest
from .frame import is_sparse
from .schema import Schema


def parse_csv(text: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text)) if row]


def _rows_of(data: Any, schema: Schema, where: str) -> list[list[Any]]:
    """``data`` is one row or a list of rows; tell them apart by the value shapes."""
    if not isinstance(data, list):
        raise BadRequest(f'{where}: "data" must be a JSON array: one row [v1, v2, ...] or rows [[...], [...]]')
    if not data:
        return []
    if _is_row(data, schema):
        return [data]
    if all(isinstance(row, list) and _is_row(row, schema) for row in data):
        return data
    names = ", ".join(c.name for c in schema.inputs)
    raise BadRequest(f'{where}: "data" is neither one row nor a list of rows of the {len(schema.inputs)} '
                     f"columns {names}")


def _is_row(values: list, schema: Schema) -> bool:
    if len(values) != len(schema.inputs):
        return False
    for value, column in zip(values, schema.inputs):
        nested = isinstance(value, list)
        if nested != (column.struct in ("vector", "array")):
            return False
    return True


def _data_of(obj: Any, where: str) -> Any:
    if not isinstance(obj, dict) or "data" not in obj:
        raise BadRequest(f'{where} must be an object {{"data": [...]}} (optionally with "schema")')
    return obj["data"]


def parse_json(text: str, schema_for) -> tuple[list[list[Any]], Schema]:
    """Rows and the schema in force; ``schema_for(raw)`` resolves a request's ``"schema"``
    (``None``: the configured one)."""
    obj = loads(text, "JSON")
    data = _data_of(obj, "the JSON body")
    schema = schema_for(obj.get("schema"))
    return _rows_of(data, schema, "the JSON body"), schema


def parse_jsonlines(text: str, schema_for) -> tuple[list[list[Any]], Schema]:
    """As :func:`parse_json`, a line at a time; a line's ``"schema"`` holds from that line on
    (resolved once, not per line)."""
    rows: list[list[Any]] = []
    schema = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        obj = loads(line, f"JSON Lines ({where})")
        data = _data_of(obj, where)
        if schema is None or obj.get("schema") is not None:
            schema = schema_for(obj.get("schema"))
        rows.extend(_rows_of(data, schema, where))
    return rows, schema if schema is not None else schema_for(None)


# -- output -----------------------------------------------------------------------------
def _python(value: Any, type_: str | None) -> Any:
    """One scalar as the JSON/CSV value of the output type (``int`` outputs print as ints)."""
    if isinstance(value, np.generic):
        value = value.item()
    if type_ in ("int", "long", "short", "byte") and isinstance(value, float) and value == value:
        return int(value)
    if type_ == "boolean" and isinstance(value, (int, float)):
        return bool(value)
    return value


def records(column: Any, n_rows: int, origin: np.ndarray, type_: str | None) -> list[Any]:
    """One Python value per input row (``None`` for a dropped row); vectors become lists."""
    out: list[Any] = [None] * n_rows
    if is_sparse(column):
        for i, row in zip(origin.tolist(), range(column.shape[0])):
            out[i] = column.getrow(row).toarray()[0].tolist()
    elif isinstance(column, np.ndarray) and column.ndim == 2:
        for i, values in zip(origin.tolist(), column.tolist()):
            out[i] = values
    else:
        values = column.tolist() if isinstance(column, np.ndarray) else list(column)
        for i, value in zip(origin.tolist(), values):
            out[i] = [_python(v, type_) for v in value] if isinstance(value, list) else _python(value, type_)
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value == value else "NaN"
    return "" if value is None else str(value)


def encode_csv(values: list[Any]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for value in values:
        if value is None:
            buffer.write("\n")
        elif isinstance(value, list):
            writer.writerow([_text(v) for v in value])
        else:
            writer.writerow([_text(value)])
    return buffer.getvalue().encode()


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None  # JSON has no NaN
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def encode_jsonlines(values: list[Any], text: bool = False) -> bytes:
    lines = []
    for value in values:
        if isinstance(value, list):
            record = {"source": " ".join(_text(v) for v in value)} if text else {"features": _json_value(value)}
        else:
            record = _json_value(value)
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode() if lines else b""


def encode_json(values: list[Any]) -> bytes:
    return json.dumps([_json_value(v) for v in values]).encode()
