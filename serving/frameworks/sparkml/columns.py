"""Reading columns as the type an op needs, the way Spark / MLeap cast them.

Input columns arrive typed by the schema (``int64``, ``float64``, ``bool``, ``object``
strings, 2-D vectors, lists); ops ask for the form they compute on. Casting follows Spark:
numbers to double for numeric ops, anything to string for indexers (``1.0`` -> ``"1.0"``,
``1e7`` -> ``"1.0E7"``, as Java's ``Double.toString`` prints them).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...errors import BadRequest
from .frame import Frame, is_sparse


def java_double(x: float) -> str:
    """Java's ``Double.toString``: Spark casts a double to a string this way before
    indexing it, so a model trained on a double column holds labels such as ``"1.0"`` and
    ``"1.0E7"``. Decimal form in [1e-3, 1e7), else ``<mantissa>E<exponent>``; both with
    the shortest digits that round-trip (what Java prints for the common cases)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        return repr(float(x))  # Python uses no exponent in this range
    mantissa, exponent = np.format_float_scientific(x, unique=True, trim="0").split("e")
    return f"{mantissa}E{int(exponent)}"


def to_strings(column: Any) -> np.ndarray:
    """An object array of ``str`` (``None`` for nulls), cast the way Spark casts."""
    column = np.asarray(column) if not isinstance(column, np.ndarray) else column
    if column.dtype == object:
        if all(type(v) is str for v in column):
            return column
        return np.array([spark_string(v) for v in column] or [], dtype=object)
    if column.dtype.kind == "f":
        return np.array([None if v != v else java_double(v) for v in column.tolist()], dtype=object)
    if column.dtype.kind == "b":
        return np.array(["true" if v else "false" for v in column.tolist()], dtype=object)
    return np.array([str(v) for v in column.tolist()], dtype=object)


def spark_string(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return None if value != value else java_double(value)
    return str(value)


def doubles(frame: Frame, name: str) -> np.ndarray:
    """A numeric scalar column as 1-D float64 (NaN = null; numeric strings are parsed)."""
    column = frame[name]
    if isinstance(column, np.ndarray) and column.dtype == np.float64 and column.ndim == 1:
        return column
    if is_sparse(column) or getattr(column, "ndim", 1) != 1:
        raise BadRequest(f"column '{name}' must hold numbers, but it holds vectors")
    try:
        return np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError):
        bad = np.array([not _is_number(v) for v in column])
        raise invalid_row(frame, name, bad, "is not a number", "this stage reads a numeric column") from None


def _is_number(value: Any) -> bool:
    try:
        float(value if value is not None else "nan")
        return True
    except (TypeError, ValueError):
        return False


def vectors(frame: Frame, name: str) -> Any:
    """A vector column: 2-D float64 (dense) or CSR (sparse). A scalar column is a vector of
    size one, as MLeap treats a scalar fed to a vector op."""
    column = frame[name]
    if isinstance(column, np.ndarray) and column.dtype == np.float64:  # the common cases, first
        return column if column.ndim == 2 else column.reshape(-1, 1)
    if is_sparse(column):
        return column
    if isinstance(column, np.ndarray) and column.ndim == 2:
        return column if column.dtype == np.float64 else column.astype(np.float64)
    if isinstance(column, np.ndarray) and column.dtype == object:
        try:
            return np.array([list(v) for v in column], dtype=np.float64)
        except (TypeError, ValueError):
            raise BadRequest(
                f"column '{name}' must hold numeric vectors of one length in every row"
            ) from None
    return doubles(frame, name).reshape(-1, 1)


def lists(frame: Frame, name: str) -> np.ndarray:
    """A list column (Spark ``array<string>``): object array of Python lists."""
    column = frame[name]
    if isinstance(column, np.ndarray) and column.dtype == object:
        return column
    raise BadRequest(f"column '{name}' must hold lists of strings (one list per row)")


def invalid_row(frame: Frame, name: str, bad: np.ndarray, what: str, fix: str) -> BadRequest:
    """A 400 that names the first offending row: ``column 'sex', row 3: 'X' is ...``."""
    i = int(np.flatnonzero(bad)[0])
    column = frame[name]
    value = column[i] if getattr(column, "ndim", 1) == 1 and not is_sparse(column) else None
    shown = f"{value!r} " if value is not None else ""
    return BadRequest(f"column '{name}', {frame.row_label(i)}: {shown}{what}; {fix}")


def one_hot_rows(index: np.ndarray, width: int, dense_limit: int = 256) -> Any:
    """Rows with a single 1.0 at ``index`` (or all zeros where ``index`` is -1).

    Narrow results stay dense (cheap for one-row requests); wide ones are CSR.
    """
    n = index.shape[0]
    hit = index >= 0
    if width <= dense_limit:
        out = np.zeros((n, width))
        out[np.flatnonzero(hit), index[hit]] = 1.0
        return out
    import scipy.sparse as sp

    rows = np.flatnonzero(hit)
    return sp.csr_matrix((np.ones(rows.size), (rows, index[hit])), shape=(n, width))
