"""The guide's Spark ML pipelines in front of built-in algorithms: examples/sparkml-xgboost and
examples/sparkml-blazingtext, checked against pyspark's ``transform`` followed by
``xgboost.Booster.predict`` / fastText's ``predict``."""

from __future__ import annotations

import json

import fasttext
import numpy as np
import pytest
import requests
import xgboost as xgb
import yaml

from serving.pipeline import spec as specs
from serving.pipeline.endpoint import Endpoint
from tests.conftest import ABALONE, REPO, load_example

pytestmark = pytest.mark.spark
fasttext.FastText.eprint = lambda *_: None


def spec_of(example: str, dirs):
    folder = REPO / "examples" / example
    raw = yaml.safe_load((folder / "pipeline.yaml").read_text())
    for container, path in zip(raw["Containers"], dirs):
        container["ModelDataUrl"] = str(path)
    return specs.from_dict(raw, base_dir=folder, source="pipeline.yaml")


def test_sparkml_xgboost_answers_as_spark_then_the_booster(spark, tmp_path):
    train = load_example("sparkml-xgboost/train.py")
    featurizer, model = train.train(ABALONE, tmp_path, spark=spark)
    from pyspark.ml import PipelineModel

    abalone = train._sparkml_abalone()
    frame = abalone.read_abalone(spark, ABALONE).limit(30)
    features = np.array([r["features"].toArray()
                         for r in PipelineModel.load(str(tmp_path / "spark-featurizer")).transform(frame).collect()])
    booster = xgb.Booster()
    booster.load_model(str(model / "xgboost-model"))
    expected = booster.predict(xgb.DMatrix(features)).tolist()

    body = "\n".join(",".join(line.split(",")[:8]) for line in ABALONE.read_text().splitlines()[:30])
    with Endpoint.up(spec_of("sparkml-xgboost", (featurizer, model)), name="sparkml-xgboost-test", port=0,
                     workers=1, register=False) as ep:
        r = requests.post(ep.url + "/invocations", data=body, headers={"Content-Type": "text/csv"}, timeout=30)
        assert (r.status_code, r.headers["Content-Type"]) == (200, "text/csv"), r.text
        assert r.text == "".join(f"{v!r}\n" for v in expected)


def test_sparkml_blazingtext_answers_as_spark_then_fasttext(spark, tmp_path):
    train = load_example("sparkml-blazingtext/train.py")
    tokenizer, classifier = train.train(tmp_path, n=400, spark=spark)
    texts = ["Convair was an American aircraft manufacturing company which later expanded into rockets.",
             "Berwick Secondary College is situated in the outer Melbourne suburb of Berwick.",
             "Kepler released a debut album with the band."]
    from pyspark.ml import PipelineModel

    frame = spark.createDataFrame([(t,) for t in texts], ["abstract"])
    tokens = [" ".join(r["tokenized_abstract"]) for r in
              PipelineModel.load(str(tmp_path / "spark-tokenizer")).transform(frame).collect()]
    model = fasttext.load_model(str(classifier / "model.bin"))
    expected = [{"label": list(labels), "prob": probs.tolist()} for labels, probs in (model.predict(t) for t in tokens)]

    with Endpoint.up(spec_of("sparkml-blazingtext", (tokenizer, classifier)), name="sparkml-blazingtext-test",
                     port=0, workers=1, register=False) as ep:
        body = "\n".join(texts)
        r = requests.post(ep.url + "/invocations", data=body, headers={"Content-Type": "text/csv"}, timeout=30)
        assert (r.status_code, r.headers["Content-Type"]) == (200, "application/jsonlines"), r.text
        assert [json.loads(line) for line in r.text.splitlines()] == expected
        # the guide's JSON request to the same endpoint
        r = requests.post(ep.url + "/invocations", data=json.dumps({"data": [texts[1]]}),
                          headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 200, r.text
        assert json.loads(r.text.splitlines()[0]) == expected[1]
