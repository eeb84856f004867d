"""XGBoost boosters compiled, at load, into a NumPy walk of their trees.

``Booster.inplace_predict`` costs about 0.3 ms of CPU for one row of a 60-tree model on
this machine, almost all of it in XGBoost's own call (making its proxy matrix, reading its
configuration), not in the trees. A compiled booster holds the trees as arrays (see
:mod:`..trees`) and predicts a row in a few tens of microseconds, with XGBoost's numbers bit
for bit: the row read as float32, a split taken left when the value is below its float32
condition (``x < t``) and a missing value sent the tree's default way, and the prediction
the float32 base score plus each tree's float32 leaf value, added tree by tree in order, as
XGBoost's CPU predictor adds them.

Compiled: ``gbtree`` boosters (any ``num_parallel_tree``) of one output without categorical
splits, whose objective returns the sum as is (``reg:squarederror``, ``reg:absoluteerror``,
``reg:pseudohubererror``, ``reg:squaredlogerror``, ``reg:quantileerror`` of one quantile).
Any other booster, a sparse request, and a row XGBoost must judge (an infinity) go to
XGBoost itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..trees import Tree, Walk, walk

IDENTITY = ("reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror", "reg:squaredlogerror",
            "reg:quantileerror")


@dataclass
class CompiledBooster:
    walk: Walk
    value: np.ndarray  # float32 leaf values, as the walk's exits index them
    base: np.float32
    width: int

    def predict(self, X: Any) -> np.ndarray:
        """What ``inplace_predict`` answers for the dense rows ``X``; ValueError for what
        XGBoost is to judge."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.width or X.dtype.kind not in "fiu":
            raise ValueError("not rows this booster reads")
        X = X.astype(np.float32)
        if np.isinf(X).any():
            raise ValueError("infinite")
        values = self.value[self.walk.exits(X)]
        start = np.full((X.shape[0], 1), self.base, dtype=np.float32)
        return np.cumsum(np.concatenate([start, values], axis=1), axis=1, dtype=np.float32)[:, -1]


def compile_booster(booster: Any) -> CompiledBooster | None:
    """The booster compiled, or None when it is not one this module knows."""
    learner = json.loads(booster.save_raw("json"))["learner"]
    params, gbm = learner["learner_model_param"], learner["gradient_booster"]
    objective = learner["objective"]
    if (gbm.get("name") != "gbtree" or objective["name"] not in IDENTITY or int(params.get("num_class", 0)) > 1
            or int(params.get("num_target", 1)) != 1):
        return None
    if objective["name"] == "reg:quantileerror" and len(json.loads(objective.get("quantile_loss_param", {}).get(
            "quantile_alpha", "[0.5]"))) != 1:
        return None
    model = gbm["model"]
    if booster.num_boosted_rounds() * int(model["gbtree_model_param"]["num_parallel_tree"]) != len(model["trees"]):
        return None
    trees = []
    for tree in model["trees"]:
        if any(tree["split_type"]):
            return None  # a categorical split
        left = np.asarray(tree["left_children"], dtype=np.intp)
        leaf = left == -1
        conditions = np.asarray(tree["split_conditions"], dtype=np.float32)  # a leaf's holds its value
        trees.append(Tree(np.asarray(tree["split_indices"], dtype=np.intp), conditions, left,
                          np.asarray(tree["right_children"], dtype=np.intp), np.where(leaf, conditions, 0)[:, None],
                          missing_left=np.asarray(tree["default_left"], dtype=bool)))
    if not trees:
        return None
    found, value = walk(trees, strict=True)
    return CompiledBooster(found, value[:, 0].astype(np.float32), np.float32(float(params["base_score"])),
                           int(params["num_feature"]))

