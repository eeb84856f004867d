"""Batch transform over a RecordIO-protobuf file into the XGBoost container: MultiRecord batches
of framed records answer as one request per record does, and as ``Booster.predict`` does."""

from __future__ import annotations

import io
import json
import os

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

import numpy as np
import pytest
import xgboost as xgb
from sagemaker.amazon.common import write_numpy_to_dense_tensor

from serving.transform import transform


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recordio-xgboost")
    rng = np.random.default_rng(5)
    train = rng.random((300, 6))
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(train, label=train[:, 0] > 0.5), 10)
    (folder / "model").mkdir()
    booster.save_model(str(folder / "model" / "xgboost-model"))
    spec = folder / "pipeline.json"
    spec.write_text(json.dumps({"Containers": [
        {"ContainerHostname": "xgboost", "Framework": "xgboost", "ModelDataUrl": str(folder / "model")}]}))
    rows = rng.random((250, 6)).astype(np.float32)
    buf = io.BytesIO()
    write_numpy_to_dense_tensor(buf, rows)
    (folder / "input").mkdir()
    (folder / "input" / "rows.rec").write_bytes(buf.getvalue())
    return folder, spec, booster.predict(xgb.DMatrix(rows))


@pytest.mark.parametrize("engine", ["inprocess", "http"])
def test_multi_record_batches_answer_as_single_records_and_the_booster(job, tmp_path, engine):
    folder, spec, expected = job
    outputs = {}
    for strategy in ("SingleRecord", "MultiRecord"):
        out = tmp_path / strategy
        result = transform(str(folder / "input"), str(out), model=str(spec), engine=engine,
                           ContentType="application/x-recordio-protobuf", Accept="text/csv", SplitType="RecordIO",
                           AssembleWith="Line", BatchStrategy=strategy, MaxPayloadInMB=1)
        assert result.ok and result.records == 250, result
        outputs[strategy] = (out / "rows.rec.out").read_text()
    assert outputs["MultiRecord"] == outputs["SingleRecord"]
    assert outputs["MultiRecord"] == "".join(f"{v!r}\n" for v in expected.tolist())
