"""Decision trees and their ensembles: ``decision_tree_*``, ``random_forest_*``, ``gbt_*``
(``mleap-format.md`` sections 7, 8.22-8.24).

Every tree is flattened into arrays (feature, threshold, left, right, categories, leaf
values) and all the trees of a model are stacked, so one pass per tree level moves every
row down every tree at once: the Python loop runs ``depth`` times, never per row.
Ensemble sums run tree by tree in tree order, as Spark adds them (a random forest's
regression is bit-exact only that way).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ....errors import ConfigurationError
from .. import encode as enc
from . import register
from .predictor import (CLASSIFIER_OUTPUTS, Classifier, Regressor, dense_columns, float_list,
                        normalize_rows, spark_ports, thresholds_from_spark)

LEAF, CONTINUOUS, CATEGORICAL = 0, 1, 2


@dataclass
class Tree:
    """One tree as parallel per-node lists; node 0 is the root, children are indices."""

    kind: list[int] = field(default_factory=list)
    feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    categories: list[list[float]] = field(default_factory=list)
    is_left: list[bool] = field(default_factory=list)
    num_categories: list[int] = field(default_factory=list)
    left: list[int] = field(default_factory=list)
    right: list[int] = field(default_factory=list)
    values: list[list[float]] = field(default_factory=list)

    def add(self, kind=LEAF, feature=0, threshold=0.0, categories=(), is_left=True, num_categories=0,
            values=()) -> int:
        self.kind.append(kind)
        self.feature.append(int(feature))
        self.threshold.append(float(threshold))
        self.categories.append([float(c) for c in categories])
        self.is_left.append(bool(is_left))
        self.num_categories.append(int(num_categories))
        self.left.append(-1)
        self.right.append(-1)
        self.values.append([float(v) for v in values])
        return len(self.kind) - 1

    def depth(self) -> int:
        best, stack = 0, [(0, 0)]
        while stack:
            node, d = stack.pop()
            if self.kind[node] == LEAF:
                best = max(best, d)
            else:
                stack += [(self.left[node], d + 1), (self.right[node], d + 1)]
        return best

    # -- MLeap tree.json: one JSON object per line, pre-order ------------------------------
    @classmethod
    def from_json_lines(cls, text: str) -> "Tree":
        records = iter(json.loads(line) for line in text.splitlines() if line.strip())
        tree = cls()

        def build() -> int:
            record = next(records)
            if record["type"] == "leaf":
                return tree.add(values=record["values"])
            split = record["split"]
            if split["type"] == "continuous":
                node = tree.add(CONTINUOUS, split["featureIndex"], split["threshold"])
            else:
                node = tree.add(CATEGORICAL, split["featureIndex"], categories=split.get("categories", []),
                                is_left=split.get("isLeft", True), num_categories=split.get("numCategories", 0))
            left = build()
            tree.left[node], tree.right[node] = left, build()
            return node

        try:
            build()
        except StopIteration:
            raise ConfigurationError("tree.json ends before the tree is complete") from None
        return tree

    def to_json_lines(self) -> str:
        """Pre-order lines; categorical splits list the smaller side, as Spark's export does."""
        lines: list[str] = []

        def walk(node: int) -> None:
            if self.kind[node] == LEAF:
                lines.append(json.dumps({"type": "leaf", "values": self.values[node]}))
                return
            if self.kind[node] == CONTINUOUS:
                split = {"type": "continuous", "featureIndex": self.feature[node],
                         "threshold": self.threshold[node]}
            else:
                cats, is_left, n = self.categories[node], self.is_left[node], self.num_categories[node]
                other = [float(c) for c in range(n) if float(c) not in set(cats)]
                if len(other) < len(cats):
                    cats, is_left = other, not is_left
                split = {"type": "categorical", "featureIndex": self.feature[node], "isLeft": is_left,
                         "numCategories": n, "categories": cats}
            lines.append(json.dumps({"type": "internal", "split": split}))
            walk(self.left[node])
            walk(self.right[node])

        walk(0)
        return "\n".join(lines) + "\n"

    # -- Spark's node table: id, leftChild, rightChild, prediction, impurityStats, split ---
    @classmethod
    def from_spark_nodes(cls, rows: list[dict[str, Any]], classification: bool) -> "Tree":
        by_id = {row["id"]: row for row in rows}
        tree = cls()

        def build(node_id: int) -> int:
            row = by_id[node_id]
            if row["leftChild"] < 0:
                values = row["impurityStats"] if classification else [row["prediction"]]
                return tree.add(values=values)
            split = row["split"]
            if split["numCategories"] < 0:
                node = tree.add(CONTINUOUS, split["featureIndex"], split["leftCategoriesOrThreshold"][0])
            else:
                node = tree.add(CATEGORICAL, split["featureIndex"], categories=split["leftCategoriesOrThreshold"],
                                is_left=True, num_categories=split["numCategories"])
            left = build(row["leftChild"])
            tree.left[node], tree.right[node] = left, build(row["rightChild"])
            return node

        build(min(by_id))
        return tree


