"""Fitted scikit-learn estimators compiled, at load, into plans of NumPy operations.

scikit-learn spends most of a small request on what does not change between requests:
validating the input, building pandas frames, dispatching on each step's type and
parameters. :func:`compile_model` does that once. It walks the fitted estimator and turns
each step it knows into a node holding the fitted values as arrays and running the same
elementwise arithmetic scikit-learn runs (``X -= mean_; X /= scale_``, the same ``np.where``
fill, the same one-hot positions, the same ``X @ coef_.T + intercept_``), so the numbers are
scikit-learn's. A step it does not know becomes a :class:`Fallback` that calls scikit-learn
on the very input scikit-learn would have given it; every model therefore still works, and
:attr:`Plan.report` says which steps were compiled and which fall back.

Errors are scikit-learn's: when a compiled plan raises on a request (an unknown category
under ``handle_unknown="error"``, a string in a numeric column), the caller runs
scikit-learn itself on the same input, which raises its own message (or answers: the plan
is only ever a faster way to the same result).

Known steps (docs/serving.md lists the options of each): ``Pipeline``, ``ColumnTransformer``,
``FeatureUnion``; ``SimpleImputer``, the scalers, ``Normalizer``, ``Binarizer``,
``FunctionTransformer`` of a ufunc; ``OneHotEncoder``, ``OrdinalEncoder``,
``KBinsDiscretizer``, ``PolynomialFeatures``; the linear regressors and classifiers; decision
trees, forests and both gradient boostings.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import numpy as np
from scipy.special import expit
from sklearn.utils.extmath import row_norms, softmax

from ..trees import Tree, Walk, walk as _walk

try:
    import pandas as pd
except ImportError:  # pragma: no cover - pandas is a dependency of the runtime
    pd = None


def _within(path: str, name: str) -> str:
    """A step's path in the report: its parent's, then its name."""
    return f"{path}/{name}" if path else name


class Node:
    """One compiled step: ``run(X)`` takes what scikit-learn's step takes and returns what it returns."""

    label = ""

    def run(self, X: Any) -> Any:
        raise NotImplementedError

    def row(self, values: list) -> list | None:
        """One row of Python values through the step in plain float arithmetic, or None where
        this step has no such path or the row needs the array path (which then answers or
        raises exactly as ``run`` does)."""
        return None

    def report(self, path: str) -> list[tuple[str, bool]]:
        return [(path or self.label, True)]


@dataclass
class Fallback(Node):
    """A step the compiler does not know: scikit-learn's own method, on the same input."""

    estimator: Any
    method: str

    def run(self, X: Any) -> Any:
        return getattr(self.estimator, self.method)(X)

    def report(self, path: str) -> list[tuple[str, bool]]:
        return [(path or type(self.estimator).__name__, False)]


@dataclass
class Sequence(Node):
    steps: list[tuple[str, Node]]

    def run(self, X: Any) -> Any:
        for _, step in self.steps:
            X = step.run(X)
        return X

    def row(self, values: list) -> list | None:
        for _, step in self.steps:
            values = step.row(values)
            if values is None:
                return None
        return values

    def report(self, path: str) -> list[tuple[str, bool]]:
        return [entry for name, step in self.steps for entry in step.report(_within(path, name))]


@dataclass
class Columns(Node):
    """A fitted ``ColumnTransformer``: each part on its fitted column indices, then side by side."""

    parts: list[tuple[str, Node | str, list[int]]]  # (name, node, "passthrough" or "drop"; input indices)
    width: int
    names: list[str] | None  # the fitted column names: a frame must have them, in this order

    def run(self, X: Any) -> Any:
        if X.shape[1] != self.width:
            raise ValueError("width")  # scikit-learn words the error
        if self.names is not None and pd is not None and isinstance(X, pd.DataFrame) and list(X.columns) != self.names:
            raise ValueError("columns by name")  # scikit-learn selects by name: let it
        table = _columns(X)
        blocks = []
        for _, node, indices in self.parts:
            if node == "drop" or not indices:
                continue
            if node == "passthrough":
                blocks.append(_stack([table[i] for i in indices]))
            elif isinstance(node, Fallback):  # scikit-learn's step gets what ColumnTransformer gives it
                out = node.run(_subset(X, indices))
                blocks.append(out.toarray() if hasattr(out, "toarray") else np.asarray(out))
            else:
                blocks.append(node.run(_stack([table[i] for i in indices])))
        if not blocks:
            return np.zeros((X.shape[0], 0))
        return np.hstack(blocks)

    def row(self, values: list) -> list | None:
        if len(values) != self.width:
            return None
        out = []
        for _, node, indices in self.parts:
            if node == "drop" or not indices:
                continue
            part = [values[i] for i in indices]
            if node != "passthrough":
                part = node.row(part)
                if part is None:
                    return None
            out += part
        return out or None

    def report(self, path: str) -> list[tuple[str, bool]]:
        out = [(path or "ColumnTransformer", True)]
        for name, node, _ in self.parts:
            if isinstance(node, Node):
                out += node.report(_within(path, name))
        return out


