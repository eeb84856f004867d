"""``text/csv``: many rows per body, no header, quoted fields allowed, strings allowed.

One row stays a 1×n batch (the AWS container squeezes it to a 1-D array and the model then
fails). Unquoted fields are stripped of surrounding blanks, so ``M, 0.44, 0.365`` (the form
the public abalone example sends) reads as ``"M", 0.44, 0.365``. An empty field is missing
(NaN). Bodies without a double quote take a fast path: ``str.split`` is several times
faster than the ``csv`` module for the small, numeric bodies a pipeline passes around.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from ..errors import BadRequest
from .tabular import rows_to_batch, to_array

MEDIA_TYPE = "text/csv"


def decode(text: str) -> Any:
    if '"' in text:
        try:
            rows = [[f.strip() for f in row] for row in csv.reader(io.StringIO(text), strict=True) if row]
        except csv.Error as exc:
            raise BadRequest(f"the CSV body is malformed: {exc}") from None
    else:
        rows = [[f.strip() for f in line.split(",")] for line in text.splitlines() if line.strip()]
    return rows_to_batch(rows, "CSV")


def encode(data: Any) -> bytes:
    arr = to_array(data)
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

