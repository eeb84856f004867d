"""Compiled XGBoost boosters give ``inplace_predict``'s float32 numbers bit for bit, and the
container answers the same bytes with the compiler on or off."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xgboost as xgb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.frameworks.trees import BitWalk, DepthWalk
from serving.frameworks.xgboost.compiled import compile_booster
from tests.frameworks.test_xgboost import csv_body

OBJECTIVES = ["reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror", "reg:squaredlogerror",
              "reg:quantileerror"]


def fitted(objective: str, seed: int, depth: int, parallel: int, rounds: int, missing: float) -> tuple:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 5)) * [1, 100, 1e-3, 5, 1]
    X[rng.random(X.shape) < missing] = np.nan
    y = np.nan_to_num(X[:, 0]) * 3 + np.nan_to_num(X[:, 1]) / 50 + rng.normal(size=400)
    if objective == "reg:squaredlogerror":
        y = np.abs(y)
    if objective in ("reg:absoluteerror", "reg:quantileerror"):
        parallel = 1  # XGBoost boosts no random forest with these (their leaves are refitted)
    params = {"objective": objective, "max_depth": depth, "num_parallel_tree": parallel, "seed": seed,
              "subsample": 0.8, "colsample_bynode": 0.8, "nthread": 1}
    if objective == "reg:quantileerror":
        params["quantile_alpha"] = 0.7
    return xgb.train(params, xgb.DMatrix(X, label=y), rounds), X


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(OBJECTIVES), st.integers(0, 2**16), st.sampled_from([1, 3, 6, 8]), st.sampled_from([1, 3]),
       st.integers(1, 25), st.sampled_from([0.0, 0.15]), st.data())
def test_a_compiled_booster_predicts_what_inplace_predict_does(objective, seed, depth, parallel, rounds, missing, data):
    booster, X = fitted(objective, seed, depth, parallel, rounds, missing)
    compiled = compile_booster(booster)
    assert compiled is not None
    trees = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    leaves = max(sum(1 for c in tree["left_children"] if c == -1) for tree in trees)
    assert isinstance(compiled.walk, BitWalk if leaves <= 64 else DepthWalk)
    # the splits' own conditions: a value at a threshold goes right (x < t goes left)
    conditions = [c for tree in trees for c in tree["split_conditions"]]
    values = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(float("nan")), st.sampled_from(conditions),
                       st.sampled_from([0.0, -0.0, 1e30, -1e30, 1e-40]))
    rows = np.array(data.draw(st.lists(st.lists(values, min_size=5, max_size=5), min_size=1, max_size=20)))
    for batch in (rows, rows[:1], X):
        got, want = compiled.predict(batch), booster.inplace_predict(batch)
        assert got.dtype == want.dtype == np.float32
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("params", [
    {"objective": "binary:logistic"}, {"objective": "multi:softprob", "num_class": 3},
    {"objective": "reg:squarederror", "booster": "dart"}, {"objective": "reg:squarederror", "booster": "gblinear"},
])
def test_boosters_it_does_not_know_are_left_to_xgboost(params):
    rng = np.random.default_rng(1)
    X = rng.random((100, 3))
    booster = xgb.train(params, xgb.DMatrix(X, label=np.minimum((X[:, 0] * 3).astype(int), 2 if "num_class" in params
                                                                 else 1)), 3)
    assert compile_booster(booster) is None


def test_an_infinity_is_left_to_xgboost():
    booster, _ = fitted("reg:squarederror", 0, 3, 1, 4, 0.0)
    with pytest.raises(ValueError):
        compile_booster(booster).predict(np.array([[np.inf, 0, 0, 0, 0]]))


@pytest.mark.parametrize("body", [
    "0.5,10,0.001,2,1\n-1,,0,3,0.5\n",  # a missing value
    "0.5,10,0.001,2,1\n" * 40,
    "inf,1,2,3,4\n",  # left to XGBoost
    "1,2,3\n",  # the wrong width: the container's 400
])
def test_served_answers_are_those_without_the_compiler(tmp_path, serve, body):
    booster, _ = fitted("reg:squarederror", 3, 6, 1, 30, 0.1)
    booster.save_model(str(tmp_path / "xgboost-model"))
    compiled = serve(tmp_path, framework="xgboost")
    plain = serve(tmp_path, framework="xgboost", env={"SERVING_XGBOOST_COMPILE": "false"})
    for accept in ("text/csv", "application/json"):
        got, want = compiled.invoke(body, accept=accept), plain.invoke(body, accept=accept)
        assert (got.status_code, got.headers["Content-Type"], got.content) == (
            want.status_code, want.headers["Content-Type"], want.content)
    assert "trees compiled" in compiled.log()
    assert "predicted by XGBoost (SERVING_XGBOOST_COMPILE=false)" in plain.log()


def test_a_served_prediction_is_the_boosters(tmp_path, serve):
    booster, X = fitted("reg:squarederror", 5, 4, 1, 20, 0.1)
    booster.save_model(str(tmp_path / "xgboost-model"))
    r = serve(tmp_path, framework="xgboost").invoke(csv_body(X[:30]), accept="application/json")
    assert r.status_code == 200
    scores = np.array([p["score"] for p in r.json()["predictions"]], dtype=np.float32)
    np.testing.assert_array_equal(scores, booster.predict(xgb.DMatrix(X[:30])))
