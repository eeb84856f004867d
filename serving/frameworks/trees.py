"""Fitted decision trees walked in NumPy, for every row and every tree at once.

What scikit-learn's compiled plans (:mod:`.sklearn.compiled`) and the XGBoost container's
(:mod:`.xgboost.compiled`) share: a set of trees given as node arrays (:class:`Tree`), and
the two ways rows are walked to their leaves (:func:`walk` picks one). The values at the
leaves, and how they are added up, are each framework's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class Walk:
    """How rows reach the leaves of a set of fitted trees: ``exits(X)`` gives, for every row
    and every tree, the row of the tree set's value table that the row ends in. A value
    against a threshold is compared as C compares them (a float32 row value is widened to
    the float64 threshold exactly); NaN goes where the tree sends missing values, when it
    has a place for them (``missing_left``)."""

    def exits(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@dataclass
class DepthWalk(Walk):
    """All rows and all trees one level at a time, ``depth`` times (a leaf points to
    itself): for trees too big for :class:`BitWalk`."""

    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    depth: int
    missing_left: np.ndarray | None
    strict: bool = False

    def exits(self, X: np.ndarray) -> np.ndarray:
        rows = np.arange(X.shape[0])[:, None]
        node = np.broadcast_to(self.roots, (X.shape[0], len(self.roots))).copy()
        below = np.less if self.strict else np.less_equal
        for _ in range(self.depth):
            x = X[rows, self.feature[node]]
            go_left = below(x, self.threshold[node])
            if self.missing_left is not None:
                go_left = np.where(np.isnan(x), self.missing_left[node], go_left)
            node = np.where(go_left, self.left[node], self.right[node])
        return node


@dataclass
class BitWalk(Walk):
    """Trees of at most 64 leaves, every split of every tree tested at once, whatever the
    depth (the QuickScorer idea): a tree's leaves are numbered left to right as bits of one
    word; a split the row fails (it goes right) rules out the leaves of its left subtree, and
    the row's leaf is the lowest leaf no split ruled out. About ten array operations for a
    whole boosted model, where a level-by-level walk takes six a level."""

    feature: np.ndarray  # the splits of all trees, tree after tree
    threshold: np.ndarray
    missing_left: np.ndarray | None
    ruled_out: np.ndarray  # uint64: the leaves a split rules out when the row goes right
    starts: np.ndarray  # where each tree's splits start
    leaf_base: np.ndarray  # where each tree's leaves start in the value table
    strict: bool = False

    ROWS_AT_ONCE = 1 << 20  # split tests held at once: a batch of rows is walked in slices

    def exits(self, X: np.ndarray) -> np.ndarray:
        out = np.empty((X.shape[0], len(self.starts)), dtype=np.int64)
        step = max(1, self.ROWS_AT_ONCE // len(self.feature))
        for lo in range(0, X.shape[0], step):
            x = X[lo:lo + step].take(self.feature, axis=1)
            # NaN compares false: it goes left unless the tree says right
            right = x >= self.threshold if self.strict else x > self.threshold
            if self.missing_left is not None:
                nan = np.isnan(x)
                if nan.any():
                    right |= nan & ~self.missing_left
            gone = np.bitwise_or.reduceat(right * self.ruled_out, self.starts, axis=1)
            # the lowest bit not ruled out: the count of gone's trailing ones
            out[lo:lo + step] = np.bitwise_count(gone ^ (gone + np.uint64(1))).astype(np.int64) + (self.leaf_base - 1)
        return out


@dataclass
class Tree:
    """One fitted tree's nodes as scikit-learn stores them (children -1 at a leaf)."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray  # (nodes, k)
    depth: int | None = None  # None: worked out, when a level-by-level walk needs it
    missing_left: np.ndarray | None = None


def walk(trees: list[Tree], strict: bool = False) -> tuple[Walk, np.ndarray]:
    """The walk for these trees, and the value table its exits index. ``strict``: a row
    goes left below the threshold (XGBoost's ``x < t``), not at it or below (scikit-learn's
    ``x <= t``)."""
    leaves = [tree.left == -1 for tree in trees]
    if all(leaf.sum() <= 64 for leaf in leaves):
        return _bit_walk(trees, strict)
    at, roots, parts = 0, [], {k: [] for k in ("feature", "threshold", "left", "right", "missing_left")}
    for tree, leaf in zip(trees, leaves):
        index = np.arange(len(leaf))
        roots.append(at)
        parts["feature"].append(np.where(leaf, 0, tree.feature))
        parts["threshold"].append(np.where(leaf, 0.0, tree.threshold))
        parts["left"].append(np.where(leaf, index, tree.left) + at)
        parts["right"].append(np.where(leaf, index, tree.right) + at)
        if tree.missing_left is not None:
            parts["missing_left"].append(tree.missing_left)
        at += len(leaf)
    depth = max(_depth(tree) if tree.depth is None else tree.depth for tree in trees)
    missing = np.concatenate(parts.pop("missing_left")) if trees[0].missing_left is not None else None
    found = DepthWalk(np.array(roots), *(np.concatenate(parts[k]) for k in ("feature", "threshold", "left", "right")),
                      depth, missing, strict)
    return found, np.concatenate([tree.value for tree in trees])


def _depth(tree: Tree) -> int:
    depth, level = 0, [0]
    while level:
        level = [child for node in level if tree.left[node] != -1 for child in (tree.left[node], tree.right[node])]
        depth += bool(level)
    return depth


def _bit_walk(trees: list[Tree], strict: bool) -> tuple[BitWalk, np.ndarray]:
    feature, threshold, missing, ruled_out, starts, leaf_base, values = [], [], [], [], [], [], []
    leaves = 0
    for tree in trees:
        starts.append(len(feature))
        leaf_base.append(leaves)
        order, splits = [], []  # leaves left to right; (split, first leaf, first leaf right of it)
        stack = [(0, None)]
        while stack:  # depth first, left before right: leaves come out in order
            node, split = stack.pop()
            if split is not None:  # the left subtree of ``split`` is done
                splits[split][2] = len(order)
                continue
            if tree.left[node] == -1:
                order.append(node)
                continue
            splits.append([node, len(order), None])
            stack += [(tree.right[node], None), (None, len(splits) - 1), (tree.left[node], None)]
        for node, first, end in splits:
            feature.append(tree.feature[node])
            threshold.append(tree.threshold[node])
            missing.append(bool(tree.missing_left[node]) if tree.missing_left is not None else False)
            ruled_out.append(((1 << end) - 1) ^ ((1 << first) - 1))
        if not splits:  # a lone leaf: one split that rules nothing out
            feature.append(0), threshold.append(np.inf), missing.append(True), ruled_out.append(0)
        values.append(tree.value[order])
        leaves += len(order)
    dtype = trees[0].threshold.dtype  # float64 (scikit-learn), float32 (XGBoost)
    found = BitWalk(np.array(feature, dtype=np.intp), np.array(threshold, dtype=dtype),
                    np.array(missing) if trees[0].missing_left is not None else None,
                    np.array(ruled_out, dtype=np.uint64), np.array(starts, dtype=np.intp), np.array(leaf_base), strict)
    return found, np.concatenate(values)