def _floats(X: Any, allow_nan: bool = True, copy: bool = True) -> np.ndarray:
    """``X`` in the float type scikit-learn's checks keep (float64, float32 or float16;
    anything else becomes float64): a copy, for a step that computes in place, unless ``copy``
    is False (a step that only reads it) and ``X`` already has that type. Values scikit-learn's
    check refuses (infinities; NaN too unless allowed) raise, so that scikit-learn itself
    words the error."""
    X = np.asarray(X)
    if copy or X.dtype.kind != "f":
        X = np.array(X, dtype=X.dtype if X.dtype.kind == "f" else np.float64)
    if (np.isinf(X).any() if allow_nan else not np.isfinite(X).all()):
        raise ValueError("not finite")
    return X


@dataclass
class Imputer(Node):
    label = "SimpleImputer"
    statistics: np.ndarray
    width: int
    keep: np.ndarray | None  # columns kept (those whose statistic is not NaN), None: all
    numeric: bool
    indicator: np.ndarray | None = None  # add_indicator: the columns whose missing mask is appended

    def run(self, X: Any) -> np.ndarray:
        if self.numeric:
            X = _floats(X)
            mask = np.isnan(X)
        else:
            X = np.array(X, dtype=object)
            mask = X != X  # scikit-learn's NaN test for object arrays
        if X.ndim != 2 or X.shape[1] != self.width:
            raise ValueError("width")  # scikit-learn words the error
        indicator = None if self.indicator is None else mask[:, self.indicator]
        if self.keep is not None:
            X, mask = X[:, self.keep], mask[:, self.keep]
        if mask.any():  # in place, so the values take X's type, as scikit-learn's assignment does
            X[mask] = np.broadcast_to(self.statistics, X.shape)[mask]
        return X if indicator is None else np.hstack((X, indicator))

    def row(self, values: list) -> list | None:
        fills = self._fills
        if fills is None or len(values) != self.width or (self.numeric and not _finite_floats(values, nan=True)):
            return None
        if self.keep is None and self.indicator is None:  # the common case, in one pass
            return [fill if v != v else v for v, fill in zip(values, fills)]
        missing = [v != v for v in values]
        kept = values if self.keep is None else [values[i] for i in self._keep]
        gaps = missing if self.keep is None else [missing[i] for i in self._keep]
        out = [fill if gap else v for v, gap, fill in zip(kept, gaps, fills)]
        if self.indicator is not None:
            out += [1.0 if missing[i] else 0.0 for i in self._indicator]
        return out

    @cached_property
    def _fills(self) -> list | None:
        """The statistics as Python values; None for numbers not in float64, the row's type."""
        if self.numeric and self.statistics.dtype != np.float64:
            return None
        return self.statistics.tolist()

    @cached_property
    def _keep(self) -> list[int]:
        return self.keep.tolist()

    @cached_property
    def _indicator(self) -> list[int]:
        return self.indicator.tolist()


@dataclass
class Affine(Node):
    """Elementwise in-place steps on a float copy, in scikit-learn's order: what
    ``StandardScaler``, ``RobustScaler``, ``MinMaxScaler`` and ``MaxAbsScaler`` compute."""

    label = "scaler"
    steps: list[tuple[str, np.ndarray]]  # ("sub" | "div" | "mul" | "add", values)
    clip: tuple[float, float] | None = None
    cast: bool = False  # the values are cast to X's float type first (StandardScaler does)

    def run(self, X: Any) -> np.ndarray:
        X = _floats(X)
        for op, values in self.steps:
            if self.cast:
                values = values.astype(X.dtype, copy=False)
            if op == "sub":
                X -= values
            elif op == "div":
                X /= values
            elif op == "mul":
                X *= values
            else:
                X += values
        if self.clip is not None:
            np.clip(X, np.asarray(self.clip[0], dtype=X.dtype), np.asarray(self.clip[1], dtype=X.dtype), out=X)
        return X

    def row(self, values: list) -> list | None:
        steps = self._steps
        if steps is None or not _finite_floats(values, nan=True) or any(len(o) != len(values) for _, o in steps):
            return None
        for op, operands in steps:
            if op == "sub":
                values = [x - v for x, v in zip(values, operands)]
            elif op == "div":
                values = [x / v for x, v in zip(values, operands)]
            elif op == "mul":
                values = [x * v for x, v in zip(values, operands)]
            else:
                values = [x + v for x, v in zip(values, operands)]
        return values

    @cached_property
    def _steps(self) -> list[tuple[str, list[float]]] | None:
        """The fitted values as Python floats; None (the array path) for a clip, values not in
        float64 (the row's type), or a zero divisor (NumPy divides by it, Python raises)."""
        if self.clip is not None or any(np.asarray(v).dtype != np.float64 for _, v in self.steps):
            return None
        steps = [(op, np.broadcast_to(v, np.shape(v) or (1,)).tolist()) for op, v in self.steps]
        if any(op == "div" and 0.0 in operands for op, operands in steps):
            return None
        return steps


@dataclass
class Threshold(Node):
    """``Binarizer``: 1 above the threshold, else 0 (NaN too), as ``binarize`` writes it."""

    label = "Binarizer"
    threshold: float

    def run(self, X: Any) -> np.ndarray:
        X = _floats(X, allow_nan=False)
        above = X > self.threshold
        X[above] = 1
        X[~above] = 0
        return X


