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
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import BadRequest
from .frame import is_sparse
from .schema import Schema


@dataclass
class Parsed:
    """A decoded request: rows (lists of values) and the schema it carried, if any."""

    rows: list[list[Any]]
    schema: Any = None  # the raw "schema" object of a JSON request


def parse_csv(text: str) -> Parsed:
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    return Parsed(rows)


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


def parse_json_object(obj: Any, schema_for: Any, where: str) -> Parsed:
    """One ``{"schema"?, "data"}`` object; ``schema_for(raw)`` resolves the effective schema."""
    if not isinstance(obj, dict) or "data" not in obj:
        raise BadRequest(f'{where} must be an object {{"data": [...]}} (optionally with "schema")')
    raw_schema = obj.get("schema")
    return Parsed(_rows_of(obj["data"], schema_for(raw_schema), where), raw_schema)


def parse_json(text: str, schema_for) -> Parsed:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    return parse_json_object(obj, schema_for, "the JSON body")


def parse_jsonlines(text: str, schema_for) -> Parsed:
    rows: list[list[Any]] = []
    raw_schema = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise BadRequest(f"line {number} is not valid JSON: {exc}") from None
        if isinstance(obj, dict) and obj.get("schema") is not None:
            raw_schema = obj["schema"]
        part = parse_json_object(obj, lambda _: schema_for(raw_schema), f"line {number}")
        rows.extend(part.rows)
    return Parsed(rows, raw_schema)


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
