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

Known steps: ``Pipeline``, ``ColumnTransformer`` (the fitted column indices; ``remainder``
drop, passthrough or a transformer), ``SimpleImputer`` (NaN missing values, every strategy,
no indicator), ``StandardScaler``, ``RobustScaler``, ``MinMaxScaler``, ``MaxAbsScaler``,
``Binarizer``, ``OneHotEncoder`` (no ``drop``, no infrequent categories;
unknown values ignored or refused), ``FunctionTransformer`` of nothing or of a NumPy ufunc,
the linear regressors' ``predict`` (``LinearRegression``, ``Ridge``, ``Lasso``,
``ElasticNet``), and decision trees and their forests (``DecisionTree*``, ``RandomForest*``,
``ExtraTrees*``: one output; classifiers' ``predict`` and ``predict_proba``) and
``HistGradientBoostingRegressor`` (squared error, no categorical features).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

try:
    import pandas as pd
except ImportError:  # pragma: no cover - pandas is a dependency of the runtime
    pd = None


class Node:
    """One compiled step: ``run(X)`` takes what scikit-learn's step takes and returns what it returns."""

    label = ""

    def run(self, X: Any) -> Any:
        raise NotImplementedError

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

    def report(self, path: str) -> list[tuple[str, bool]]:
        return [entry for name, step in self.steps for entry in step.report(f"{path}/{name}" if path else name)]


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

    def report(self, path: str) -> list[tuple[str, bool]]:
        out = [(path or "ColumnTransformer", True)]
        for name, node, _ in self.parts:
            if isinstance(node, Node):
                out += node.report(f"{path}/{name}" if path else name)
        return out


def _floats(X: Any, allow_nan: bool = True) -> np.ndarray:
    """A copy of ``X`` in the float type scikit-learn's checks keep (float64, float32 or
    float16; anything else becomes float64). Values scikit-learn's check refuses (infinities;
    NaN too unless allowed) raise, so that scikit-learn itself words the error."""
    X = np.asarray(X)
    X = np.array(X, dtype=X.dtype if X.dtype.kind == "f" else np.float64)
    if (np.isinf(X).any() if allow_nan else not np.isfinite(X).all()):
        raise ValueError("not finite")
    return X


@dataclass
class Imputer(Node):
    label = "SimpleImputer"
    statistics: np.ndarray
    keep: np.ndarray | None  # columns kept (those whose statistic is not NaN), None: all
    numeric: bool

    def run(self, X: Any) -> np.ndarray:
        if self.numeric:
            X = _floats(X)
            mask = np.isnan(X)
        else:
            X = np.array(X, dtype=object)
            mask = X != X  # scikit-learn's NaN test for object arrays
        if self.keep is not None:
            X, mask = X[:, self.keep], mask[:, self.keep]
        if mask.any():  # in place, so the values take X's type, as scikit-learn's assignment does
            X[mask] = np.broadcast_to(self.statistics, X.shape)[mask]
        return X


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
class OneHot(Node):
    label = "OneHotEncoder"
    tables: list[dict]  # value -> position in that feature's categories
    nan_at: list[int | None]  # where NaN is a category
    offsets: np.ndarray
    width: int
    ignore_unknown: bool
    dtype: Any

    def run(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self.tables):
            raise ValueError("width")  # scikit-learn words the error
        out = np.zeros((X.shape[0], self.width), dtype=self.dtype)
        rows = np.arange(X.shape[0])
        for j, (table, nan_at) in enumerate(zip(self.tables, self.nan_at)):
            codes = np.fromiter((_lookup(table, nan_at, v) for v in X[:, j].tolist()), dtype=np.int64, count=X.shape[0])
            known = codes >= 0
            if not known.all() and not self.ignore_unknown:
                raise ValueError("unknown category")  # scikit-learn words the error
            out[rows[known], self.offsets[j] + codes[known]] = 1
        return out


def _lookup(table: dict, nan_at: int | None, value: Any) -> int:
    if isinstance(value, float) and math.isnan(value):
        return -1 if nan_at is None else nan_at
    try:
        return table.get(value, -1)
    except TypeError:  # unhashable
        return -1


@dataclass
class Function(Node):
    """``FunctionTransformer`` of nothing (what ``remainder="passthrough"`` becomes) or of a NumPy ufunc."""

    label = "FunctionTransformer"
    func: Any

    def run(self, X: Any) -> Any:
        return X if self.func is None else self.func(X)


@dataclass
class Linear(Node):
    label = "linear model"
    coef_t: np.ndarray
    intercept: Any

    def run(self, X: Any) -> np.ndarray:
        X = _floats(X, allow_nan=False)
        return X @ self.coef_t + self.intercept


@dataclass
class Forest(Node):
    """Decision trees, one or an averaged forest, walked for every row and every tree at
    once: the fitted nodes of all trees in flat arrays (a leaf points to itself), the rows
    in float32 as scikit-learn's trees read them, a float32 value against a float64
    threshold compared as C compares them. Leaf values are summed tree by tree in order
    (``cumsum`` adds sequentially, as scikit-learn's ``y_hat += prediction`` does), then
    divided by the number of trees."""

    label = "trees"
    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray  # (nodes, k): a regressor's value (k = 1) or a classifier's class fractions
    depth: int
    forest: bool  # average over the trees (a forest) or the one tree's value
    classes: np.ndarray | None  # a classifier's classes_, for predict
    output: str  # "value", "proba" or "label"
    base: float | None = None  # boosting: the baseline, to which every tree's value is added in turn
    missing_left: np.ndarray | None = None  # boosting: where a NaN goes at each node
    dtype: Any = np.float32  # how the rows are read: float32 (trees, forests), float64 (boosting)

    def run(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        X = X.astype(self.dtype) if X.dtype != self.dtype else X
        if X.ndim != 2 or np.isinf(X).any() or (self.missing_left is None and np.isnan(X).any()):
            raise ValueError("not finite")  # refusals, and a forest's NaN routing, are scikit-learn's to decide
        rows = np.arange(X.shape[0])[:, None]
        node = np.broadcast_to(self.roots, (X.shape[0], len(self.roots))).copy()
        for _ in range(self.depth):
            x = X[rows, self.feature[node]]
            go_left = x <= self.threshold[node]
            if self.missing_left is not None:
                go_left = np.where(np.isnan(x), self.missing_left[node], go_left)
            node = np.where(go_left, self.left[node], self.right[node])
        values = self.value[node]  # (rows, trees, k)
        if self.base is not None:  # baseline + tree 1 + tree 2 + ..., in that order
            start = np.full((values.shape[0], 1, values.shape[2]), self.base)
            values = np.cumsum(np.concatenate([start, values], axis=1), axis=1)[:, -1]
        elif self.forest:
            values = np.cumsum(values, axis=1)[:, -1] / len(self.roots)
        else:
            values = values[:, 0]
        if self.output == "value":
            return values[:, 0]
        if self.output == "proba":
            return values
        return self.classes.take(np.argmax(values, axis=1), axis=0)


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

    @property
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
    if method != "transform" or est.add_indicator or not (isinstance(missing, float) and math.isnan(missing)):
        return None
    kind = est._fit_dtype.kind
    if kind not in "fiuO":
        return None
    statistics = np.asarray(est.statistics_)
    fill_dtype = getattr(est, "_fill_dtype", statistics.dtype)
    keep = None
    if not est.keep_empty_features:  # a feature with no value at fit has no statistic: scikit-learn drops it
        invalid = statistics != statistics
        if invalid.any():
            keep = np.flatnonzero(~invalid)
            statistics = statistics[keep]
    return Imputer(statistics.astype(fill_dtype, copy=False), keep, kind != "O")


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


def _one_hot(est: Any, method: str) -> Node | None:
    if (method != "transform" or est.drop_idx_ is not None or getattr(est, "_infrequent_enabled", False)
            or est.handle_unknown not in ("ignore", "error")):
        return None
    tables, nan_at = [], []
    for categories in est.categories_:
        table, where = {}, None
        for i, value in enumerate(categories.tolist()):
            if isinstance(value, float) and math.isnan(value):
                where = i
            else:
                table[value] = i
        tables.append(table)
        nan_at.append(where)
    sizes = [len(c) for c in est.categories_]
    return OneHot(tables, nan_at, np.cumsum([0] + sizes[:-1]), sum(sizes), est.handle_unknown == "ignore", est.dtype)


def _function(est: Any, method: str) -> Node | None:
    if method != "transform" or est.validate or est.kw_args or not (est.func is None or isinstance(est.func, np.ufunc)):
        return None
    return Function(est.func)


def _linear(est: Any, method: str) -> Node | None:
    if method != "predict" or not hasattr(est, "coef_"):
        return None
    return Linear(np.asarray(est.coef_).T, est.intercept_)


def _trees(est: Any, method: str) -> Node | None:
    trees = getattr(est, "estimators_", None)
    forest = trees is not None
    trees = list(trees) if forest else [est]
    classifier = hasattr(est, "classes_")
    if getattr(est, "n_outputs_", 1) != 1 or not trees or not hasattr(trees[0], "tree_"):
        return None
    if method not in (("predict", "predict_proba") if classifier else ("predict",)):
        return None
    roots, features, thresholds, lefts, rights, values, at = [], [], [], [], [], [], 0
    for tree in trees:
        t = tree.tree_
        nodes = np.arange(t.node_count)
        leaf = t.children_left == -1
        roots.append(at)
        features.append(np.where(leaf, 0, t.feature))
        thresholds.append(np.where(leaf, 0.0, t.threshold))
        lefts.append(np.where(leaf, nodes, t.children_left) + at)
        rights.append(np.where(leaf, nodes, t.children_right) + at)
        values.append(t.value[:, 0, :est.n_classes_] if classifier else t.value[:, 0, :1])
        at += t.node_count
    output = "value" if not classifier else "proba" if method == "predict_proba" else "label"
    return Forest(np.array(roots), np.concatenate(features), np.concatenate(thresholds), np.concatenate(lefts),
                  np.concatenate(rights), np.concatenate(values).astype(np.float64), max(t.tree_.max_depth for t in trees),
                  forest, est.classes_ if classifier else None, output)


def _boosted(est: Any, method: str) -> Node | None:
    """``HistGradientBoostingRegressor`` with the squared error (its link is the identity) and
    no categorical features: the baseline plus every tree's leaf value, tree by tree."""
    if (method != "predict" or type(est._loss).__name__ != "HalfSquaredError" or est.n_trees_per_iteration_ != 1
            or (est.is_categorical_ is not None and np.any(est.is_categorical_))):
        return None
    roots, features, thresholds, lefts, rights, values, missing, depth, at = [], [], [], [], [], [], [], 0, 0
    for (predictor,) in est._predictors:
        nodes = predictor.nodes
        if nodes["is_categorical"].any():
            return None
        index = np.arange(len(nodes))
        leaf = nodes["is_leaf"].astype(bool)
        roots.append(at)
        features.append(np.where(leaf, 0, nodes["feature_idx"]))
        thresholds.append(np.where(leaf, 0.0, nodes["num_threshold"]))
        lefts.append(np.where(leaf, index, nodes["left"]) + at)
        rights.append(np.where(leaf, index, nodes["right"]) + at)
        values.append(nodes["value"].astype(np.float64)[:, None])
        missing.append(nodes["missing_go_to_left"].astype(bool))
        depth = max(depth, int(nodes["depth"].max()))
        at += len(nodes)
    if not roots:
        return None
    return Forest(np.array(roots), np.concatenate(features).astype(np.int64), np.concatenate(thresholds),
                  np.concatenate(lefts), np.concatenate(rights), np.concatenate(values), depth, False, None,
                  "value", base=float(np.asarray(est._baseline_prediction).ravel()[0]),
                  missing_left=np.concatenate(missing), dtype=np.float64)


_COMPILERS: dict[str, Callable[[Any, str], Node | None]] = {
    "Pipeline": _pipeline,
    "ColumnTransformer": _column_transformer,
    "SimpleImputer": _imputer,
    **{name: _scaler for name in ("StandardScaler", "RobustScaler", "MinMaxScaler", "MaxAbsScaler")},
    "Binarizer": _binarizer,
    "OneHotEncoder": _one_hot,
    "FunctionTransformer": _function,
    **{name: _linear for name in ("LinearRegression", "Ridge", "Lasso", "ElasticNet")},
    **{name: _trees for name in ("DecisionTreeRegressor", "DecisionTreeClassifier", "RandomForestRegressor",
                                 "RandomForestClassifier", "ExtraTreesRegressor", "ExtraTreesClassifier")},
    "HistGradientBoostingRegressor": _boosted,
}
