"""The XGBoost container, served by real processes: predictions equal ``Booster.predict`` on the
same rows for every input format, model file format and objective; answers are the bytes the
AWS container writes (its unit tests' and source's formats, see docs/xgboost.md)."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

import numpy as np
import pytest
import scipy.sparse as sp
import xgboost as xgb
from sagemaker.amazon.common import read_records, write_numpy_to_dense_tensor, write_spmatrix_to_sparse_tensor

from tests.conftest import ServerProcess

RNG = np.random.default_rng(11)
TRAIN = RNG.random((300, 4))
ROWS = np.round(RNG.random((6, 4)), 4)
ROWS[2, 1] = np.nan  # a missing value
OBJECTIVES = {
    "reg:squarederror": TRAIN @ [1.0, 2.0, -1.0, 0.5],
    "binary:logistic": (TRAIN[:, 0] + TRAIN[:, 1] > 1).astype(float),
    "multi:softprob": np.minimum((TRAIN[:, 0] * 3).astype(int), 2),
    "multi:softmax": np.minimum((TRAIN[:, 0] * 3).astype(int), 2),
    "binary:hinge": (TRAIN[:, 2] > 0.5).astype(float),
}


def train(objective: str, seed: int = 0, rounds: int = 8) -> xgb.Booster:
    params = {"objective": objective, "max_depth": 3, "seed": seed, "subsample": 0.8}
    if objective.startswith("multi:"):
        params["num_class"] = 3
    return xgb.train(params, xgb.DMatrix(TRAIN, label=OBJECTIVES[objective]), rounds)


def csv_body(rows: np.ndarray) -> str:
    return "".join(",".join("" if np.isnan(v) else repr(float(v)) for v in row) + "\n" for row in rows)


def libsvm_body(rows: np.ndarray, base: int = 1) -> str:
    return "".join("1 " + " ".join(f"{j + base}:{v!r}" for j, v in enumerate(row.tolist()) if not np.isnan(v)) + "\n"
                   for row in rows)


def recordio_dense(rows: np.ndarray) -> bytes:
    buf = io.BytesIO()
    write_numpy_to_dense_tensor(buf, rows.astype(np.float32))
    return buf.getvalue()


def recordio_sparse(rows: np.ndarray) -> bytes:
    present = ~np.isnan(rows)
    matrix = sp.csr_matrix((rows[present].astype(np.float32), np.nonzero(present)), shape=rows.shape)
    buf = io.BytesIO()
    write_spmatrix_to_sparse_tensor(buf, matrix)
    return buf.getvalue()


def reference(booster: xgb.Booster, rows: np.ndarray) -> np.ndarray:
    return booster.predict(xgb.DMatrix(rows, missing=np.nan))


def csv_lines(values: np.ndarray) -> str:
    """What the AWS container's csv.writer writes for ``preds.tolist()``."""
    return "".join((",".join(map(repr, v)) if isinstance(v, list) else repr(v)) + "\n" for v in values.tolist())


def model_dir(tmp_path_factory, name: str, boosters: dict[str, xgb.Booster], fmt: str = "ubj"):
    folder = tmp_path_factory.mktemp(name)
    for file, booster in boosters.items():
        if fmt == "pickle":
            (folder / file).write_bytes(pickle.dumps(booster))
        else:
            raw = booster.save_raw(raw_format={"binary": "deprecated"}.get(fmt, fmt))
            (folder / file).write_bytes(bytes(raw))
    return folder


@pytest.fixture(scope="module")
def boosters():
    return {objective: train(objective) for objective in OBJECTIVES}


@pytest.fixture(scope="module")
def binary(boosters, tmp_path_factory):
    server = ServerProcess(model_dir(tmp_path_factory, "binary", {"xgboost-model": boosters["binary:logistic"]}),
                           framework="xgboost")
    yield server
    server.stop()


# -- every input format, every model file format ----------------------------------------
@pytest.mark.parametrize("fmt", ["json", "ubj", "binary", "pickle"])
@pytest.mark.parametrize("objective", ["reg:squarederror", "multi:softprob"])
def test_every_model_format_predicts_as_the_booster(boosters, tmp_path_factory, fmt, objective, serve):
    folder = model_dir(tmp_path_factory, f"{fmt}", {"xgboost-model": boosters[objective]}, fmt)
    server = serve(folder, framework="xgboost")
    r = server.invoke(csv_body(ROWS))
    assert (r.status_code, r.headers["Content-Type"]) == (200, "text/csv"), r.text
    assert r.text == csv_lines(reference(boosters[objective], ROWS))


