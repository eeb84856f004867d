"""The SageMaker Spark ML serving schema, and turning request rows into typed columns.

``{"input": [{"name", "type", "struct"?}, ...], "output": {"name", "type", "struct"?}}``
(contract section 4.2) comes from ``SAGEMAKER_SPARKML_SCHEMA``, a ``schema.json`` in the
model directory, or a ``schema`` object in a JSON request (which wins). Without one, the
inputs are the model's required columns, typed by the stage that reads them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import BadRequest, ConfigurationError
from .frame import Frame

TYPES = ("boolean", "byte", "short", "int", "long", "float", "double", "string")
STRUCTS = ("basic", "vector", "array")
INT_RANGES = {"byte": 8, "short": 16, "int": 32, "long": 64}
# How a column is typed when no schema says, by what the stage reading it expects.
KIND_TYPES = {"double": ("double", "basic"), "string": ("string", "basic"), "vector": ("double", "vector"),
              "list": ("string", "array"), "auto": ("auto", "basic")}


@dataclass(frozen=True)
class Column:
    name: str
    type: str | None  # None: whatever the model produces (default output)
    struct: str | None = "basic"


@dataclass(frozen=True)
class Schema:
    inputs: tuple[Column, ...]
    output: Column

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.inputs]


def _column(spec: Any, where: str, error: type[Exception]) -> Column:
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise error(f"{where}: each column must be an object with a 'name', got {spec!r}")
    if spec.get("type") is None:
        raise error(f"{where}: column '{spec['name']}' has no 'type'; give one of {', '.join(TYPES)} "
                    "(the AWS Spark ML container requires it too)")
    type_ = str(spec["type"]).lower()
    type_ = "int" if type_ == "integer" else type_
    if type_ not in TYPES:
        raise error(f"{where}: column '{spec['name']}' has type '{spec.get('type')}'; "
                    f"use one of {', '.join(TYPES)}")
    struct = str(spec.get("struct", "basic")).lower()
    if struct not in STRUCTS:
        raise error(f"{where}: column '{spec['name']}' has struct '{spec.get('struct')}'; "
                    f"use one of {', '.join(STRUCTS)}")
    return Column(spec["name"], type_, struct)


def parse_schema(raw: Any, where: str, error: type[Exception] = ConfigurationError) -> Schema:
    """Validate a schema given as JSON text or an already-parsed object."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise error(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("input"), list) or "output" not in raw:
        raise error(f'{where} must be {{"input": [{{"name": ..., "type": ...}}, ...], '
                    f'"output": {{"name": ..., "type": ...}}}}')
    output = raw["output"]
    if isinstance(output, list):  # Vertex AI writes a one-element list
        if len(output) != 1:
            raise error(f"{where}: 'output' names {len(output)} columns; the container answers with one")
        output = output[0]
    return Schema(tuple(_column(c, where, error) for c in raw["input"]), _column(output, where, error))


def default_schema(model) -> Schema:
    kinds = model.input_kinds()
    inputs = tuple(Column(name, *KIND_TYPES[kinds.get(name, "double")]) for name in model.inputs)
    return Schema(inputs, Column(model.default_output(), None, None))


def check_schema(schema: Schema, model, error: type[Exception] = ConfigurationError) -> None:
    """The schema must feed every column the model needs and name a column it has."""
    missing = [c for c in model.inputs if c not in schema.names]
    if missing:
        raise error(f"the schema has no input column {', '.join(repr(c) for c in missing)}, which the model "
                    f"reads; its inputs are: {', '.join(model.inputs)}")
    known = set(model.outputs) | set(schema.names)
    if schema.output.name not in known:
        raise error(f"the schema's output '{schema.output.name}' is not a column of the model; "
                    f"choose one of: {', '.join(model.outputs)}")