@dataclass
class Categories:
    """One feature's fitted categories. A few values are looked up in a dict, which is
    scikit-learn's own lookup (Python equality: ``1 == 1.0 == True``); many go through pandas'
    hash index, in C, where the two agree: string categories in an object index, which hashes
    and compares values as a dict does (whatever their type; NaN is set apart first), or
    categories and values all numbers in NumPy arrays."""

    table: dict  # value -> index in the fitted categories
    nan_at: int | None  # where NaN is a category
    index: Any = None  # the categories (NaN aside) as a pandas Index, when all strings or all numbers
    strings: bool = False

    MANY = 64  # rows from which the hash index is worth building the call

    def codes(self, values: np.ndarray) -> np.ndarray:
        """Each value's index in the categories (-1: unknown)."""
        if self.index is not None and len(values) >= self.MANY:
            codes = None
            if values.dtype.kind == "O" and self.strings:
                nan = values != values
                try:  # an object index of the values (not pandas' inferred str type, which converts them to Arrow)
                    codes = self.index.get_indexer(pd.Index(values, dtype=object, copy=False))
                except TypeError:  # an unhashable value: the dict lookup below says -1 for it
                    pass
            elif not self.strings and values.dtype.kind in "fiu":
                nan = np.isnan(values) if values.dtype.kind == "f" else None
                codes = self.index.get_indexer(values)
            if codes is not None:
                if nan is not None and nan.any():
                    codes[nan] = -1 if self.nan_at is None else self.nan_at
                return codes
        return np.fromiter((_lookup(self.table, self.nan_at, v) for v in values.tolist()), dtype=np.intp,
                           count=len(values))


def _codes(features: list[Categories], X: Any) -> list[np.ndarray]:
    """Each feature's values as their index in that feature's fitted categories (-1: unknown)."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != len(features):
        raise ValueError("width")  # scikit-learn words the error
    return [feature.codes(X[:, j]) for j, feature in enumerate(features)]


@dataclass
class OneHot(Node):
    """``OneHotEncoder``: each category's output column decided at load (infrequent
    categories grouped into one, the dropped one into none), so a row is one lookup and one
    write a feature."""

    label = "OneHotEncoder"
    features: list[Categories]
    columns: list[np.ndarray]  # category index -> output column (-1: none); the last entry: an unknown value's
    width: int
    refuse_unknown: bool
    dtype: Any  # None: the input's (KBinsDiscretizer's encoder writes in the bins' float type)

    def run(self, X: Any) -> np.ndarray:
        codes = _codes(self.features, X)
        out = np.zeros((len(codes[0]) if codes else 0, self.width), dtype=self.dtype or np.asarray(X).dtype)
        rows = np.arange(out.shape[0])
        for code, columns in zip(codes, self.columns):
            if self.refuse_unknown and (code < 0).any():
                raise ValueError("unknown category")  # scikit-learn words the error
            column = columns[code]  # -1 (unknown) reads the last entry
            hit = column >= 0
            out[rows[hit], column[hit]] = 1
        return out

    def row(self, values: list) -> list | None:
        columns_of = self._columns
        if columns_of is None or len(values) != len(self.features):
            return None
        out = [0.0] * self.width
        for value, feature, columns in zip(values, self.features, columns_of):
            code = _lookup(feature.table, feature.nan_at, value)
            if code < 0 and self.refuse_unknown:
                return None  # the array path raises, and scikit-learn words the error
            column = columns[code]
            if column >= 0:
                out[column] = 1.0
        return out

    @cached_property
    def _columns(self) -> list[list[int]] | None:
        """Each feature's output columns as Python ints; None unless the output is float64."""
        if self.dtype is None or np.dtype(self.dtype) != np.float64:
            return None
        return [columns.tolist() for columns in self.columns]


@dataclass
class Ordinal(Node):
    """``OrdinalEncoder``: the category's index, in the fitted output type; NaN (when a
    category) as ``encoded_missing_value``; an unknown value as ``unknown_value`` or refused."""

    label = "OrdinalEncoder"
    features: list[Categories]
    dtype: Any
    missing_value: float
    unknown_value: float | None  # None: refused

    def run(self, X: Any) -> np.ndarray:
        codes = _codes(self.features, X)
        out = np.column_stack(codes).astype(self.dtype) if codes else np.zeros((len(X), 0), self.dtype)
        for j, (code, at) in enumerate(zip(codes, (feature.nan_at for feature in self.features))):
            unknown = code < 0
            if unknown.any():
                if self.unknown_value is None:
                    raise ValueError("unknown category")  # scikit-learn words the error
                out[unknown, j] = self.unknown_value
            if at is not None:
                out[code == at, j] = self.missing_value
        return out

    def row(self, values: list) -> list | None:
        if not self._float64 or len(values) != len(self.features):
            return None
        out = []
        for value, feature in zip(values, self.features):
            code = _lookup(feature.table, feature.nan_at, value)
            if code < 0:
                if self.unknown_value is None:
                    return None  # refused: the array path raises, and scikit-learn words the error
                out.append(float(self.unknown_value))
            elif code == feature.nan_at:
                out.append(float(self.missing_value))
            else:
                out.append(float(code))
        return out

    @cached_property
    def _float64(self) -> bool:
        return np.dtype(self.dtype) == np.float64


def _lookup(table: dict, nan_at: int | None, value: Any) -> int:
    if isinstance(value, float) and math.isnan(value):
        return -1 if nan_at is None else nan_at
    try:
        return table.get(value, -1)
    except TypeError:  # unhashable
        return -1


