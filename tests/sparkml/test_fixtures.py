"""Every public fixture bundle loads and runs; the outputs upstream asserts are reproduced."""

from __future__ import annotations

import json

import numpy as np
import pytest

from serving.frameworks.sparkml.frame import Frame
from serving.frameworks.sparkml.model import load_model
from serving.frameworks.sparkml.ops.indexing import StringIndexer

TOP_LEVEL = [
    "combust_mleap/mleap-benchmark/src/main/resources/models/airbnb.model.lr.zip",
    "combust_mleap/mleap-benchmark/src/main/resources/models/airbnb.model.rf.zip",
    "combust_mleap/mleap-runtime/src/test/resources/min_max_scaler_tf.zip",
    "combust_mleap/mleap-runtime/src/test/resources/one_hot_encoder_pipeline.zip",
    "combust_mleap/mleap-spring-boot/src/test/resources/demo.zip",
    "rstudio_mleap/inst/app/sff.zip",
    "PipelineAI_models/spark/mnist-v1/model/pipeline_bundle.zip",
    "wzhe06_SparkCTR/model/inn.model.mleap.zip",
    "GoogleCloudPlatform_vertex-ai-spark-ml-serving/example_model/model.zip",
    "aws_sagemaker-sparkml-serving-container/src/test/resources/com/amazonaws/sagemaker/configuration/model",
]


def one_row(model) -> Frame:
    """A valid row for any fixture: a known label for indexed strings, text for text, 1.5 else."""
    labels = {c: op.labels[i][0] for op in model.ops() if isinstance(op, StringIndexer)
              for i, c in enumerate(op.ports.input_list())}
    kinds = model.input_kinds()
    columns = {}
    for name in model.inputs:
        if name in labels:
            columns[name] = np.array([labels[name]], dtype=object)
        elif kinds.get(name) == "string":
            columns[name] = np.array(["Alice was beginning to get very tired of sitting"], dtype=object)
        else:
            columns[name] = np.array([1.5])
    return Frame(columns, n_rows=1)


@pytest.mark.parametrize("relpath", TOP_LEVEL, ids=lambda p: p.split("/")[-1] if p.endswith("zip") else "directory")
def test_every_top_level_fixture_loads_and_runs(mleap_fixtures, relpath):
    model = load_model(mleap_fixtures / relpath)
    frame = model.transform(one_row(model))
    assert all(name in frame for name in model.outputs)


def test_all_52_parity_bundles_load_and_run(parity_bundles):
    assert len(parity_bundles) == 52
    for spec, path in parity_bundles.items():
        model = load_model(path)
        frame = model.transform(one_row(model))
        missing = [name for name in model.outputs if name not in frame]
        assert not missing, f"{spec} did not produce {missing}"


def test_demo_bundle_predicts_the_upstream_value(mleap_fixtures):
    model = load_model(mleap_fixtures / "combust_mleap/mleap-spring-boot/src/test/resources/demo.zip")
    frame = Frame({"demo:a": np.array([44.5]), "demo:c": np.array([22.1]), "demo:d": np.array([98.2])})
    assert model.transform(frame)["demo:prediction"].tolist() == [-67.78953193834998]


def airbnb_frame(mleap_fixtures) -> Frame:
    leap = json.loads((mleap_fixtures / "combust_mleap/mleap-benchmark/src/main/resources/leap_frame/"
                       "frame.airbnb.json").read_text())
    fields = [(f["name"], f["type"]) for f in leap["schema"]["fields"]]
    row = leap["rows"][0]
    return Frame({name: np.array([value], dtype=object if kind == "string" else np.float64)
                  for (name, kind), value in zip(fields, row)})


@pytest.mark.parametrize("kind,expected", [("rf", 218.2767196535019), ("lr", 232.62463916840318)])
def test_airbnb_bundles_predict_the_reference_price(mleap_fixtures, kind, expected):
    model = load_model(mleap_fixtures / f"combust_mleap/mleap-benchmark/src/main/resources/models/airbnb.model.{kind}.zip")
    assert model.transform(airbnb_frame(mleap_fixtures))["price_prediction"].tolist() == [expected]


def test_legacy_one_hot_encoder_maps_the_dropped_category_to_zeros(mleap_fixtures):
    model = load_model(mleap_fixtures / "combust_mleap/mleap-runtime/src/test/resources/one_hot_encoder_pipeline.zip")
    frame = model.transform(Frame({"col_1": np.array(["A", "C", "Z"], dtype=object)}))
    assert frame["col_1_label_le"].tolist() == [0.0, 2.0, 3.0]  # keep: unseen "Z" -> 3
    assert np.asarray(frame["col_1_label_one_hot_encoded"]).tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]


def test_bucketizer_null_splits_are_infinite(parity_bundles):
    model = load_model(parity_bundles["parity.feature.BucketizerParitySpec"])
    frame = model.transform(Frame({"loan_amount": np.array([-1e12, 999.0, 1000.0, 5e4, 1e12])}))
    assert frame["loan_amount_bucket"].tolist() == [0.0, 0.0, 1.0, 2.0, 2.0]