# -- rows to columns ----------------------------------------------------------------------
def rows_to_frame(rows: list[list[Any]], schema: Schema, first_row: int = 0) -> Frame:
    """Typed columns from request rows (lists of values in schema order)."""
    width = len(schema.inputs)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise BadRequest(f"row {first_row + i + 1} has {len(row)} values; the schema has {width} columns: "
                             f"{', '.join(schema.names)}")
    columns = list(zip(*rows)) if rows else [() for _ in schema.inputs]
    frame = Frame(n_rows=len(rows))
    for column, values in zip(schema.inputs, columns):
        frame[column.name] = convert(list(values), column, first_row)
    return frame


def _bad(column: Column, i: int, value: Any, first_row: int, what: str) -> BadRequest:
    return BadRequest(f"column '{column.name}', row {first_row + i + 1}: {value!r} is not {what}")


def convert(values: list[Any], column: Column, first_row: int = 0) -> Any:
    if column.struct == "vector":
        return _vectors(values, column, first_row)
    if column.struct == "array":
        out = np.empty(len(values), dtype=object)
        for i, value in enumerate(values):
            if not isinstance(value, list):
                raise _bad(column, i, value, first_row, f"an array of {column.type}")
            out[i] = convert(value, Column(column.name, column.type), first_row + i).tolist()
        return out
    return _scalars(values, column, first_row)


def _vectors(values: list[Any], column: Column, first_row: int) -> np.ndarray:
    for i, value in enumerate(values):
        if not isinstance(value, list):
            raise _bad(column, i, value, first_row, "a vector (a JSON array of numbers)")
    sizes = {len(v) for v in values}
    if len(sizes) > 1:
        raise BadRequest(f"column '{column.name}': vectors of different lengths ({sorted(sizes)}) in one request")
    try:
        return np.array(values, dtype=np.float64).reshape(len(values), -1)
    except (TypeError, ValueError):
        i = next(i for i, v in enumerate(values) if not all(_is_number(x) for x in v))
        raise _bad(column, i, values[i], first_row, "a vector of numbers") from None


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _scalars(values: list[Any], column: Column, first_row: int) -> np.ndarray:
    type_ = column.type
    if type_ == "string":
        return np.array([v if v is None or isinstance(v, str) else _json_string(v) for v in values] or [],
                        dtype=object)
    if type_ == "boolean":
        return _booleans(values, column, first_row)
    if type_ == "auto":
        numbers = [None if v == "" else v for v in values]
        if all(v is None or _is_number(v) for v in numbers):
            return np.array(numbers, dtype=np.float64)
        return np.array([v if v is None else str(v) for v in values], dtype=object)
    numbers = [None if v == "" else v for v in values]  # an empty CSV field is a null
    try:
        if any(isinstance(v, bool) for v in numbers):
            raise ValueError
        array = np.array(numbers, dtype=np.float64)
    except (TypeError, ValueError):
        i = next(i for i, v in enumerate(numbers) if v is not None and not _is_number(v))
        raise _bad(column, i, values[i], first_row, f"a number (the column is {type_})") from None
    if type_ in ("double", "float"):
        return array.astype(np.float32).astype(np.float64) if type_ == "float" else array
    bits = INT_RANGES[type_]
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    bad = np.isnan(array) | (array != np.floor(array)) | (array < low) | (array > high)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _bad(column, i, values[i], first_row, f"a {type_} (a whole number from {low} to {high})")
    return array.astype(np.int64)


def _booleans(values: list[Any], column: Column, first_row: int) -> np.ndarray:
    out = np.empty(len(values), dtype=bool)
    for i, value in enumerate(values):
        if isinstance(value, bool):
            out[i] = value
        elif isinstance(value, str) and value.strip().lower() in ("true", "false"):
            out[i] = value.strip().lower() == "true"
        else:
            raise _bad(column, i, value, first_row, "a boolean (true or false)")
    return out


def _json_string(value: Any) -> str:
    """A JSON number or boolean sent for a string column, written as Java would."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