class Forest:
    """Trees stacked into flat arrays, evaluated level by level over all rows and trees."""

    def __init__(self, trees: list[Tree]):
        self.trees = trees
        sizes = [len(t.kind) for t in trees]
        self.roots = np.cumsum([0] + sizes[:-1]).astype(np.int64)
        shift = np.repeat(self.roots, sizes)
        kind = np.concatenate([t.kind for t in trees]).astype(np.int8)
        leaf = kind == LEAF
        own = np.arange(kind.size)
        # Leaves point at themselves, so extra levels leave finished rows where they are.
        # ``child[2 * node + go_right]`` is the next node: one gather per level.
        left = np.where(leaf, own, np.concatenate([t.left for t in trees]) + shift)
        right = np.where(leaf, own, np.concatenate([t.right for t in trees]) + shift)
        self.child = np.column_stack([left, right]).reshape(-1)
        # A leaf's threshold is +inf: "x <= inf" holds, so it takes the left (itself) branch.
        self.threshold = np.where(leaf, np.inf, np.concatenate([t.threshold for t in trees]))
        feature = np.concatenate([t.feature for t in trees]).astype(np.int64)
        self.features = np.unique(feature[~leaf])  # only these columns are read
        self.column = np.searchsorted(self.features, feature).clip(0, max(self.features.size - 1, 0))
        self.depth = max((t.depth() for t in trees), default=0)
        self._categorical(trees, kind)

    def _categorical(self, trees: list[Tree], kind: np.ndarray) -> None:
        """A membership table: row ``slot[node]`` marks the categories listed at that split."""
        cats = [c for t in trees for c in t.categories]
        is_left = np.concatenate([t.is_left for t in trees])
        nodes = np.flatnonzero(kind == CATEGORICAL)
        self.slot = np.full(kind.size, -1, dtype=np.int64)
        self.slot[nodes] = np.arange(nodes.size)
        self.listed_left = is_left[nodes]
        span = max([int(max(cats[n], default=-1)) + 1 for n in nodes] + [1])
        self.table = np.zeros((nodes.size, span), dtype=bool)
        for row, node in enumerate(nodes):
            self.table[row, np.asarray(cats[node], dtype=np.int64)] = True

    def leaves(self, X: Any) -> np.ndarray:
        """Global leaf index of every row in every tree: shape (rows, trees)."""
        n, trees = X.shape[0], self.roots.size
        x = dense_columns(X, self.features) if self.features.size else np.zeros((n, 1))
        flat_x = x.reshape(-1)
        base = np.repeat(np.arange(n) * x.shape[1], trees)
        nodes = np.tile(self.roots, n)
        categorical = self.table.shape[0] > 0
        for _ in range(self.depth):
            values = flat_x[base + self.column[nodes]]
            go_right = ~(values <= self.threshold[nodes])  # NaN goes right, as in Spark
            if categorical:
                at = np.flatnonzero(self.slot[nodes] >= 0)
                if at.size:
                    go_right[at] = ~self._goes_left(self.slot[nodes[at]], values[at])
            nodes = self.child[2 * nodes + go_right]
        return nodes.reshape(n, trees)

    def _goes_left(self, slot: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Categorical splits: a value goes left when it is listed and the list is the left
        side, or unlisted and the list is the right side. Non-integral or unknown values
        are unlisted (Spark's ``categories.contains``)."""
        index = np.where(np.floor(values) == values, values, -1.0)
        known = (index >= 0) & (index < self.table.shape[1])
        listed = np.zeros(values.shape, dtype=bool)
        listed[known] = self.table[slot[known], index[known].astype(np.int64)]
        return listed == self.listed_left[slot]

    def leaf_matrix(self, width: int, normalize: bool) -> np.ndarray:
        """Leaf values of every node as rows (class counts, or their fractions)."""
        out = np.zeros((sum(len(t.kind) for t in self.trees), width))
        i = 0
        for t in self.trees:
            for v in t.values:
                if v:
                    row = np.asarray(v[:width], dtype=np.float64)
                    if normalize:
                        total = sum(v)  # sequential, as Scala's Array.sum
                        row = row / total if total != 0 else np.zeros_like(row)
                    out[i, :row.size] = row
                i += 1
        return out


def _num(value: Any, default: int | None = None) -> int | None:
    return default if value is None else int(value)


def _mleap_trees(attrs: dict, bundle) -> list[Tree]:
    return [Tree.from_json_lines(bundle.read_text(f"{name}/tree.json")) for name in attrs.get("trees") or []]


def _spark_trees(stage, classification: bool) -> tuple[list[Tree], list[float]]:
    rows = stage.rows("data")
    by_tree: dict[int, list[dict]] = {}
    for row in rows:
        by_tree.setdefault(row["treeID"], []).append(row["nodeData"])
    # (treeID, metadata JSON, weight): named _1, _2, _3 by Spark 3+, treeID/metadata/weights by 2.x
    meta = sorted(tuple(r.values()) for r in stage.rows("treesMetadata"))
    weights = [float(r[2]) for r in meta] or [1.0] * len(by_tree)
    return [Tree.from_spark_nodes(by_tree[i], classification) for i in sorted(by_tree)], weights


def in_order_sum(values: np.ndarray) -> np.ndarray:
    """Sum over axis 1 strictly left to right (``cumsum`` accumulates sequentially, where
    ``sum`` would add pairwise and differ from Spark in the last bit)."""
    return np.cumsum(values, axis=1)[:, -1]


def weighted_sum(forest: Forest, values: np.ndarray, weights: list[float], X: Any) -> np.ndarray:
    """``Σ wᵢ · treeᵢ(x)`` added in tree order (vectorised over rows and trees)."""
    leaf_values = values[forest.leaves(X)]
    w = np.asarray(weights)
    return in_order_sum(leaf_values if (w == 1.0).all() else leaf_values * w)


class TreeModel:
    """Mixin: the forest, its width check, and tree files for the exporter."""

    op_name = ""
    forest: Forest

    def write_mleap_files(self, writer) -> None:
        """``tree.json`` for a single tree; ``tree<k>/model.json`` + ``tree<k>/tree.json``
        for each member of an ensemble."""
        if not self.ensemble:
            writer.write_text("tree.json", self.forest.trees[0].to_json_lines())
            return
        op, attrs = self.member_model()
        for k, tree in enumerate(self.forest.trees):
            writer.write_model(f"tree{k}", op, attrs)
            writer.write_text(f"tree{k}/tree.json", tree.to_json_lines())

    def member_model(self) -> tuple[str, dict]:
        return "decision_tree_regression", {"num_features": enc.long(self.num_features)}

    def ensemble_attrs(self) -> dict:
        n = len(self.forest.trees)
        return {"num_features": enc.long(self.num_features),
                "tree_weights": enc.doubles(getattr(self, "weights", [1.0] * n)),
                "trees": enc.strings(f"tree{k}" for k in range(n))}


# -- regression ----------------------------------------------------------------------------
class TreeRegressor(TreeModel, Regressor):
    """Sum of weighted tree outputs in tree order, divided by ``divisor``."""

    ensemble = True

    def __init__(self, name, ports, trees: list[Tree], num_features: int | None, weights=None):
        super().__init__(name, ports)
        self.num_features = num_features
        self.forest = Forest(trees)
        self.weights = [float(w) for w in (weights if weights is not None else [1.0] * len(trees))]
        self._values = self.forest.leaf_matrix(1, normalize=False)[:, 0]

    def tree_sum(self, X) -> np.ndarray:
        return weighted_sum(self.forest, self._values, self.weights, X)

    def predict(self, X):
        return self.tree_sum(X)


@register
class DecisionTreeRegression(TreeRegressor):
    names = ("decision_tree_regression",)
    spark_classes = ("org.apache.spark.ml.regression.DecisionTreeRegressionModel",)
    ensemble = False

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, [Tree.from_json_lines(bundle.read_text("tree.json"))], _num(attrs.get("num_features")))

    @classmethod
    def from_spark(cls, stage):
        tree = Tree.from_spark_nodes(stage.rows("data"), classification=False)
        return cls(stage.uid, spark_ports(stage, ("prediction",)), [tree], _num(stage.metadata.get("numFeatures")))

    def to_mleap(self):
        return "decision_tree_regression", {"num_features": enc.long(self.num_features)}


@register
class RandomForestRegression(TreeRegressor):
    """Mean of the trees: their sum in tree order divided by the count (tree weights, all
    1.0 in Spark, are not applied)."""

    names = ("random_forest_regression",)
    spark_classes = ("org.apache.spark.ml.regression.RandomForestRegressionModel",)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, _mleap_trees(attrs, bundle), _num(attrs.get("num_features")))

    @classmethod
    def from_spark(cls, stage):
        trees, _ = _spark_trees(stage, classification=False)
        return cls(stage.uid, spark_ports(stage, ("prediction",)), trees, _num(stage.metadata.get("numFeatures")))

    def to_mleap(self):
        return "random_forest_regression", self.ensemble_attrs()

    def predict(self, X):
        return self.tree_sum(X) / len(self.forest.trees)


