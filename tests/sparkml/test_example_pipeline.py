"""examples/sparkml-abalone: a Spark-trained featurizer served in NumPy before a sklearn regressor."""

from pathlib import Path

import joblib
import numpy as np
import pytest
import requests
import yaml

from tests.conftest import ABALONE, REPO, load_example
from serving.pipeline import spec as specs
from serving.pipeline.endpoint import Endpoint

EXAMPLE = REPO / "examples" / "sparkml-abalone"


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    train = load_example("sparkml-abalone/train.py")
    out = tmp_path_factory.mktemp("sparkml-abalone")
    featurizer, regressor = train.train(ABALONE, out, spark=spark)
    return train, out, featurizer, regressor


def test_the_export_is_a_bundle_with_a_schema(trained):
    _, _, featurizer, _ = trained
    assert sorted(p.name for p in Path(featurizer).iterdir()) == ["model.zip", "schema.json"]


def test_pipeline_answers_as_spark_then_the_regressor(trained, spark):
    train, out, featurizer, regressor = trained
    raw = yaml.safe_load((EXAMPLE / "pipeline.yaml").read_text())
    raw["Containers"][0]["ModelDataUrl"] = str(featurizer)
    raw["Containers"][1]["ModelDataUrl"] = str(regressor)
    spec = specs.from_dict(raw, base_dir=EXAMPLE, source="pipeline.yaml")

    lines = ABALONE.read_text().splitlines()[:50]
    frame = train.read_abalone(spark, ABALONE).limit(50)
    spark_model = __import__("pyspark.ml", fromlist=["PipelineModel"]).PipelineModel.load(str(out / "spark-featurizer"))
    features = np.array([r["features"].toArray() for r in spark_model.transform(frame).select("features").collect()])
    expected_rings = joblib.load(Path(regressor) / "model.joblib").predict(features)

    with Endpoint.up(spec, name="sparkml-abalone-test", port=0, workers=1, register=False) as ep:
        body = "\n".join(",".join(line.split(",")[:8]) for line in lines)
        r = requests.post(ep.url + "/invocations", data=body, headers={"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == "application/json"
        got = r.json()["predictions"]
        np.testing.assert_allclose([p["rings"] for p in got], np.round(expected_rings, 4), rtol=0, atol=1e-9)
        np.testing.assert_allclose([p["age"] for p in got], np.round(expected_rings + 1.5, 4), rtol=0, atol=1e-9)

        # the featurizer alone, in direct comparison with Spark's transform
        first = ep.pipeline.containers[0]
        feat = requests.post(f"http://{first.host}:{first.port}/invocations", data=body, headers={"Content-Type": "text/csv"})
        ours = np.array([[float(v) for v in line.split(",")] for line in feat.text.splitlines()])
        np.testing.assert_allclose(ours, features, rtol=1e-9, atol=1e-12)

        bad = requests.post(ep.url + "/invocations", data="X,0.1,0.1,0.1,0.1,0.1,0.1,0.1", headers={"Content-Type": "text/csv"})
        assert bad.status_code == 424
        assert bad.json()["OriginalStatusCode"] == 400