@dataclass
class Bins(Node):
    """``KBinsDiscretizer``: each value's bin, ``searchsorted`` on the inner edges as
    scikit-learn does, in the input's float type; then its one-hot encoder, if any."""

    label = "KBinsDiscretizer"
    edges: list[np.ndarray]
    dtype: Any  # None: float64 or float32, as given
    encoder: Node | None

    def run(self, X: Any) -> np.ndarray:
        X = _floats(X, allow_nan=False) if self.dtype is None else _floats(np.asarray(X, dtype=self.dtype), False)
        if X.ndim != 2 or X.shape[1] != len(self.edges):
            raise ValueError("width")
        for j, edges in enumerate(self.edges):
            X[:, j] = np.searchsorted(edges, X[:, j], side="right")
        return X if self.encoder is None else self.encoder.run(X)


@dataclass
class Norm(Node):
    """``Normalizer``: each row divided by its l1, l2 or max norm (a zero norm by one), with
    scikit-learn's own ``row_norms`` for l2."""

    label = "Normalizer"
    norm: str

    def run(self, X: Any) -> np.ndarray:
        X = _floats(X, allow_nan=False)
        if X.ndim != 2:
            raise ValueError("shape")
        if self.norm == "l1":
            norms = np.sum(np.abs(X), axis=1)
        elif self.norm == "l2":
            norms = row_norms(X)
        else:
            norms = np.max(np.abs(X), axis=1)
        norms[norms < 10 * np.finfo(norms.dtype).eps] = 1.0  # what _handle_zeros_in_scale does to a norm
        X /= norms[:, None]
        return X


@dataclass
class Polynomial(Node):
    """``PolynomialFeatures``: every product column made as scikit-learn makes it, an earlier
    column times one input feature, a degree at a time (so each product is rounded as
    scikit-learn rounds it); then the columns ``min_degree`` keeps."""

    label = "PolynomialFeatures"
    width: int  # input features
    full: int  # columns before min_degree's cut
    bias: bool
    blocks: list[tuple[int, np.ndarray, np.ndarray]]  # (first column, earlier columns, features) per degree
    keep: np.ndarray | None

    def run(self, X: Any) -> np.ndarray:
        X = _floats(X, allow_nan=False, copy=False)  # read, not written
        if X.ndim != 2 or X.shape[1] != self.width:
            raise ValueError("width")
        out = np.empty((X.shape[0], self.full), dtype=X.dtype)
        first = int(self.bias)
        if self.bias:
            out[:, 0] = 1
        out[:, first:first + self.width] = X
        for at, earlier, features in self.blocks:
            np.multiply(out[:, earlier], X[:, features], out=out[:, at:at + len(earlier)])
        return out if self.keep is None else out[:, self.keep]


@dataclass
class Union(Node):
    """``FeatureUnion``: every part on the same input, each weighted, side by side."""

    label = "FeatureUnion"
    parts: list[tuple[str, Node | None, float | None]]  # None: passthrough

    def run(self, X: Any) -> np.ndarray:
        blocks = []
        for _, node, weight in self.parts:
            out = X if node is None else node.run(X)
            out = out.toarray() if hasattr(out, "toarray") else np.asarray(out)
            blocks.append(out if weight is None else out * weight)
        return np.hstack(blocks)

    def report(self, path: str) -> list[tuple[str, bool]]:
        out = [(path or "FeatureUnion", True)]
        for name, node, _ in self.parts:
            if node is not None:
                out += node.report(_within(path, name))
        return out


@dataclass
class Function(Node):
    """``FunctionTransformer`` of nothing (what ``remainder="passthrough"`` becomes) or of a NumPy ufunc."""

    label = "FunctionTransformer"
    func: Any

    def run(self, X: Any) -> Any:
        return X if self.func is None else self.func(X)

    def row(self, values: list) -> list | None:
        return values if self.func is None else None  # a ufunc's scalar loop may round otherwise than its array loop


@dataclass
class Linear(Node):
    """``X @ coef_.T + intercept_``, as scikit-learn's linear models compute it, then what
    the method makes of the scores: the values (a regressor), the scores, the class, or the
    probabilities (the logistic of each score, normalized one-vs-rest, or the softmax),
    with scikit-learn's own ``expit`` and ``softmax``."""

    label = "linear model"
    coef_t: np.ndarray
    intercept: Any
    output: str = "value"  # "value", "decision", "label", "ovr" or "softmax"
    classes: np.ndarray | None = None

    def run(self, X: Any) -> np.ndarray:
        X = _floats(X, allow_nan=False, copy=False)  # read, not written
        scores = X @ self.coef_t + self.intercept
        if self.output == "value":
            return scores
        if scores.ndim > 1 and scores.shape[1] == 1:
            scores = scores.reshape(-1)
        if self.output == "decision":
            return scores
        if self.output == "label":
            return self.classes.take((scores > 0).astype(np.intp) if scores.ndim == 1 else np.argmax(scores, axis=1), axis=0)
        if self.output == "softmax":
            return softmax(scores if scores.ndim > 1 else np.c_[-scores, scores], copy=False)
        prob = expit(scores, out=scores)  # one-vs-rest, as _predict_proba_lr normalizes it
        if prob.ndim == 1:
            return np.stack([1 - prob, prob], axis=1)
        total = prob.sum(axis=1)
        none = total == 0
        if none.any():
            prob[none, :] = 1
            total[none] = prob.shape[1]
        prob /= total.reshape((prob.shape[0], -1))
        return prob