@register
class GBTRegression(TreeRegressor):
    """``Σ wᵢ · treeᵢ(x)``."""

    names = ("gbt_regression",)
    spark_classes = ("org.apache.spark.ml.regression.GBTRegressionModel",)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, _mleap_trees(attrs, bundle), _num(attrs.get("num_features")), attrs["tree_weights"])

    @classmethod
    def from_spark(cls, stage):
        trees, weights = _spark_trees(stage, classification=False)
        return cls(stage.uid, spark_ports(stage, ("prediction",)), trees, _num(stage.metadata.get("numFeatures")), weights)

    def to_mleap(self):
        return "gbt_regression", self.ensemble_attrs()


# -- classification ------------------------------------------------------------------------
class TreeClassifier(TreeModel, Classifier):
    ensemble = True

    def __init__(self, name, ports, trees, num_features, num_classes, thresholds=None, weights=None):
        super().__init__(name, ports)
        self.num_features, self.num_classes, self.thresholds = num_features, int(num_classes), thresholds
        self.forest = Forest(trees)
        self.weights = [float(w) for w in (weights if weights is not None else [1.0] * len(trees))]

    def probability(self, raw):
        return normalize_rows(raw)

    def member_model(self):
        return "decision_tree_classifier", {"num_features": enc.long(self.num_features),
                                            "num_classes": enc.long(self.num_classes)}

    def classifier_attrs(self, attrs: dict) -> dict:
        attrs["num_classes"] = enc.long(self.num_classes)
        if self.thresholds is not None:
            attrs["thresholds"] = enc.doubles(self.thresholds)
        return attrs


