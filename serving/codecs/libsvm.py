"""``text/libsvm`` (alias ``text/x-libsvm``): one row per line, ``[label] index:value ...``.

Reading follows the SageMaker XGBoost container: a token without ``:`` (the label) is
skipped, and indices are 1-based when the smallest index in the body is at least 1
(libsvm's convention), else 0-based; the choice is made once per body, as the container
makes it. Tokens are separated by any blanks. A row is a SciPy CSR matrix row (an index
absent from a line is absent, which XGBoost reads as missing, not zero; without SciPy the
rows are dense with NaN there); the width is the largest index + 1. A value that is not a
number, an index that is not a whole number or one named twice in a line is a 400 that
names the line and the token. A blank line is not a row.

Writing: one line per row, ``0`` (a label placeholder, which readers skip or ignore) then
``index:value`` with 1-based indices. A dense array's every value is written (zeros too:
to XGBoost a zero is a value, an absent index is missing), except NaN, which is left out;
a sparse matrix's stored entries are written.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import BadRequest
from . import numbers
from .registry import Codec, register
from .tabular import numeric_array

try:
    import scipy.sparse as _sparse
except ImportError:  # the model image has no SciPy
    _sparse = None


def _parse(text: str) -> tuple[list[int], list[int], list[float], int]:
    rows, cols, vals = [], [], []
    n_rows = 0
    for n, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        seen: set[int] = set()
        for token in tokens:
            index, colon, value = token.partition(":")
            if not colon:
                continue  # the label (or a qid-less weight): not a feature
            if not index.isdigit():
                raise BadRequest(f"line {n} of the text/libsvm body has the token {token!r}, whose index "
                                 f"{index!r} is not a whole number; write index:value, e.g. 3:0.25")
            if ":" in value or not numbers.is_number(value):
                raise BadRequest(f"line {n} of the text/libsvm body has the token {token!r}, whose value "
                                 f"{value!r} is not a number")
            column = int(index)
            if column in seen:
                raise BadRequest(f"line {n} of the text/libsvm body names index {column} twice")
            seen.add(column)
            rows.append(n_rows)
            cols.append(column)
            vals.append(value)
        n_rows += 1
    return rows, cols, vals, n_rows


@register
class LibsvmCodec(Codec):
    media_types = ("text/libsvm", "text/x-libsvm")
    text = True
    order = 70

    def decode(self, text: str) -> Any:
        rows, cols, vals, n_rows = _parse(text)
        if not n_rows:
            raise BadRequest("the text/libsvm body holds no rows")
        if not cols:
            raise BadRequest("the text/libsvm body holds no index:value features")
        columns = np.asarray(cols, dtype=np.int64)
        if columns.min() >= 1:
            columns -= 1
        values = np.asarray(vals, dtype=np.float64)  # each one passed the number grammar
        width = int(columns.max()) + 1
        if _sparse is None:
            out = np.full((n_rows, width), np.nan)
            out[np.asarray(rows), columns] = values
            return out
        return _sparse.csr_matrix((values, (np.asarray(rows), columns)), shape=(n_rows, width))

    def encode(self, data: Any) -> bytes:
        if _sparse is not None and _sparse.issparse(data):
            matrix = data.tocsr()
            lines = []
            for i in range(matrix.shape[0]):
                lo, hi = matrix.indptr[i], matrix.indptr[i + 1]
                lines.append(_line(matrix.indices[lo:hi], matrix.data[lo:hi].tolist()))
            return "".join(lines).encode()
        arr = numeric_array(data, "text/libsvm")
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        lines = []
        for row in arr:
            present = np.flatnonzero(~np.isnan(row)) if row.dtype.kind == "f" else np.arange(len(row))
            lines.append(_line(present, row[present].tolist()))
        return "".join(lines).encode()


def _line(indices, values: list) -> str:
    return "0" + "".join(f" {i + 1}:{v!r}" for i, v in zip(indices.tolist(), values)) + "\n"