def _rows(X: Any, dtype: Any, width: int, allow_nan: bool, allow_inf: bool) -> np.ndarray:
    """The rows as the trees read them; what scikit-learn would refuse raises (it then words
    the error)."""
    X = np.asarray(X)
    X = X.astype(dtype) if X.dtype != dtype else X
    if X.ndim != 2 or X.shape[1] != width:
        raise ValueError("width")
    if (not allow_inf and np.isinf(X).any()) or (not allow_nan and np.isnan(X).any()):
        raise ValueError("not finite")
    return X


@dataclass
class Forest(Node):
    """Decision trees, one or an averaged forest. The rows in float32, as scikit-learn's
    trees read them. Leaf values are summed tree by tree in order (``cumsum`` adds
    sequentially, as scikit-learn's ``y_hat += prediction`` does), then divided by the
    number of trees."""

    label = "trees"
    walk: Walk
    value: np.ndarray  # (leaves, k): a regressor's value (k = 1) or a classifier's class fractions
    width: int
    forest: bool  # average over the trees (a forest) or the one tree's value
    classes: np.ndarray | None  # a classifier's classes_, for predict
    output: str  # "value", "proba" or "label"

    def run(self, X: Any) -> np.ndarray:
        # NaN: routed by scikit-learn (a tree fitted without missing values refuses them)
        X = _rows(X, np.float32, self.width, allow_nan=False, allow_inf=False)
        values = self.value[self.walk.exits(X)]  # (rows, trees, k)
        if self.forest:
            values = np.cumsum(values, axis=1)[:, -1] / values.shape[1]
        else:
            values = values[:, 0]
        if self.output == "value":
            return values[:, 0]
        if self.output == "proba":
            return values
        return self.classes.take(np.argmax(values, axis=1), axis=0)


@dataclass
class Boosted(Node):
    """Gradient boosting: the baseline, then every tree's (scaled) leaf value added in turn,
    per output (``cumsum`` adds in the order scikit-learn's ``raw += tree`` does); then
    scikit-learn's own link, loss or class choice on the sums."""

    label = "boosting"
    walk: Walk
    value: np.ndarray  # (leaves,): learning rate times the leaf value where scikit-learn scales it
    base: np.ndarray  # (k,): the raw prediction before any tree
    width: int
    dtype: Any  # float32 (GradientBoosting*, through its trees) or float64 (HistGradientBoosting*)
    finish: Callable[[np.ndarray], Any]  # raw (rows, k) -> what the method returns
    missing: bool = False  # NaN rows are the trees' to route (HistGradientBoosting*)

    def run(self, X: Any) -> Any:
        X = _rows(X, self.dtype, self.width, allow_nan=self.missing, allow_inf=self.missing)
        k = len(self.base)
        values = self.value[self.walk.exits(X)].reshape(X.shape[0], -1, k)  # (rows, iterations, k)
        start = np.broadcast_to(self.base, (X.shape[0], 1, k))
        return self.finish(np.cumsum(np.concatenate([start, values], axis=1), axis=1)[:, -1])


def _finite_floats(values: list, nan: bool) -> bool:
    """Every value a Python float, none infinite (nor NaN unless ``nan``): what the one-row
    path computes on; anything else takes the array path, which raises or converts as
    scikit-learn's checks do."""
    for v in values:
        if type(v) is not float or v in _INFINITIES or (not nan and v != v):
            return False
    return True


_INFINITIES = (math.inf, -math.inf)


# -- the input as scikit-learn's steps see it ---------------------------------------------
def _columns(X: Any) -> list[np.ndarray]:
    """The columns of ``X`` as arrays. A frame is read in one ``to_numpy`` (object when its
    columns are mixed: the numbers stay the same floats), four times faster than column by
    column."""
    if isinstance(X, list):  # a ColumnBatch: the decoder's own typed columns
        return X
    if pd is not None and isinstance(X, pd.DataFrame):
        values = X.to_numpy()
        if values.dtype != object:
            return [values[:, i] for i in range(values.shape[1])]
        return [values[:, i].astype(dtype) if dtype.kind in "fiub" else values[:, i]  # each column's own type
                for i, dtype in enumerate(X.dtypes)]
    X = np.asarray(X)
    return [X[:, i] for i in range(X.shape[1])]


def _subset(X: Any, indices: list[int]) -> Any:
    if isinstance(X, list):
        return _stack([X[i] for i in indices])
    if pd is not None and isinstance(X, pd.DataFrame):
        return X.iloc[:, indices]
    return np.asarray(X)[:, indices]


def _stack(columns: list[np.ndarray]) -> np.ndarray:
    """Columns side by side, as NumPy stacks them: one common type (object if any is)."""
    return np.column_stack(columns)


