"""The columnar frame MLeap ops read and write (our LeapFrame).

A frame is an ordered mapping of column name to a whole column (see ``ops/base.py`` for the
column conventions). Every column has ``n_rows`` rows; a single request row is a frame of
one row. Ops never loop over rows where NumPy can do the work.

Rows can leave a frame: Spark drops a row when a stage with ``handleInvalid="skip"`` meets
an invalid value, and the runtime does the same (:meth:`Frame.keep_rows`). The frame keeps
``origin``, the request row each remaining row came from, so the container can still answer
one row per input row and error messages can name the row the client sent.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from ...errors import BadRequest

try:  # scipy comes with scikit-learn; sparse vectors are optional for the runtime
    import scipy.sparse as sp
except ImportError:  # pragma: no cover
    sp = None


class Frame:
    def __init__(self, columns: dict[str, Any] | None = None, n_rows: int | None = None):
        self.columns: dict[str, Any] = {}
        self.n_rows = n_rows
        self._origin: np.ndarray | None = None  # None: row i came from request row i
        for name, col in (columns or {}).items():
            self[name] = col

    def __len__(self) -> int:
        return self.n_rows or 0

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __getitem__(self, name: str) -> Any:
        try:
            return self.columns[name]
        except KeyError:
            raise BadRequest(
                f"input column '{name}' is missing; the frame has: {', '.join(self.columns) or 'no columns'}"
            ) from None

    def __setitem__(self, name: str, column: Any) -> None:
        rows = column.shape[0]
        if self.n_rows is None:
            self.n_rows = rows
        elif rows != self.n_rows:
            raise ValueError(f"column '{name}' has {rows} rows, the frame has {self.n_rows}")
        self.columns[name] = column

    # -- rows ---------------------------------------------------------------------------
    @property
    def origin(self) -> np.ndarray:
        """For each row, the index of the request row it came from (0-based)."""
        if self._origin is None:
            return np.arange(len(self))
        return self._origin

    def row_label(self, i: int) -> str:
        """How error messages name row ``i``: the client's row, counted from 1."""
        return f"row {int(self.origin[i]) + 1}"

    def keep_rows(self, keep: np.ndarray) -> None:
        """Drop the rows where ``keep`` is False from every column (Spark's ``skip``)."""
        if keep.all():
            return
        self._origin = self.origin[keep]
        self.columns = {name: col[keep] for name, col in self.columns.items()}
        self.n_rows = int(keep.sum())


def as_dense(column: Any) -> np.ndarray:
    if is_sparse(column):
        return column.toarray()
    return column


def is_sparse(column: Any) -> bool:
    # the ndarray test first: scipy's issparse is an ABC check, slow on the one-row path
    return not isinstance(column, np.ndarray) and sp is not None and sp.issparse(column)