@pytest.mark.parametrize("body, content_type", [
    (csv_body(ROWS), "text/csv"),
    (csv_body(ROWS), "text/csv; label_size=1"),
    (libsvm_body(ROWS, 1), "text/libsvm"),
    (libsvm_body(ROWS, 0), "text/libsvm"),
    (libsvm_body(ROWS, 1), "text/x-libsvm"),
    (recordio_dense(ROWS), "application/x-recordio-protobuf"),
    (recordio_sparse(ROWS), "application/x-recordio-protobuf"),
], ids=["csv", "csv-label-size", "libsvm-1", "libsvm-0", "x-libsvm", "recordio-dense", "recordio-sparse"])
def test_every_input_format_predicts_as_the_booster(binary, boosters, body, content_type):
    r = binary.invoke(body, content_type=content_type, accept="application/json")
    assert r.status_code == 200, r.text
    # float32 rows (recordio) predict the same: XGBoost works in float32 whatever it is given
    expected = reference(boosters["binary:logistic"], ROWS).tolist()
    assert r.content == json.dumps({"predictions": [{"score": v} for v in expected]}).encode()


# -- the default answers -------------------------------------------------------------------
def test_default_answers_in_each_accept(binary, boosters):
    preds = reference(boosters["binary:logistic"], ROWS).tolist()
    r = binary.invoke(csv_body(ROWS))
    assert (r.headers["Content-Type"], r.text) == ("text/csv", "".join(f"{v!r}\n" for v in preds))
    r = binary.invoke(csv_body(ROWS), accept="application/jsonlines")
    assert r.text == "".join(json.dumps({"score": v}) + "\n" for v in preds)
    r = binary.invoke(csv_body(ROWS), accept="application/x-recordio-protobuf")
    assert r.headers["Content-Type"] == "application/x-recordio-protobuf"
    records = read_records(io.BytesIO(r.content))
    assert [list(rec.label["score"].float32_tensor.values) for rec in records] == [[v] for v in preds]


def test_multiclass_rows_are_comma_joined(boosters, tmp_path_factory, serve):
    folder = model_dir(tmp_path_factory, "softprob", {"xgboost-model": boosters["multi:softprob"]})
    server = serve(folder, framework="xgboost")
    preds = reference(boosters["multi:softprob"], ROWS)
    assert server.invoke(csv_body(ROWS)).text == "".join(",".join(map(repr, row)) + "\n" for row in preds.tolist())
    r = server.invoke(csv_body(ROWS), accept="application/json")
    assert r.json() == {"predictions": [{"score": row} for row in preds.tolist()]}


def test_empty_body_is_204(binary):
    r = binary.invoke(b"")
    assert (r.status_code, r.content) == (204, b"")