# -- the compiler ---------------------------------------------------------------------------
@dataclass
class Plan:
    """A compiled model: ``run`` gives what ``method`` gives; ``report`` lists (step, compiled)."""

    root: Node
    method: str
    report: list[tuple[str, bool]] = field(default_factory=list)

    def run(self, X: Any) -> Any:
        if isinstance(X, list) and not isinstance(self.root, Columns):
            X = _stack(list(X))  # a decoder's columns: only a ColumnTransformer reads them as they are
        return self.root.run(X)

    def row(self, values: list) -> list[float] | None:
        """One row's output as Python floats, through the steps' one-row paths: the same
        float64 arithmetic as ``run`` on that row (elementwise, so the same bits), without an
        array per step. None where a step has no such path, the output is not all floats, or
        the row needs the array path."""
        out = self.root.row(values)
        if not out or not all(type(v) is float for v in out):
            return None
        return out

    @cached_property
    def complete(self) -> bool:
        """Every step compiled: the plan may take positional columns straight from a decoder."""
        return all(done for _, done in self.report)

    def summary(self) -> str:
        done = [path for path, ok in self.report if ok]
        fallback = [path for path, ok in self.report if not ok]
        parts = [f"compiled: {', '.join(done) or 'nothing'}"]
        if fallback:
            parts.append(f"run by scikit-learn: {', '.join(fallback)}")
        return "; ".join(parts)


def compile_model(estimator: Any, method: str) -> Plan:
    root = _compile(estimator, method)
    return Plan(root, method, root.report(""))


def _compile(est: Any, method: str) -> Node:
    compiler = _COMPILERS.get(type(est).__name__)
    if compiler is not None and type(est).__module__.startswith("sklearn."):
        node = compiler(est, method)
        if node is not None:
            node.label = type(est).__name__
            return node
    return Fallback(est, method)


def _pipeline(est: Any, method: str) -> Node | None:
    steps = [(name, step) for name, step in est.steps if step not in (None, "passthrough")]
    if not steps:
        return None
    nodes = [(name, _compile(step, "transform")) for name, step in steps[:-1]]
    nodes.append((steps[-1][0], _compile(steps[-1][1], method)))
    return Sequence(nodes)


def _column_transformer(est: Any, method: str) -> Node | None:
    if method != "transform" or not hasattr(est, "_transformer_to_input_indices"):
        return None
    parts = []
    for name, trans, _ in est.transformers_:
        indices = list(est._transformer_to_input_indices.get(name, []))
        if isinstance(trans, str):
            if trans not in ("drop", "passthrough"):
                return None
            parts.append((name, trans, indices))
        else:
            parts.append((name, _compile(trans, "transform"), indices))
    names = getattr(est, "feature_names_in_", None)
    return Columns(parts, est.n_features_in_, None if names is None else list(names))


def _imputer(est: Any, method: str) -> Node | None:
    missing = est.missing_values
    if method != "transform" or not (isinstance(missing, float) and math.isnan(missing)):
        return None
    indicator = None
    if est.add_indicator:
        found = est.indicator_  # scikit-learn's own: the columns with missing values at fit, never refusing
        if found.error_on_new or found.sparse is True or found.features != "missing-only":
            return None
        indicator = np.asarray(found.features_)
    kind = est._fit_dtype.kind
    if kind not in "fiuO":
        return None
    statistics = np.asarray(est.statistics_)
    width = len(statistics)
    fill_dtype = getattr(est, "_fill_dtype", statistics.dtype)
    keep = None
    if not est.keep_empty_features:  # a feature with no value at fit has no statistic: scikit-learn drops it
        invalid = statistics != statistics
        if invalid.any():
            keep = np.flatnonzero(~invalid)
            statistics = statistics[keep]
    return Imputer(statistics.astype(fill_dtype, copy=False), width, keep, kind != "O", indicator)


def _scaler(est: Any, method: str) -> Node | None:
    if method != "transform":
        return None
    name = type(est).__name__
    if name == "StandardScaler":
        steps = [("sub", est.mean_)] * bool(est.with_mean) + [("div", est.scale_)] * bool(est.with_std)
        return Affine([(op, v) for op, v in steps if v is not None], cast=True)
    if name == "RobustScaler":
        steps = [("sub", est.center_)] * bool(est.with_centering) + [("div", est.scale_)] * bool(est.with_scaling)
        return Affine(steps)
    if name == "MinMaxScaler":
        return Affine([("mul", est.scale_), ("add", est.min_)], tuple(est.feature_range) if est.clip else None)
    if name == "MaxAbsScaler":
        return Affine([("div", est.scale_)], (-1.0, 1.0) if getattr(est, "clip", False) else None)
    return None


def _binarizer(est: Any, method: str) -> Node | None:
    return Threshold(float(est.threshold)) if method == "transform" else None


def _categories(est: Any) -> list[Categories]:
    features = []
    for categories in est.categories_:
        table, where = {}, None
        for i, value in enumerate(categories.tolist()):
            if isinstance(value, float) and math.isnan(value):
                where = i
            else:
                table[value] = i
        keys = list(table)
        strings = all(type(k) is str for k in keys)
        numbers = all(type(k) in (int, float) for k in keys)
        index = None
        if pd is not None and keys and (strings or numbers):
            index = pd.Index(keys, dtype=object) if strings else pd.Index(np.array(keys, dtype=np.float64))
            if not index.is_unique:
                index = None
        features.append(Categories(table, where, index, strings))
    return features


