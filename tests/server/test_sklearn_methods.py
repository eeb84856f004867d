"""Which estimator method the sklearn container calls, and what it does with the output."""

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder

from tests.conftest import ABALONE

NUMERIC = ["length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]


@pytest.fixture(scope="module")
def abalone():
    return pd.read_csv(ABALONE, header=None, names=["sex", *NUMERIC, "rings"])


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory, abalone):
    path = tmp_path_factory.mktemp("classifier")
    model = LogisticRegression(max_iter=500).fit(abalone[NUMERIC].to_numpy(), abalone["sex"])
    joblib.dump(model, path / "model.joblib")
    return path, model


ROWS = "0.455,0.365,0.095,0.514,0.2245,0.101,0.15\n0.35,0.265,0.09,0.2255,0.0995,0.0485,0.07"


def rows():
    return np.array([[float(v) for v in line.split(",")] for line in ROWS.splitlines()])


def test_a_classifier_predicts_labels_by_default(serve, classifier_dir):
    path, model = classifier_dir
    r = serve(path, framework="sklearn").invoke(ROWS)
    assert r.status_code == 200
    assert r.json() == model.predict(rows()).tolist()


def test_predict_proba_when_asked(serve, classifier_dir):
    path, model = classifier_dir
    r = serve(path, framework="sklearn", env={"SERVING_SKLEARN_METHOD": "predict_proba"}).invoke(ROWS, accept="text/csv")
    got = np.array([[float(v) for v in line.split(",")] for line in r.text.splitlines()])
    np.testing.assert_allclose(got, model.predict_proba(rows()), rtol=1e-12)


def test_a_method_the_model_lacks_fails_at_start(serve, tmp_path, abalone):
    joblib.dump(OneHotEncoder().fit(abalone[["sex"]].to_numpy()), tmp_path / "model.joblib")
    server = serve(tmp_path, framework="sklearn", env={"SERVING_SKLEARN_METHOD": "predict_proba"})
    assert server.get("/ping").text == (
        "the model failed to load: SERVING_SKLEARN_METHOD=predict_proba, but OneHotEncoder has no predict_proba()\n")


def test_a_fitted_transformer_transforms_and_sparse_output_becomes_dense_rows(serve, tmp_path, abalone):
    encoder = OneHotEncoder(handle_unknown="ignore").fit(abalone[["sex"]])  # sparse output, fitted on a DataFrame
    joblib.dump(encoder, tmp_path / "model.joblib")
    r = serve(tmp_path, framework="sklearn").invoke("M\nI\nX", accept="text/csv")
    assert (r.status_code, r.text) == (200, "0.0,0.0,1.0\n0.0,1.0,0.0\n0.0,0.0,0.0\n")


def test_no_model_file_is_a_clear_start_up_error(serve, tmp_path):
    server = serve(tmp_path, framework="sklearn")
    assert server.get("/ping").status_code == 503
    assert "no *.joblib or *.pkl file in" in server.get("/ping").text
