"""Each image against the SageMaker container contract, started as `docker run IMAGE serve`.

Expected predictions come from scikit-learn itself on the host, from MLeap's own tests,
or from the arithmetic of the example script: never from the serving code.
"""

from __future__ import annotations

import json
import tarfile

import joblib
import numpy as np
import pandas as pd
import pytest

from docker_helpers import (  # noqa: F401  (fixtures are used by name)
    IMAGES, POSTPROCESSOR, custom_image, docker_client, image, readable_dir, run,
)

pytestmark = pytest.mark.docker

SAGEMAKER_LABEL = "com.amazonaws.sagemaker.capabilities.accept-bind-to-port"
FEATURES = ["sex", "length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]
# combust/mleap's spring-boot tests: this input gives this prediction (fixtures README, section 3)
DEMO_BUNDLE = "fixtures/mleap/combust_mleap/mleap-spring-boot/src/test/resources/demo.zip"
DEMO_SCHEMA = {
    "input": [{"name": "demo:a", "type": "double"}, {"name": "demo:c", "type": "double"},
              {"name": "demo:d", "type": "double"}],
    "output": {"name": "demo:prediction", "type": "double"},
}
ALL = ["model", "sklearn", "sparkml", "xgboost", "blazingtext", "custom"]
XGB_ROWS = np.round(np.random.default_rng(3).random((5, 4)), 4)


@pytest.fixture(scope="module")
def builtin_models(tmp_path_factory):
    """An XGBoost regressor (xgboost-model, UBJ) and a fastText classifier (model.bin)."""
    import xgboost as xgb

    from tests.conftest import load_example

    out = tmp_path_factory.mktemp("builtin")
    rng = np.random.default_rng(0)
    features = rng.random((200, 4))
    booster = xgb.train({"objective": "reg:squarederror", "max_depth": 3}, xgb.DMatrix(features, label=features @ [1, 2, 3, 4]), 5)
    booster.save_model(str(out / "xgboost-model"))
    example = load_example("sparkml-blazingtext/train.py")
    lines = [f"__label__{label} {text.lower()}" for label, text in example.make_abstracts(200)]
    example.train_classifier(lines, out / "blazingtext", epoch=5)
    return {"xgboost": out / "xgboost-model", "blazingtext": out / "blazingtext" / "model.bin"}


@pytest.fixture(scope="module")
def abalone_rows(shared_dir) -> pd.DataFrame:
    frame = pd.read_csv(shared_dir / "data" / "abalone.data", header=None, names=FEATURES + ["rings"])
    return frame[FEATURES].iloc[:20]


@pytest.fixture
def serving(run, image, custom_image, readable_dir, abalone_models, shared_dir, builtin_models):
    """``serving(name, env=..., port=...)``: that image serving a real model, /ping answered."""

    def start(name: str, env: dict | None = None, port: int = 8080):
        env = dict(env or {})
        if name == "sklearn":
            model = {"model.joblib": abalone_models[0] / "model.joblib"}
        elif name == "sparkml":
            model = {"demo.zip": shared_dir / DEMO_BUNDLE}
            env.setdefault("SAGEMAKER_SPARKML_SCHEMA", json.dumps(DEMO_SCHEMA))
        elif name == "xgboost":
            model = {"xgboost-model": builtin_models["xgboost"]}
        elif name == "blazingtext":
            model = {"model.bin": builtin_models["blazingtext"]}
        elif name == "model":  # the example script where SageMaker repacks code: <model>/code/
            model = {"code/inference.py": POSTPROCESSOR}
        else:  # the script is in the image; the model directory is empty
            model = {}
        image(name)
        container = run(IMAGES[name], model_dir=readable_dir(model), env=env, port=port)
        ping = container.wait_ready()
        assert ping.status_code == 200, container.logs()
        return container

    return start


@pytest.mark.parametrize("name", ALL)
def test_image_carries_the_bind_to_port_label(image, custom_image, name):
    assert image(name).labels[SAGEMAKER_LABEL] == "true"


@pytest.mark.parametrize("name", ALL)
def test_serve_argument_reaches_an_exec_form_entrypoint(image, custom_image, name):
    config = image(name).attrs["Config"]
    assert config["Entrypoint"] == ["serving"]
    assert config["Cmd"] == ["serve"]


@pytest.mark.parametrize("name", ALL)
def test_ping_is_200_with_an_empty_body(serving, name):
    container = serving(name)
    ping = container.session.get(container.url + "/ping", timeout=5)
    assert ping.status_code == 200
    assert ping.content == b""


@pytest.mark.parametrize("name", ALL)
def test_every_process_runs_as_the_non_root_user(serving, name):
    top = serving(name).container.top(ps_args="-o pid,uid")
    uids = {int(process[1]) for process in top["Processes"]}
    assert uids == {10001}


@pytest.mark.parametrize("name", ALL)
def test_sagemaker_bind_to_port_moves_the_server(serving, name):
    container = serving(name, env={"SAGEMAKER_BIND_TO_PORT": "9091"}, port=9091)
    probe = container.container.exec_run(
        ["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', 8080), timeout=2)"]
    )
    assert probe.exit_code == 1
    assert b"ConnectionRefusedError" in probe.output


@pytest.mark.parametrize("name", ALL)
def test_sigterm_stops_the_server_with_exit_code_0(serving, name):
    container = serving(name).container
    container.kill(signal="SIGTERM")
    # A server that never saw the signal would still be running when the wait gives up.
    assert container.wait(timeout=30)["StatusCode"] == 0


def test_sklearn_image_answers_the_featurizer_output(serving, abalone_models, abalone_rows):
    expected = joblib.load(abalone_models[0] / "model.joblib").transform(abalone_rows)
    response = serving("sklearn").invoke(abalone_rows.to_csv(header=False, index=False))
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    np.testing.assert_array_equal(np.array(response.json()), expected)


def test_model_tar_gz_on_a_read_only_mount_is_served(run, image, readable_dir, abalone_models, abalone_rows, tmp_path):
    """The archive is unpacked outside /opt/ml/model, which the non-root user cannot write."""
    image("sklearn")
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(abalone_models[0] / "model.joblib", arcname="model.joblib")
    container = run(IMAGES["sklearn"], model_dir=readable_dir({"model.tar.gz": archive}))
    assert container.wait_ready().status_code == 200, container.logs()
    response = container.invoke(abalone_rows.to_csv(header=False, index=False))
    expected = joblib.load(abalone_models[0] / "model.joblib").transform(abalone_rows)
    np.testing.assert_array_equal(np.array(response.json()), expected)


def test_xgboost_image_answers_as_the_booster_predicts(serving, builtin_models):
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(str(builtin_models["xgboost"]))
    expected = booster.predict(xgb.DMatrix(XGB_ROWS)).tolist()
    response = serving("xgboost").invoke("".join(",".join(map(str, row)) + "\n" for row in XGB_ROWS.tolist()), accept="*/*")
    assert (response.status_code, response.headers["Content-Type"]) == (200, "text/csv"), response.text
    assert response.text == "".join(f"{v!r}\n" for v in expected)


def test_blazingtext_image_answers_as_fasttext_predicts(serving, builtin_models):
    import fasttext

    fasttext.FastText.eprint = lambda *_: None
    texts = ["university students campus", "album released by the band"]
    model = fasttext.load_model(str(builtin_models["blazingtext"]))
    expected = [{"label": list(labels), "prob": probs.tolist()} for labels, probs in (model.predict(t, k=2) for t in texts)]
    response = serving("blazingtext").invoke(json.dumps({"instances": texts, "configuration": {"k": 2}}),
                                             content_type="application/json")
    assert (response.status_code, response.headers["Content-Type"]) == (200, "application/json"), response.text
    assert response.json() == expected


def test_sparkml_image_gives_mleaps_asserted_prediction(serving):
    response = serving("sparkml").invoke("44.5,22.1,98.2", accept="text/csv")
    assert response.status_code == 200, response.text
    assert response.text.strip() == "-67.78953193834998"


@pytest.mark.parametrize("name", ["model", "custom"])
def test_postprocessor_adds_one_and_a_half_years_to_the_rings(serving, name):
    response = serving(name).invoke("9\n15\n10.25\n")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"predictions": [{"rings": 9.0, "age": 10.5}, {"rings": 15.0, "age": 16.5},
                                               {"rings": 10.25, "age": 11.75}]}