def _one_hot(est: Any, method: str) -> Node | None:
    """Every ``drop`` and ``handle_unknown``: a category's column is its grouped index
    (infrequent ones share the group's), less one past the dropped index; an unknown value
    goes to the infrequent group where scikit-learn sends it there, else nowhere."""
    if method != "transform" or est.handle_unknown not in ("ignore", "error", "infrequent_if_exist", "warn"):
        return None
    features = _categories(est)
    infrequent = getattr(est, "_infrequent_enabled", False)
    drops = getattr(est, "_drop_idx_after_grouping", None)
    columns, at = [], 0
    for i, categories in enumerate(est.categories_):
        mapping = est._default_to_infrequent_mappings[i] if infrequent else None
        grouped = np.arange(len(categories)) if mapping is None else np.asarray(mapping)
        drop = None if drops is None or drops[i] is None else int(drops[i])

        def column(g: int, at: int = at, drop: int | None = drop) -> int:
            return -1 if g == drop else at + g - (drop is not None and g > drop)

        unknown = -1
        if infrequent and est.handle_unknown in ("infrequent_if_exist", "warn") and est._infrequent_indices[i] is not None:
            unknown = column(int(grouped[est._infrequent_indices[i][0]]))
        columns.append(np.array([column(int(g)) for g in grouped] + [unknown], dtype=np.intp))
        at += est._n_features_outs[i]
    return OneHot(features, columns, at, est.handle_unknown == "error", est.dtype)


def _ordinal(est: Any, method: str) -> Node | None:
    if method != "transform" or getattr(est, "_infrequent_enabled", False):
        return None
    unknown = est.unknown_value if est.handle_unknown == "use_encoded_value" else None
    return Ordinal(_categories(est), est.dtype, est.encoded_missing_value, unknown)


def _bins(est: Any, method: str) -> Node | None:
    if method != "transform":
        return None
    encoder = None
    if est.encode != "ordinal":
        encoder = _one_hot(est._encoder, "transform")
        if encoder is None:
            return None
        encoder.dtype = None
    return Bins([np.asarray(edges)[1:-1] for edges in est.bin_edges_], est.dtype, encoder)


def _normalizer(est: Any, method: str) -> Node | None:
    return Norm(est.norm) if method == "transform" else None


def _polynomial(est: Any, method: str) -> Node | None:
    """The columns of scikit-learn's dense loop, worked out once: the degree-d block is the
    degree-(d-1) columns from each feature's start on (past it, for interactions only),
    times that feature."""
    if method != "transform":
        return None
    n, bias = est.n_features_in_, bool(est.include_bias)
    low, high = (est.degree, est.degree) if isinstance(est.degree, int) else tuple(est.degree)
    low = 0 if isinstance(est.degree, int) else low
    if high == 0:
        return None
    at = int(bias)
    index = list(range(at, at + n)) + [at + n]
    at += n
    blocks = []
    for _ in range(2, high + 1):
        earlier, features, new_index, end, start_of_block = [], [], [], index[-1], at
        for f in range(n):
            start = index[f]
            new_index.append(at)
            if est.interaction_only:
                start += index[f + 1] - index[f]
            if at + end - start <= at:
                break
            earlier += range(start, end)
            features += [f] * (end - start)
            at += end - start
        new_index.append(at)
        index = new_index
        if earlier:
            blocks.append((start_of_block, np.array(earlier, dtype=np.intp), np.array(features, dtype=np.intp)))
    if at != est._n_out_full:
        return None  # not the layout this version of scikit-learn writes: leave it to scikit-learn
    keep = None
    if low > 1:
        kept = est.n_output_features_
        keep = np.r_[[0] if bias else [], np.arange(at - kept + bias, at)].astype(np.intp)
    return Polynomial(n, at, bias, blocks, keep)


def _union(est: Any, method: str) -> Node | None:
    if method != "transform" or getattr(est, "_sklearn_output_config", {}).get("transform") not in (None, "default"):
        return None
    weights = est.transformer_weights or {}
    parts = []
    for name, trans in est.transformer_list:
        if trans == "drop":
            continue
        parts.append((name, None if trans == "passthrough" else _compile(trans, "transform"), weights.get(name)))
    return Union(parts) if parts else None


def _function(est: Any, method: str) -> Node | None:
    if method != "transform" or est.validate or est.kw_args or not (est.func is None or isinstance(est.func, np.ufunc)):
        return None
    return Function(est.func)


def _linear(est: Any, method: str) -> Node | None:
    if not hasattr(est, "coef_") or getattr(est, "multi_label_", False):
        return None
    coef_t = np.asarray(est.coef_).T
    if not hasattr(est, "classes_"):
        return Linear(coef_t, est.intercept_) if method == "predict" else None
    if getattr(getattr(est, "_label_binarizer", None), "y_type_", "").startswith("multilabel"):
        return None  # RidgeClassifier fitted on several labels: its predict is its own
    output = {"decision_function": "decision", "predict": "label"}.get(method)
    if method == "predict_proba":
        name = type(est).__name__
        if name == "LogisticRegression":
            output = "ovr" if len(est.classes_) <= 2 else "softmax"
        elif name == "SGDClassifier" and est.loss == "log_loss":
            output = "ovr"
    return None if output is None else Linear(coef_t, est.intercept_, output, est.classes_)


def _trees(est: Any, method: str) -> Node | None:
    trees = getattr(est, "estimators_", None)
    forest = trees is not None
    trees = list(trees) if forest else [est]
    classifier = hasattr(est, "classes_")
    if getattr(est, "n_outputs_", 1) != 1 or not trees or not hasattr(trees[0], "tree_"):
        return None
    if method not in (("predict", "predict_proba") if classifier else ("predict",)):
        return None
    walk, value = _walk([_tree(t.tree_, est.n_classes_ if classifier else 1) for t in trees])
    output = "value" if not classifier else "proba" if method == "predict_proba" else "label"
    return Forest(walk, value.astype(np.float64), est.n_features_in_, forest, est.classes_ if classifier else None, output)


