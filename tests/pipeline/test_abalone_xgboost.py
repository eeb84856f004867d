"""examples/abalone-xgboost: the scikit-learn featurizer feeding SageMaker's XGBoost, end to end.

Expected answers come from scikit-learn's ``transform`` and ``xgboost.Booster.predict`` on the
same rows; the pipeline runs real containers (the process backend) behind the real router.
"""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest
import requests
import xgboost as xgb
import yaml

from serving.pipeline import spec as specs
from serving.pipeline.endpoint import Endpoint
from tests.conftest import ABALONE, REPO, load_example

EXAMPLE = REPO / "examples" / "abalone-xgboost"
ROWS = ABALONE.read_text().splitlines()[:40]
BODY = "\n".join(",".join(line.split(",")[:8]) for line in ROWS)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    train = load_example("abalone-xgboost/train.py")
    return train.train(ABALONE, tmp_path_factory.mktemp("abalone-xgboost"))


def spec_of(name: str, dirs, accept: str | None = None):
    raw = yaml.safe_load((EXAMPLE / name).read_text())
    raw["Containers"][0]["ModelDataUrl"] = str(dirs[0])
    raw["Containers"][1]["ModelDataUrl"] = str(dirs[1])
    if accept:
        raw["Containers"][0]["Environment"]["SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"] = accept
    return specs.from_dict(raw, base_dir=EXAMPLE, source=name)


def reference(featurizer_dir, model_dir) -> np.ndarray:
    abalone = load_example("abalone/train.py")
    frame = pd.read_csv(ABALONE, header=None, names=abalone.FEATURES + [abalone.LABEL]).iloc[:len(ROWS)]
    features = joblib.load(featurizer_dir / "model.joblib").transform(frame[abalone.FEATURES])
    booster = xgb.Booster()
    booster.load_model(str(model_dir / "xgboost-model"))
    return booster.predict(xgb.DMatrix(features))


def invoke(ep, accept=None):
    headers = {"Content-Type": "text/csv", **({"Accept": accept} if accept else {})}
    return requests.post(ep.url + "/invocations", data=BODY, headers=headers, timeout=30)


def test_regressor_behind_recordio_and_behind_csv_gives_the_boosters_predictions(trained):
    featurizer, regressor, _ = trained
    expected = reference(featurizer, regressor).tolist()
    answers = {}
    for n, accept in enumerate(("application/x-recordio-protobuf", "text/csv")):
        with Endpoint.up(spec_of("pipeline.yaml", (featurizer, regressor), accept), name=f"abalone-xgb-{n}",
                         port=0, workers=1, register=False) as ep:
            r = invoke(ep)
            assert (r.status_code, r.headers["Content-Type"]) == (200, "text/csv"), r.text
            answers[accept] = r.text
    # the featurizer's float64 rows reach XGBoost unchanged through RecordIO and through CSV
    assert answers["application/x-recordio-protobuf"] == "".join(f"{v!r}\n" for v in expected)
    assert answers["text/csv"] == answers["application/x-recordio-protobuf"]


def test_classifier_answers_the_selected_keys(trained):
    featurizer, _, classifier = trained
    probabilities = reference(featurizer, classifier)
    with Endpoint.up(spec_of("pipeline-classifier.yaml", (featurizer, classifier)), name="abalone-age-group",
                     port=0, workers=1, register=False) as ep:
        r = invoke(ep, accept="application/json")
        assert r.status_code == 200, r.text
        assert r.content == json.dumps({"predictions": [
            {"predicted_label": int(np.argmax(row)), "probabilities": row.tolist()} for row in probabilities]}).encode()
        lines = invoke(ep).text.split("\n")  # text/csv: label, then the quoted list
        assert lines[0] == f'{int(np.argmax(probabilities[0]))},"{probabilities[0].tolist()}"'
        assert len(lines) == len(ROWS)
