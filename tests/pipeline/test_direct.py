"""Direct mode: the target container header picks one container, with SageMaker's validation errors."""

from __future__ import annotations

import json

import pytest
import requests

from .conftest import probe


@pytest.fixture(scope="module")
def endpoint(endpoints):
    spec = {"Containers": [probe("alpha"), probe("beta")], "InferenceExecutionConfig": {"Mode": "Direct"}}
    return endpoints(spec, name="direct")


def invoke(endpoint, **headers):
    headers = {"Content-Type": "text/plain", **{k.replace("_", "-"): v for k, v in headers.items()}}
    return requests.post(endpoint.url + "/invocations", data=b"hi\n", headers=headers, timeout=30)


def test_the_target_container_alone_answers_with_the_clients_accept(endpoint):
    response = invoke(endpoint, X_Amzn_SageMaker_Target_Container_Hostname="beta", Accept="text/plain")
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert lines[0] == "hi"
    hop = json.loads(lines[1])
    assert (len(lines), hop["name"], hop["accept"]) == (2, "beta", "text/plain")


def test_a_missing_target_is_a_validation_error(endpoint):
    response = invoke(endpoint)
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "ValidationError"
    assert response.json()["Message"] == (
        "Endpoint direct is configured for direct invocation: set TargetContainerHostname "
        "(header X-Amzn-SageMaker-Target-Container-Hostname) to one of: alpha, beta")


def test_an_unknown_target_is_a_validation_error(endpoint):
    response = invoke(endpoint, X_Amzn_SageMaker_Target_Container_Hostname="gamma")
    assert response.status_code == 400
    assert response.json()["Message"] == ("TargetContainerHostname 'gamma' does not exist in endpoint direct; "
                                          "its containers are: alpha, beta")


def test_a_failing_target_is_a_model_error_naming_it(endpoint):
    response = invoke(endpoint, X_Amzn_SageMaker_Target_Container_Hostname="alpha",
                      X_Amzn_SageMaker_Custom_Attributes="fail-alpha=500")
    assert response.status_code == 424
    assert response.json()["OriginalMessage"] == "alpha failed on purpose"
