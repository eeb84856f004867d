"""``--backend inprocess``: every container loaded in the endpoint's process, answering what
the process backend answers, byte for byte, for the same requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import requests

from serving.errors import ConfigurationError
from tests.conftest import REPO, free_port

from .conftest import abalone_example, probe, sklearn_rings

ROWS = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\nF,0.53,0.42,0.135,0.677,0.2565,0.1415,0.21\n"
# what each backend is asked, and what SageMaker's contract says comes back: 200, or the 424 ModelError
# naming the container that refused it and its own status
REQUESTS = [
    ({"Content-Type": "text/csv"}, ROWS, 200, None),
    ({"Content-Type": "text/csv", "Accept": "text/csv"}, ROWS, 424, ("postprocessor", 406)),  # it answers JSON only
    ({"Content-Type": "text/csv", "X-Amzn-SageMaker-Custom-Attributes": "trace=1"}, ROWS, 200, None),
    ({"Content-Type": "application/json"}, json.dumps([["M", 0.455, 0.365, 0.095, 0.514, 0.2245, 0.101, 0.15]]),
     200, None),
    ({"Content-Type": "text/csv"}, "M,0.455,abc,0.095,0.514,0.2245,0.101,0.15\n", 424, ("featurizer", 400)),
    ({"Content-Type": "text/csv"}, "M,0.455,0.365\n", 424, ("featurizer", 400)),  # too few columns
    # an unseen category: the featurizer's OneHotEncoder ignores it (handle_unknown="ignore")
    ({"Content-Type": "text/csv"}, "Q,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\n", 200, None),
    ({"Content-Type": "text/csv", "Accept": "application/x-unknown"}, ROWS, 424, ("postprocessor", 406)),
    ({"Content-Type": "application/x-unknown"}, ROWS, 424, ("featurizer", 415)),
    ({"Content-Type": "text/csv"}, "", 424, ("featurizer", 400)),
]
VARYING = {"date", "x-amzn-requestid"}  # per answer, whichever backend


@pytest.fixture(scope="module")
def example(abalone_models, tmp_path_factory):
    return abalone_example(tmp_path_factory.mktemp("example"), abalone_models)


@pytest.fixture(scope="module")
def both(endpoints, example):
    return endpoints(example), endpoints(example, backend_name="inprocess")


def answer(url: str, headers: dict, body: str) -> tuple[int, dict, bytes]:
    response = requests.post(url + "/invocations", data=body.encode(), headers=headers, timeout=30)
    kept = {k.lower(): v for k, v in response.headers.items() if k.lower() not in VARYING}
    return response.status_code, kept, response.content


@pytest.mark.parametrize("headers, body, status, failure", REQUESTS)
def test_the_inprocess_backend_answers_what_the_process_backend_answers(both, headers, body, status, failure):
    process, inprocess = both
    got = answer(inprocess.url, headers, body)
    assert got[0] == status
    if failure is not None:
        assert (got[1]["x-serving-failed-container"], json.loads(got[2])["OriginalStatusCode"]) == failure
    assert got == answer(process.url, headers, body)


def test_its_predictions_are_scikit_learns(both, abalone_models):
    status, _, body = answer(both[1].url, {"Content-Type": "text/csv"}, ROWS)
    assert status == 200
    np.testing.assert_allclose([p["rings"] for p in json.loads(body)["predictions"]],
                               sklearn_rings(abalone_models, ROWS), atol=1e-4)


def test_ping_execution_parameters_and_status(both):
    process, inprocess = both
    assert requests.get(inprocess.url + "/ping", timeout=10).status_code == 200
    params = [requests.get(e.url + "/execution-parameters", timeout=10) for e in both]
    assert params[1].status_code == params[0].status_code == 200
    assert params[1].json() == params[0].json()
    containers = inprocess.router.status()["containers"]
    assert [(c["name"], c["state"], c["pid"]) for c in containers] == [
        (name, "ready", os.getpid()) for name in ("featurizer", "regressor", "postprocessor")]


def test_a_command_container_is_refused_with_the_backend_to_use(endpoints):
    spec = {"Containers": [probe("first"), probe("second")]}
    with pytest.raises(ConfigurationError) as caught:
        endpoints(spec, backend_name="inprocess")
    assert str(caught.value).startswith("container first runs a Command (")
    assert str(caught.value).endswith("the inprocess backend loads containers with a Framework of ours only: "
                                      "use --backend process (or docker)")


def test_a_model_that_does_not_load_fails_the_start_at_once_with_its_reason(endpoints, tmp_path, abalone_models):
    empty = tmp_path / "empty"
    empty.mkdir()
    spec = {"Containers": [{"ContainerHostname": "featurizer", "Framework": "sklearn", "ModelDataUrl": str(abalone_models[0])},
                           {"ContainerHostname": "broken", "Framework": "sklearn", "ModelDataUrl": str(empty)}]}
    started = time.monotonic()
    with pytest.raises(ConfigurationError) as caught:
        endpoints(spec, backend_name="inprocess")
    assert time.monotonic() - started < 60  # not the 240 s start-up window
    message = str(caught.value)
    assert message.startswith("1 container(s) did not pass the ping health check within 240 s (broken): broken: "
                              "the model failed to load: ")
    assert "model.joblib" in message


def test_an_update_switches_to_a_new_inprocess_pipeline(endpoints, example):
    endpoint = endpoints(example, backend_name="inprocess")
    before = answer(endpoint.url, {"Content-Type": "text/csv"}, ROWS)
    result = endpoint.update(example)
    assert result["containers"] == ["featurizer", "regressor", "postprocessor"]
    assert answer(endpoint.url, {"Content-Type": "text/csv"}, ROWS) == before


def test_serving_endpoint_up_with_the_inprocess_backend(example, tmp_path):
    """The command docs/pipeline.md shows, run as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SM_"))}
    env.update(SERVING_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO))
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "serving.cli", "endpoint", "up", str(example),
                                "--backend", "inprocess", "--port", str(port)], env=env, cwd=example.parents[2],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        status, _, body = answer(f"http://127.0.0.1:{port}", {"Content-Type": "text/csv"}, ROWS)
        assert status == 200 and len(json.loads(body)["predictions"]) == 2
    finally:
        process.terminate()
        out = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0
    assert "[abalone/featurizer] loaded in this process in " in out