def test_execution_parameters(binary):
    r = binary.get("/execution-parameters")
    assert r.status_code == 200
    assert r.json() == {"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}


# -- selectable inference output -----------------------------------------------------------
def test_selectable_output_binary_logistic(boosters, tmp_path_factory, serve):
    folder = model_dir(tmp_path_factory, "selectable", {"xgboost-model": boosters["binary:logistic"]})
    keys = "predicted_label,labels,probability,probabilities,raw_score,raw_scores"
    server = serve(folder, framework="xgboost", env={"SAGEMAKER_INFERENCE_OUTPUT": keys})
    p = reference(boosters["binary:logistic"], ROWS[:2]).tolist()
    rows = [{"predicted_label": int(v > 0.5), "labels": [0, 1], "probability": v, "probabilities": [1.0 - v, v],
             "raw_score": v, "raw_scores": [1.0 - v, v]} for v in p]
    body = csv_body(ROWS[:2])
    r = server.invoke(body, accept="application/json")
    assert r.content == json.dumps({"predictions": rows}).encode()
    r = server.invoke(body, accept="application/jsonlines")
    assert r.content == "".join(json.dumps(row) + "\n" for row in rows).encode()
    r = server.invoke(body)  # CSV: lists quoted as str(list) writes them, no final newline
    assert r.text == "\n".join(
        f'{row["predicted_label"]},"{row["labels"]}",{row["probability"]!r},"{row["probabilities"]}",'
        f'{row["raw_score"]!r},"{row["raw_scores"]}"' for row in rows)
    r = server.invoke(body, accept="application/x-recordio-protobuf")
    records = read_records(io.BytesIO(r.content))
    assert len(records) == 2
    assert list(records[1].label["probabilities"].float32_tensor.values) == [
        float(np.float32(x)) for x in rows[1]["probabilities"]]
    assert list(records[1].label["predicted_label"].float32_tensor.values) == [rows[1]["predicted_label"]]


def test_selectable_output_multiclass_csv_follows_the_variable_order(boosters, tmp_path_factory, serve):
    folder = model_dir(tmp_path_factory, "selectable-multi", {"xgboost-model": boosters["multi:softprob"]})
    server = serve(folder, framework="xgboost", env={"SAGEMAKER_INFERENCE_OUTPUT": "probability, predicted_label"})
    preds = reference(boosters["multi:softprob"], ROWS[:3])
    r = server.invoke(csv_body(ROWS[:3]))
    assert r.text == "\n".join(f"{row.max().item()!r},{int(np.argmax(row))}" for row in preds)
    r = server.invoke(csv_body(ROWS[:3]), accept="application/json")
    assert r.json() == {"predictions": [{"predicted_label": int(np.argmax(row)), "probability": row.max().item()}
                                        for row in preds]}


def test_an_output_key_the_objective_lacks_fails_at_start(boosters, tmp_path_factory, serve):
    folder = model_dir(tmp_path_factory, "badkey", {"xgboost-model": boosters["reg:squarederror"]})
    server = serve(folder, framework="xgboost", env={"SAGEMAKER_INFERENCE_OUTPUT": "predicted_label"})
    r = server.get("/ping")
    assert r.status_code == 503
    assert ("SAGEMAKER_INFERENCE_OUTPUT names predicted_label, which reg:squarederror does not produce; "
            "choose from: predicted_score") in r.text


# -- ensembles -------------------------------------------------------------------------------
def test_ensemble_averages_and_can_be_turned_off(tmp_path_factory, serve):
    members = {"xgboost-model-0": train("binary:logistic", 1), "xgboost-model-1": train("binary:logistic", 2)}
    folder = model_dir(tmp_path_factory, "ensemble", members)
    mean = np.mean([reference(b, ROWS) for b in members.values()], axis=0)
    server = serve(folder, framework="xgboost")
    single = serve(folder, framework="xgboost", env={"SAGEMAKER_INFERENCE_ENSEMBLE": "false"})
    assert server.invoke(csv_body(ROWS)).text == csv_lines(mean)
    assert single.invoke(csv_body(ROWS)).text == csv_lines(reference(members["xgboost-model-0"], ROWS))


def test_ensemble_of_softmax_models_votes(tmp_path_factory, serve):
    members = {f"m{i}": train("multi:softmax", seed, rounds=2) for i, seed in enumerate((1, 2, 3))}
    folder = model_dir(tmp_path_factory, "vote", members)
    votes = np.stack([reference(b, ROWS) for b in members.values()])
    expected = [max(sorted(set(col)), key=list(col).count) for col in votes.T]  # most votes; ties: lowest class
    server = serve(folder, framework="xgboost")
    r = server.invoke(csv_body(ROWS), accept="application/json")
    assert r.json() == {"predictions": [{"score": v} for v in expected]}


# -- script mode -----------------------------------------------------------------------------
def test_script_mode_uses_the_scripts_hooks_and_aws_script_defaults(boosters, tmp_path_factory, serve):
    folder = model_dir(tmp_path_factory, "script", {"xgboost-model": boosters["binary:logistic"]})
    (folder / "code").mkdir()
    (folder / "code" / "inference.py").write_text(
        "import os\nimport xgboost as xgb\n\n"
        "def model_fn(model_dir):\n"
        "    booster = xgb.Booster()\n"
        "    booster.load_model(os.path.join(model_dir, 'xgboost-model'))\n"
        "    return booster\n")
    server = serve(folder, framework="xgboost")
    preds = reference(boosters["binary:logistic"], ROWS)
    r = server.invoke(csv_body(ROWS))  # script mode's default Accept: application/json, a plain list
    assert (r.headers["Content-Type"], r.content) == ("application/json", json.dumps(preds.tolist()).encode())
    r = server.invoke(csv_body(ROWS), accept="text/csv")  # float32 values as NumPy writes them
    assert r.text == "".join(str(v) + "\n" for v in preds)


def test_batch_answers_one_prediction_per_line(boosters, tmp_path_factory, serve):
    folder = model_dir(tmp_path_factory, "batch", {"xgboost-model": boosters["multi:softprob"]})
    server = serve(folder, framework="xgboost", env={"SAGEMAKER_BATCH": "true"})
    preds = reference(boosters["multi:softprob"], ROWS).tolist()
    r = server.invoke(csv_body(ROWS), accept="application/json")
    assert r.text == "".join(f"{row}\n" for row in preds)


# -- what a client gets wrong ------------------------------------------------------------------
@pytest.mark.parametrize("body, content_type, status, message", [
    ("0.1,0.2,0.3\n", "text/csv", 400, "expected 4 features per row (the model's width), got 3"),
    ("5,0.1,0.2,0.3,0.4\n", "text/csv", 400,
     "expected 4 features per row (the model's width), got 5; a label column does not belong in the request: "
     "send the features only"),
    ("0.1,abc,0.3,0.4\n", "text/csv", 400, "column(s) 2 of the text/csv body hold text (e.g. 'abc'); XGBoost reads numbers only"),
    ("1 1:0.1 7:0.5\n", "text/libsvm", 400,
     "the text/libsvm body names feature 7 (index 7 1-based, 6 0-based), beyond the model's 4 features"),
    ("1 1:0.1 2:x\n", "text/libsvm", 400,
     "line 1 of the text/libsvm body has the token '2:x', whose value 'x' is not a number"),
    (recordio_dense(ROWS)[:-5], "application/x-recordio-protobuf", 400,
     "RecordIO record 6 at byte 200 is truncated: it declares 32 bytes, 27 follow"),
    (struct.pack("<II", 0xCED7230A, 4) + b"\xff\xff\xff\xff", "application/x-recordio-protobuf", 400,
     "RecordIO record 1 (bytes 8-12) is not a SageMaker Record protobuf"),
    (recordio_dense(ROWS[:, :3]), "application/x-recordio-protobuf", 400,
     "expected 4 features per row (the model's width), got 3"),
    ("0.1,0.2,0.3,0.4", "text/csv; label_size=2", 415,
     "text/csv; label_size=2 is not an accepted csv ContentType. Optional parameter label_size must be equal to 1"),
    ('{"instances": [[1, 2, 3, 4]]}', "application/json", 415,
     "Content-Type 'application/json' is not supported; send one of: text/csv, text/libsvm, text/x-libsvm, "
     "application/x-recordio-protobuf"),
])
def test_bad_requests_are_4xx_that_say_what_and_where(binary, body, content_type, status, message):
    r = binary.invoke(body, content_type=content_type)
    assert r.status_code == status, r.text
    assert r.json()["message"].startswith(message), r.json()
    assert binary.invoke(csv_body(ROWS[:1])).status_code == 200  # and the server keeps serving


def test_a_file_that_is_not_a_model(tmp_path, serve):
    (tmp_path / "xgboost-model").write_bytes(b"not a model")
    server = serve(tmp_path, framework="xgboost")
    r = server.get("/ping")
    assert r.status_code == 503
    assert f"{tmp_path}/xgboost-model is not an XGBoost model (pickled or saved by save_model)" in r.text


def test_a_pickled_scikit_learn_api_model_serves_its_booster(tmp_path, serve):
    model = xgb.XGBRegressor(n_estimators=6, max_depth=3).fit(TRAIN, OBJECTIVES["reg:squarederror"])
    (tmp_path / "xgboost-model").write_bytes(pickle.dumps(model))
    server = serve(tmp_path, framework="xgboost")
    r = server.invoke(csv_body(ROWS))
    assert r.status_code == 200, r.text
    assert r.text == csv_lines(reference(model.get_booster(), ROWS))
