"""``application/jsonlines``: one row (``[...]``), record (``{...}``), ``{"features": [...]}``
or bare value per line. Each output row is written on its own line, as ``json.dumps``
writes it (``[0.5, 1.0]``). ``application/x-jsonlines`` is the same codec."""

from __future__ import annotations

from typing import Any

from .json import batch_from_items, loads
from .registry import Codec, register
from .tabular import dumps, numeric_lines, python_rows, to_array


@register
class JsonLinesCodec(Codec):
    media_types = ("application/jsonlines", "application/x-jsonlines")
    text = True
    order = 30

    def decode(self, text: str) -> Any:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        items = [loads(line, f"JSON Lines (line {i + 1})") for i, line in enumerate(lines) if line.strip()]
        return batch_from_items(items, "JSON Lines", plain='"' not in text)

    def encode(self, data: Any) -> bytes:
        fast = numeric_lines(to_array(data), b"[", b"]", as_python=True)
        if fast is not None:
            return fast
        return b"".join(dumps(row) + b"\n" for row in python_rows(data))
