"""The scikit-learn container, served by a real gunicorn process, as a client sees it."""

import io
import json

import joblib
import numpy as np
import pandas as pd
import pytest

from tests.conftest import ABALONE, ServerProcess

ROWS = ABALONE.read_text().splitlines()[:5]
FEATURE_ROWS = [",".join(r.split(",")[:8]) for r in ROWS]  # without the rings label
NAMES = ["sex", "length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]


@pytest.fixture(scope="module")
def featurizer(abalone_models):
    server = ServerProcess(abalone_models[0], framework="sklearn")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def regressor(abalone_models):
    server = ServerProcess(abalone_models[1], framework="sklearn")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def expected(abalone_models):
    """What the estimators themselves give for FEATURE_ROWS (no server involved)."""
    frame = pd.read_csv(io.StringIO("\n".join(FEATURE_ROWS)), header=None, names=NAMES)
    feats = joblib.load(abalone_models[0] / "model.joblib").transform(frame)
    rings = joblib.load(abalone_models[1] / "model.joblib").predict(feats)
    return feats, rings


def test_ping_is_200_with_an_empty_body(featurizer):
    r = featurizer.get("/ping")
    assert r.status_code == 200
    assert r.content == b""


def test_csv_rows_in_json_rows_out(featurizer, expected):
    r = featurizer.invoke("\n".join(FEATURE_ROWS))
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    np.testing.assert_allclose(r.json(), expected[0], rtol=1e-12)


def test_one_csv_row_gives_one_output_row(featurizer, expected):
    r = featurizer.invoke(FEATURE_ROWS[0])
    assert r.status_code == 200
    assert len(r.json()) == 1
    np.testing.assert_allclose(r.json()[0], expected[0][0], rtol=1e-12)


def test_blanks_after_commas_as_the_public_example_sends(featurizer, expected):
    r = featurizer.invoke(FEATURE_ROWS[0].replace(",", ", "))
    np.testing.assert_allclose(r.json()[0], expected[0][0], rtol=1e-12)


def test_charset_parameter_does_not_break_matching(featurizer):
    r = featurizer.invoke(FEATURE_ROWS[0], content_type="text/csv; charset=utf-8")
    assert r.status_code == 200


def test_accept_csv_gives_exactly_text_csv(featurizer, expected):
    r = featurizer.invoke("\n".join(FEATURE_ROWS), accept="text/csv")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/csv"
    got = np.loadtxt(io.StringIO(r.text), delimiter=",")
    np.testing.assert_allclose(got, expected[0], rtol=1e-12)


def test_accept_list_with_q_values(featurizer):
    r = featurizer.invoke(FEATURE_ROWS[0], accept="application/json;q=0.2, application/jsonlines;q=0.9, image/png")
    assert r.headers["Content-Type"] == "application/jsonlines"
    assert len(r.text.splitlines()) == 1


def test_accept_npy(featurizer, expected):
    r = featurizer.invoke("\n".join(FEATURE_ROWS), accept="application/x-npy")
    assert r.headers["Content-Type"] == "application/x-npy"
    np.testing.assert_allclose(np.load(io.BytesIO(r.content)), expected[0], rtol=1e-12)


def test_json_records_in(featurizer, expected):
    records = [dict(zip(NAMES, [row.split(",")[0]] + [float(v) for v in row.split(",")[1:]])) for row in FEATURE_ROWS]
    # columns in another order than the model's: matched by name
    records = [dict(reversed(list(rec.items()))) for rec in records]
    r = featurizer.invoke(json.dumps(records), content_type="application/json")
    assert r.status_code == 200
    np.testing.assert_allclose(r.json(), expected[0], rtol=1e-12)


def test_jsonlines_in(featurizer, expected):
    lines = "\n".join(json.dumps([row.split(",")[0]] + [float(v) for v in row.split(",")[1:]]) for row in FEATURE_ROWS)
    r = featurizer.invoke(lines, content_type="application/jsonlines")
    np.testing.assert_allclose(r.json(), expected[0], rtol=1e-12)


def test_regressor_json_instances_in_csv_out(regressor, expected):
    body = json.dumps({"instances": [{"features": row} for row in expected[0].tolist()]})
    r = regressor.invoke(body, content_type="application/json", accept="text/csv")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/csv"
    np.testing.assert_allclose([float(v) for v in r.text.splitlines()], expected[1], rtol=1e-12)


def test_regressor_npy_in(regressor, expected):
    buf = io.BytesIO()
    np.save(buf, expected[0])
    r = regressor.invoke(buf.getvalue(), content_type="application/x-npy")
    np.testing.assert_allclose(r.json(), expected[1], rtol=1e-12)


def test_request_id_is_returned_and_generated(featurizer):
    r = featurizer.invoke(FEATURE_ROWS[0], **{"X-Amzn-SageMaker-Inference-Id": "abc-123"})
    assert r.headers["X-Amzn-SageMaker-Inference-Id"] == "abc-123"
    r = featurizer.invoke(FEATURE_ROWS[0])
    assert len(r.headers["X-Amzn-SageMaker-Inference-Id"]) == 32


# -- errors --------------------------------------------------------------------------------
def error(r):
    return r.status_code, r.headers["Content-Type"], r.json()


def test_missing_content_type_is_415_naming_accepted_types(featurizer):
    r = featurizer.invoke(FEATURE_ROWS[0], content_type=None)
    assert error(r) == (415, "application/json", {
        "error": "UnsupportedMediaType",
        "message": "the request has no Content-Type; send one of: text/csv, application/json, "
                   "application/jsonlines, application/x-npy, "
        "application/x-recordio-protobuf, text/libsvm",
    })


def test_unsupported_content_type_is_415(featurizer):
    r = featurizer.invoke("<x/>", content_type="application/xml")
    assert r.status_code == 415
    assert r.json()["message"] == (
        "Content-Type 'application/xml' is not supported; send one of: text/csv, application/json, "
        "application/jsonlines, application/x-npy, "
        "application/x-recordio-protobuf, text/libsvm"
    )


def test_unacceptable_accept_is_406(featurizer):
    r = featurizer.invoke(FEATURE_ROWS[0], accept="image/png")
    assert r.status_code == 406
    assert r.json()["message"] == (
        "Accept 'image/png' names no type this model can produce; supported: text/csv, "
        "application/json, application/jsonlines, application/x-npy, "
        "application/x-recordio-protobuf, text/libsvm"
    )


def test_wrong_column_count_is_400_naming_expected_and_got(featurizer):
    r = featurizer.invoke("0.455,0.365,0.095")
    assert error(r) == (400, "application/json", {
        "error": "BadRequest",
        "message": "expected 8 columns (sex, length, diameter, height, whole_weight, shucked_weight, "
                   "viscera_weight, shell_weight), got 3",
    })


def test_missing_named_column_is_400(featurizer):
    r = featurizer.invoke(json.dumps([{"sex": "M", "length": 0.4}]), content_type="application/json")
    assert r.status_code == 400
    assert r.json()["message"].startswith("the input has no column(s) diameter, height")


def test_malformed_json_is_400(featurizer):
    r = featurizer.invoke("[1, 2", content_type="application/json")
    assert r.status_code == 400
    assert r.json()["message"].startswith("the JSON body is not valid JSON")


def test_text_in_a_numeric_column_is_400_not_500(regressor):
    r = regressor.invoke("a,b,c,d,e,f,g,h,i,j")
    assert r.status_code == 400
    assert r.json()["message"].startswith("the model rejected the input:")


def test_server_keeps_serving_after_errors(featurizer):
    for bad in ("x", "1,2", "\xff"):
        featurizer.invoke(bad)
    assert featurizer.invoke(FEATURE_ROWS[0]).status_code == 200


def test_get_invocations_is_405(featurizer):
    r = featurizer.get("/invocations")
    assert (r.status_code, r.headers["Allow"], r.json()["message"]) == (405, "POST", "/invocations takes POST, not GET")


def test_execution_parameters_from_settings(featurizer):
    r = featurizer.get("/execution-parameters")
    assert r.status_code == 200
    assert r.json() == {"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}


def test_unknown_path_is_404_in_json(featurizer):
    r = featurizer.get("/models")
    assert (r.status_code, r.json()) == (404, {
        "error": "NotFound", "message": "no route /models; this container serves /ping, /invocations and /execution-parameters"})
