"""Turning rows of parsed values into one columnar batch, and a batch back into rows.

Every text codec ends the same way: a list of rows (or of records) becomes a 2-D ``float64``
array when every value is numeric, and a DataFrame with typed columns otherwise. Output goes
the other way. Keeping this in one place is what makes CSV, JSON and JSON Lines agree on
shapes: a single row is a batch of one, a 1-D prediction is one value per row.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import BadRequest

try:
    import scipy.sparse as _sparse
except ImportError:  # pragma: no cover - scipy comes with scikit-learn
    _sparse = None


def rows_to_batch(rows: Sequence[Sequence[Any]], what: str) -> np.ndarray | pd.DataFrame:
    """Rows of equal length -> float array, or a DataFrame with positional columns if mixed."""
    if not rows:
        raise BadRequest(f"the {what} body holds no rows")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise BadRequest(
                f"row {i + 1} of the {what} body has {len(row)} values, row 1 has {width}: "
                "every row needs the same number of columns"
            )
    if width == 0:
        raise BadRequest(f"the {what} body holds empty rows")
    try:
        return np.array(rows, dtype=np.float64)
    except (ValueError, TypeError):
        pass
    columns = [typed_column(col) for col in zip(*rows)]
    if all(col.dtype == np.float64 for col in columns):  # numbers with some missing values
        return np.column_stack(columns)
    return pd.DataFrame(dict(enumerate(columns)))


def records_to_batch(records: Sequence[dict], what: str) -> pd.DataFrame:
    """Records (``{"col": value}``) -> DataFrame; column order from the first record."""
    names: dict[str, None] = {}
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise BadRequest(
                f"item {i + 1} of the {what} body is a {type(rec).__name__}, but item 1 is a "
                "record: send all rows as lists or all as {\"column\": value} records"
            )
        for k in rec:
            names.setdefault(k, None)
    return pd.DataFrame(
        {name: typed_column([rec.get(name) for rec in records]) for name in names}
    )


def typed_column(values: Sequence[Any]) -> np.ndarray:
    """Numeric when every non-missing value is a number (strings that parse count), else str."""
    try:
        return np.array([np.nan if v is None or v == "" else v for v in values], dtype=np.float64)
    except (ValueError, TypeError):
        return np.array([np.nan if v is None else v for v in values], dtype=object)


def to_array(data: Any) -> np.ndarray:
    """Normalise a prediction into an ndarray (1-D: one value per row; 2-D: rows)."""
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, (pd.DataFrame, pd.Series)):
        return data.to_numpy()
    if _sparse is not None and _sparse.issparse(data):
        return data.toarray()
    if np.isscalar(data):
        return np.array([data])
    return np.asarray(data)


def python_rows(data: Any) -> list:
    """A prediction as nested Python lists, NaN and infinities as ``None`` (JSON has neither)."""
    arr = to_array(data)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        arr = arr.astype(object)
        arr[~np.isfinite(arr.astype(np.float64))] = None
    return arr.tolist()
