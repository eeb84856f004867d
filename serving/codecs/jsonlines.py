"""``application/jsonlines``: one row (``[...]``), record (``{...}``), ``{"features": [...]}``
or bare value per line. Each output row is written on its own line."""

from __future__ import annotations

import json
from typing import Any

from .json import batch_from_items, loads
from .tabular import python_rows

MEDIA_TYPE = "application/jsonlines"


def decode(text: str) -> Any:
    items = [loads(line, f"JSON Lines (line {i + 1})") for i, line in enumerate(text.splitlines()) if line.strip()]
    return batch_from_items(items, "JSON Lines")


def encode(data: Any) -> bytes:
    return "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in python_rows(data)).encode()