def test_postprocessor_refuses_two_columns_with_400(serving):
    response = serving("custom").invoke("9,1\n15,2\n")
    assert response.status_code == 400
    assert response.json()["message"] == "expected one predicted ring count per record, got records of shape (2,)"


def test_postprocessor_refuses_words_with_400(serving):
    response = serving("custom").invoke("nine\n")
    assert response.status_code == 400
    assert response.json()["message"].startswith("predicted ring counts must be numbers: ")


def test_postprocessor_refuses_csv_output_with_406(serving):
    response = serving("custom").invoke("9\n", accept="text/csv")
    assert response.status_code == 406
    assert response.json()["message"] == "this post-processor answers application/json only, not text/csv"


def test_abalone_chain_through_three_containers(run, image, custom_image, readable_dir, abalone_models, abalone_rows):
    """Featurizer -> regressor -> post-processor, each in its own container, by hand."""
    featurizer_dir, regressor_dir = abalone_models
    stages = [
        run(IMAGES["sklearn"], model_dir=readable_dir({"model.joblib": featurizer_dir / "model.joblib"})),
        run(IMAGES["sklearn"], model_dir=readable_dir({"model.joblib": regressor_dir / "model.joblib"})),
        run(IMAGES["custom"], model_dir=readable_dir({})),
    ]
    for stage in stages:
        assert stage.wait_ready().status_code == 200, stage.logs()
    body = abalone_rows.to_csv(header=False, index=False)
    for stage, accept in zip(stages, ["text/csv", "text/csv", "application/json"]):
        response = stage.invoke(body, accept=accept)
        assert response.status_code == 200, response.text
        body = response.content
    features = joblib.load(featurizer_dir / "model.joblib").transform(abalone_rows)
    rings = joblib.load(regressor_dir / "model.joblib").predict(features)
    got = json.loads(body)["predictions"]  # four decimals, as the post-processor writes them
    np.testing.assert_allclose([p["rings"] for p in got], rings, rtol=0, atol=5e-5)
    np.testing.assert_allclose([p["age"] for p in got], rings + 1.5, rtol=0, atol=5e-5)


def test_sparkml_image_has_no_jvm_and_no_pyspark(docker_client, image):
    image("sparkml")
    script = "import shutil, importlib.util as u; print(shutil.which('java'), u.find_spec('pyspark'))"
    out = docker_client.containers.run(IMAGES["sparkml"], ["-c", script], entrypoint="python3", remove=True)
    assert out == b"None None\n"


def test_model_image_holds_the_bare_runtime_only(docker_client, image):
    image("model")
    script = "import importlib.util as u; print([m for m in ('sklearn', 'scipy', 'pyarrow', 'flask', 'pandas') if u.find_spec(m)])"
    out = docker_client.containers.run(IMAGES["model"], ["-c", script], entrypoint="python3", remove=True)
    assert out == b"['pandas']\n"


def test_sklearn_image_carries_what_inference_scripts_import_on_aws(docker_client, image):
    image("sklearn")
    script = "import boto3, flask, scipy.sparse; print(boto3.__name__, flask.__name__)"
    out = docker_client.containers.run(IMAGES["sklearn"], ["-c", script], entrypoint="python3", remove=True)
    assert out == b"boto3 flask\n"