@register
class DecisionTreeClassifier(TreeClassifier):
    """Raw = the leaf's class counts; probability = counts / their sum."""

    names = ("decision_tree_classifier",)
    spark_classes = ("org.apache.spark.ml.classification.DecisionTreeClassificationModel",)
    ensemble = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._counts = self.forest.leaf_matrix(self.num_classes, normalize=False)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, [Tree.from_json_lines(bundle.read_text("tree.json"))],
                   _num(attrs.get("num_features")), _num(attrs.get("num_classes"), 2),
                   float_list(attrs.get("thresholds")))

    @classmethod
    def from_spark(cls, stage):
        tree = Tree.from_spark_nodes(stage.rows("data"), classification=True)
        return cls(stage.uid, spark_ports(stage, CLASSIFIER_OUTPUTS), [tree], _num(stage.metadata.get("numFeatures")),
                   stage.metadata["numClasses"], thresholds_from_spark(stage))

    def to_mleap(self):
        return "decision_tree_classifier", self.classifier_attrs({"num_features": enc.long(self.num_features)})

    def raw(self, X):
        return self._counts[self.forest.leaves(X)[:, 0]]


@register
class RandomForestClassifier(TreeClassifier):
    """Raw = Σ over trees (in order) of each leaf's class fractions; probability = raw
    normalised. Tree weights are ignored, as in Spark."""

    names = ("random_forest_classifier",)
    spark_classes = ("org.apache.spark.ml.classification.RandomForestClassificationModel",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._fractions = self.forest.leaf_matrix(self.num_classes, normalize=True)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, _mleap_trees(attrs, bundle), _num(attrs.get("num_features")),
                   _num(attrs.get("num_classes"), 2), float_list(attrs.get("thresholds")))

    @classmethod
    def from_spark(cls, stage):
        trees, _ = _spark_trees(stage, classification=True)
        return cls(stage.uid, spark_ports(stage, CLASSIFIER_OUTPUTS), trees, _num(stage.metadata.get("numFeatures")),
                   stage.metadata["numClasses"], thresholds_from_spark(stage))

    def to_mleap(self):
        return "random_forest_classifier", self.classifier_attrs(self.ensemble_attrs())

    def raw(self, X):
        leaves = self.forest.leaves(X)
        votes = np.zeros((leaves.shape[0], self.num_classes))
        for k in range(leaves.shape[1]):  # tree order; a (rows, trees, classes) cumsum is slower
            votes = votes + self._fractions[leaves[:, k]]
        return votes


