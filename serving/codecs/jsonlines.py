"""``application/jsonlines``: one row (``[...]``), record (``{...}``), ``{"features": [...]}``
or bare value per line. Each output row is written on its own line."""

from __future__ import annotations

from typing import Any

import orjson

from .json import batch_from_items, loads
from .tabular import numeric_lines, python_rows, to_array

MEDIA_TYPE = "application/jsonlines"


def decode(text: str) -> Any:
    items = [loads(line, f"JSON Lines (line {i + 1})") for i, line in enumerate(text.splitlines()) if line.strip()]
    return batch_from_items(items, "JSON Lines")


def encode(data: Any) -> bytes:
    fast = numeric_lines(to_array(data), b"[", b"]")
    if fast is not None:
        return fast
    return b"".join(orjson.dumps(row) + b"\n" for row in python_rows(data))