def _tree(t: Any, k: int, scale: float | None = None) -> Tree:
    value = t.value[:, 0, :k]
    return Tree(t.feature, t.threshold, t.children_left, t.children_right,
                value if scale is None else scale * value, t.max_depth)


def _hist_boosting(est: Any, method: str) -> Node | None:
    """``HistGradientBoosting*`` with numeric features (any loss): the baseline plus every
    tree's leaf value, tree by tree, then the loss's inverse link (a regressor), its
    probabilities or the class (a classifier), as scikit-learn's methods finish."""
    finish = _boosting_finish(est, method, proba_of=lambda raw: raw, strict=True)
    if (finish is None or (est.is_categorical_ is not None and np.any(est.is_categorical_))
            or getattr(est, "_preprocessor", None) is not None):
        return None
    trees = []
    for predictors in est._predictors:  # an iteration: one tree per output, in output order
        for predictor in predictors:
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                return None
            leaf = nodes["is_leaf"].astype(bool)
            trees.append(Tree(nodes["feature_idx"].astype(np.intp), nodes["num_threshold"],
                              np.where(leaf, -1, nodes["left"].astype(np.intp)), np.where(leaf, -1, nodes["right"].astype(np.intp)),
                              nodes["value"].astype(np.float64)[:, None], int(nodes["depth"].max()),
                              nodes["missing_go_to_left"].astype(bool)))
    if not trees:
        return None
    walk, value = _walk(trees)
    base = np.asarray(est._baseline_prediction, dtype=np.float64).ravel()
    return Boosted(walk, value[:, 0], base, est.n_features_in_, np.float64, finish, missing=True)


def _gradient_boosting(est: Any, method: str) -> Node | None:
    """``GradientBoosting*`` with a constant start (``init`` a scikit-learn dummy or
    ``"zero"``): the start, then the learning rate times each tree's leaf value, added in
    turn (``raw += learning_rate * value`` in scikit-learn's loop)."""
    init = est.init_
    if not (isinstance(init, str) or (type(init).__module__.startswith("sklearn.dummy")
                                      and getattr(init, "strategy", "") not in ("stratified", "uniform"))):
        return None
    finish = _boosting_finish(est, method, proba_of=np.ravel, strict=False)
    if finish is None:
        return None
    with warnings.catch_warnings():  # a row without the fitted names: the start does not read it
        warnings.simplefilter("ignore")
        base = est._raw_predict_init(np.zeros((1, est.n_features_in_), dtype=np.float32))[0].astype(np.float64)
    walk, value = _walk([_tree(tree.tree_, 1, est.learning_rate) for stage in est.estimators_ for tree in stage])
    return Boosted(walk, value[:, 0], base, est.n_features_in_, np.float32, finish)


def _boosting_finish(est: Any, method: str, proba_of: Callable, strict: bool) -> Callable | None:
    """What a boosting model's ``method`` does with the raw sums (rows, k). The two families
    differ at a binary classifier's zero: ``HistGradientBoosting*`` say class 1 above it
    (``strict``), ``GradientBoosting*`` at it or above; and in what their loss is given for
    probabilities (the (rows, 1) sums or their ravel)."""
    if not hasattr(est, "classes_"):
        if method != "predict":
            return None
        link = est._loss.link.inverse if strict else np.ravel  # GradientBoostingRegressor returns the sums
        return lambda raw: link(raw.ravel())
    if method == "decision_function":
        return lambda raw: raw.ravel() if raw.shape[1] == 1 else raw
    if method == "predict_proba":
        loss = est._loss
        return lambda raw: loss.predict_proba(proba_of(raw) if raw.shape[1] == 1 else raw)
    if method == "predict":
        classes, positive = est.classes_, np.greater if strict else np.greater_equal
        return lambda raw: classes[positive(raw.ravel(), 0).astype(int) if raw.shape[1] == 1 else np.argmax(raw, axis=1)]
    return None


_COMPILERS: dict[str, Callable[[Any, str], Node | None]] = {
    "Pipeline": _pipeline,
    "ColumnTransformer": _column_transformer,
    "SimpleImputer": _imputer,
    **{name: _scaler for name in ("StandardScaler", "RobustScaler", "MinMaxScaler", "MaxAbsScaler")},
    "Binarizer": _binarizer,
    "OneHotEncoder": _one_hot,
    "OrdinalEncoder": _ordinal,
    "KBinsDiscretizer": _bins,
    "Normalizer": _normalizer,
    "PolynomialFeatures": _polynomial,
    "FeatureUnion": _union,
    "FunctionTransformer": _function,
    **{name: _linear for name in ("LinearRegression", "Ridge", "Lasso", "ElasticNet", "SGDRegressor", "LinearSVR",
                                  "LogisticRegression", "SGDClassifier", "LinearSVC", "RidgeClassifier",
                                  "Perceptron")},
    **{name: _trees for name in ("DecisionTreeRegressor", "DecisionTreeClassifier", "RandomForestRegressor",
                                 "RandomForestClassifier", "ExtraTreesRegressor", "ExtraTreesClassifier")},
    **{name: _hist_boosting for name in ("HistGradientBoostingRegressor", "HistGradientBoostingClassifier")},
    **{name: _gradient_boosting for name in ("GradientBoostingRegressor", "GradientBoostingClassifier")},
}