@register
class GBTClassifier(TreeClassifier):
    """Margin ``m = Σ wᵢ · treeᵢ(x)`` over regression trees; raw ``[-m, m]``;
    probability ``p0 = 1 / (1 + e^(2m))``, ``p1 = 1 - p0`` (Spark's log-loss form)."""

    names = ("gbt_classifier",)
    spark_classes = ("org.apache.spark.ml.classification.GBTClassificationModel",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.num_classes = 2
        self._values = self.forest.leaf_matrix(1, normalize=False)[:, 0]

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, _mleap_trees(attrs, bundle), _num(attrs.get("num_features")), 2,
                   float_list(attrs.get("thresholds")), attrs["tree_weights"])

    @classmethod
    def from_spark(cls, stage):
        trees, weights = _spark_trees(stage, classification=False)
        return cls(stage.uid, spark_ports(stage, CLASSIFIER_OUTPUTS), trees, _num(stage.metadata.get("numFeatures")),
                   2, thresholds_from_spark(stage), weights)

    def to_mleap(self):
        return "gbt_classifier", self.classifier_attrs(self.ensemble_attrs())

    def member_model(self):
        return TreeModel.member_model(self)

    def raw(self, X):
        m = weighted_sum(self.forest, self._values, self.weights, X)
        return np.column_stack([-m, m])

    def probability(self, raw):
        p0 = 1.0 / (1.0 + np.exp(-2.0 * raw[:, 0]))
        return np.column_stack([p0, 1.0 - p0])
