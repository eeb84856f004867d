"""``application/json``: a list of rows, a list of records, or SageMaker's request shapes.

Accepted bodies (all become one batch):

- ``[[1, 2], [3, 4]]``: rows; ``[1, 2]``: a single row;
- ``[{"a": 1, "b": "x"}, ...]``: records (a DataFrame with those column names);
  ``{"a": 1, "b": "x"}``: a single record;
- ``{"instances": [...]}``: rows, records or ``{"features": [...]}`` items (the JSON request
  format of the SageMaker built-in algorithms); ``{"features": [...]}``: a single row;
- ``{"predictions": [...]}``: the built-in algorithms' answer (e.g. ``[{"score": 9.5}]``),
  so a container can follow one of them in a pipeline.

Predictions are written as nested lists (``[[...], ...]`` for 2-D, ``[...]`` for 1-D), as
Python's ``json.dumps`` writes them (``[0.5, 1.0]``), which is what the AWS containers send:
outputs compared as text match. NaN and infinities are written as ``null`` (``json.dumps``
writes ``NaN``, which is not JSON and which most parsers refuse).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import BadRequest
from .registry import Codec, register
from .tabular import dumps, numeric_json, python_rows, records_to_batch, rows_to_batch, to_array

SHAPES = (
    'send [[...], ...] (rows), [{"column": value}, ...] (records), '
    '{"instances": [...]} or {"features": [...]}'
)


def loads(text: str, what: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the {what} body is not valid JSON: {exc}") from None


@register
class JsonCodec(Codec):
    media_types = ("application/json",)
    text = True
    order = 20

    def decode(self, text: str, frame: bool = True) -> Any:
        """``frame=False``: rows of mixed types as their typed columns (a ``ColumnBatch``), not
        a DataFrame (records keep their names in one)."""
        return batch_from_items(items_of(loads(text, "JSON")), "JSON", plain='"' not in text, frame=frame)

    def encode(self, data: Any) -> bytes:
        fast = numeric_json(to_array(data), as_python=True)
        return fast if fast is not None else dumps(python_rows(data))


def items_of(doc: Any) -> list:
    """The list of row-or-record items a JSON document holds."""
    if isinstance(doc, dict):
        for key in ("instances", "predictions"):  # requests to, and answers from, SageMaker algorithms
            if key in doc and len(doc) == 1:
                if not isinstance(doc[key], list):
                    raise BadRequest(f'"{key}" must be a list; {SHAPES}')
                return doc[key]
        if "features" not in doc and any(isinstance(v, (list, dict)) for v in doc.values()):
            raise BadRequest(f"a JSON object whose values are lists or objects is not a record; {SHAPES}")
        return [doc]  # one record, or one {"features": [...]} row
    if isinstance(doc, list):
        if doc and all(not isinstance(v, (list, dict)) for v in doc):
            return [doc]  # a flat list is one row
        return doc
    raise BadRequest(f"a JSON {type(doc).__name__} is not a batch; {SHAPES}")


def batch_from_items(items: list, what: str, plain: bool = False, frame: bool = True) -> Any:
    """One batch from rows or records; ``plain``: the document holds no strings (no quote at all)."""
    if not items:
        raise BadRequest(f"the {what} body holds no rows; {SHAPES}")
    first = items[0]
    if isinstance(first, dict) and set(first) == {"features"}:
        try:
            items = [item["features"] for item in items]
        except (TypeError, KeyError):
            raise BadRequest(f'every item must be {{"features": [...]}} like item 1 of the {what} body') from None
        first = items[0]
    if isinstance(first, dict):
        return records_to_batch(items, what)
    for i, item in enumerate(items):
        if not isinstance(item, list):
            item = [item] if not isinstance(item, dict) else None
            if item is None:
                raise BadRequest(f"item {i + 1} of the {what} body is a record, item 1 is a row; {SHAPES}")
            items[i] = item
        elif any(isinstance(v, (list, dict)) for v in item):
            raise BadRequest(f"row {i + 1} of the {what} body holds nested values; rows must hold numbers or strings")
    return rows_to_batch(items, what, plain, frame)

