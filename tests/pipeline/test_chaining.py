"""Serial mode on a three-probe pipeline: what each container receives and what the client gets."""

from __future__ import annotations

import json

import pytest
import requests

from serving.pipeline.router import Limits

from .conftest import probe

LIMITS = Limits(timeout=2.0, max_request_bytes=10_000, max_response_bytes=20_000, max_hop_bytes=5_000)


@pytest.fixture(scope="module")
def endpoint(endpoints):
    spec = {"Containers": [probe("first", PROBE_OUTPUT_TYPE="application/x-first; v=1"),
                           probe("middle"), probe("last")]}
    return endpoints(spec, name="chain", limits=LIMITS)


def invoke(endpoint, body=b"hello\n", path="/invocations", **headers):
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    headers.setdefault("Content-Type", "text/plain")
    return requests.post(endpoint.url + path, data=body, headers=headers, timeout=30)


def hops(response):
    lines = response.text.splitlines()
    assert lines[0] == "hello"
    return [json.loads(line) for line in lines[1:]]


def test_each_container_gets_the_previous_body_in_order(endpoint):
    response = invoke(endpoint)
    assert response.status_code == 200
    assert [h["name"] for h in hops(response)] == ["first", "middle", "last"]


def test_content_type_passes_verbatim_from_container_to_container(endpoint):
    response = invoke(endpoint, Content_Type="text/plain; charset=us-ascii")
    first, middle, last = hops(response)
    assert first["content_type"] == "text/plain; charset=us-ascii"
    assert middle["content_type"] == "application/x-first; v=1"
    assert last["content_type"] == "application/x-first; v=1"
    assert response.headers["Content-Type"] == "application/x-first; v=1"


def test_only_the_last_container_gets_the_clients_accept(endpoint):
    response = invoke(endpoint, Accept="application/x-first")
    assert [h["accept"] for h in hops(response)] == [None, None, "application/x-first"]


def test_custom_attributes_reach_every_container_and_the_last_ones_come_back(endpoint):
    response = invoke(endpoint, X_Amzn_SageMaker_Custom_Attributes="trace=7")
    assert [h["custom_attributes"] for h in hops(response)] == ["trace=7"] * 3
    assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "last saw: trace=7"


def test_inference_id_reaches_every_container(endpoint):
    response = invoke(endpoint, X_Amzn_SageMaker_Inference_Id="abc-123")
    assert [h["inference_id"] for h in hops(response)] == ["abc-123"] * 3


def test_without_an_inference_id_the_request_id_reaches_every_container(endpoint):
    response = invoke(endpoint)
    request_id = response.headers["x-amzn-RequestId"]
    assert [h["inference_id"] for h in hops(response)] == [request_id] * 3


def test_the_response_names_the_variant(endpoint):
    assert invoke(endpoint).headers["x-Amzn-Invoked-Production-Variant"] == "AllTraffic"


def test_sagemaker_runtime_path_runs_the_pipeline(endpoint):
    response = invoke(endpoint, path="/endpoints/chain/invocations")
    assert [h["name"] for h in hops(response)] == ["first", "middle", "last"]


def test_another_endpoint_name_in_the_path_is_a_validation_error(endpoint):
    response = invoke(endpoint, path="/endpoints/other/invocations")
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "ValidationError"
    assert response.json()["Message"].startswith("Endpoint other not found: this router serves endpoint chain")


@pytest.mark.parametrize("name,status,kind", [("first", 415, "client"), ("middle", 500, "server"), ("last", 404, "client")])
def test_a_failing_container_stops_the_chain_with_a_model_error(endpoint, name, status, kind):
    response = invoke(endpoint, X_Amzn_SageMaker_Custom_Attributes=f"fail-{name}={status}")
    assert response.status_code == 424
    assert response.headers["x-amzn-ErrorType"] == "ModelError"
    assert response.headers["X-Serving-Failed-Container"] == name
    body = response.json()
    assert body["OriginalStatusCode"] == status
    assert body["OriginalMessage"] == f"{name} failed on purpose"
    assert body["Message"] == (f'Received {kind} error ({status}) from {name} with message "{name} failed on purpose". '
                               f"See the log lines prefixed [chain/{name}] for more information.")


def test_a_slow_container_times_out_with_a_model_error_naming_it(endpoint):
    response = invoke(endpoint, X_Amzn_SageMaker_Custom_Attributes="sleep-middle=3")
    assert response.status_code == 424
    body = response.json()
    assert body["OriginalStatusCode"] == 0
    assert body["Message"].startswith(
        'Received server error (0) from middle with message "Your invocation timed out while waiting for a response '
        "from container middle.")
    assert body["Message"].endswith("The limit is 2 s per container (--timeout).")


def test_a_request_over_the_limit_is_refused_before_any_container(endpoint):
    response = invoke(endpoint, body=b"x" * 10_001)
    assert response.status_code == 413
    assert response.headers["x-amzn-ErrorType"] == "ValidationError"
    assert response.json()["Message"].startswith(
        "Received a request body of 10001 bytes, which exceeds the maximum of 10000 bytes")


def test_a_payload_between_containers_over_the_limit_is_a_model_error(endpoint):
    response = invoke(endpoint, X_Amzn_SageMaker_Custom_Attributes="bytes-first=6000")
    assert response.status_code == 424
    assert response.json()["Message"].startswith(
        "Received response from first with status code 200. However, the request payload from first to middle "
        "is 6000 bytes, which has exceeded the maximum limit of 5000 bytes.")


def test_a_response_over_the_limit_is_a_model_error(endpoint):
    response = invoke(endpoint, X_Amzn_SageMaker_Custom_Attributes="bytes-last=20001")
    assert response.status_code == 424
    assert "the response payload from last to the client is 20001 bytes" in response.json()["Message"]


def test_a_long_custom_attributes_header_is_a_validation_error(endpoint):
    response = invoke(endpoint, X_Amzn_SageMaker_Custom_Attributes="a" * 1025)
    assert response.status_code == 400
    assert response.json()["Message"] == ("1 validation error detected: Value at 'customAttributes' failed to satisfy "
                                          "constraint: Member must have length less than or equal to 1024 (it has 1025)")


def test_a_target_container_on_a_serial_endpoint_is_a_validation_error(endpoint):
    response = invoke(endpoint, X_Amzn_SageMaker_Target_Container_Hostname="middle")
    assert response.status_code == 400
    assert response.json()["Message"] == (
        "TargetContainerHostname is set to 'middle', but endpoint chain is not configured for direct invocation "
        "(its InferenceExecutionConfig.Mode is Serial); leave it out to run the pipeline")


def test_ping_is_200_with_an_empty_body_when_every_container_is_healthy(endpoint):
    response = requests.get(endpoint.url + "/ping", timeout=10)
    assert (response.status_code, response.content) == (200, b"")


def metric(endpoint, name, **labels):
    text = requests.get(endpoint.url + "/metrics", timeout=10).text
    selector = ",".join(f'{k}="{v}"' for k, v in sorted({"endpoint": "chain", **labels}.items()))  # exposition order
    for line in text.splitlines():
        if line.startswith(f"{name}{{{selector}}} "):
            return float(line.split()[-1])
    return 0.0


def test_metrics_count_invocations_errors_and_per_container_calls(endpoint):
    before = {name: metric(endpoint, name) for name in
              ("sagemaker_invocations_total", "sagemaker_invocation_4xx_errors_total",
               "sagemaker_invocation_model_errors_total")}
    middle_before = metric(endpoint, "sagemaker_container_invocation_5xx_errors_total", container="middle")
    last_calls = metric(endpoint, "sagemaker_container_invocations_total", container="last")
    invoke(endpoint)
    invoke(endpoint, X_Amzn_SageMaker_Custom_Attributes="fail-middle=503")
    assert metric(endpoint, "sagemaker_invocations_total") == before["sagemaker_invocations_total"] + 2
    assert metric(endpoint, "sagemaker_invocation_4xx_errors_total") == before["sagemaker_invocation_4xx_errors_total"] + 1
    assert metric(endpoint, "sagemaker_invocation_model_errors_total") == before["sagemaker_invocation_model_errors_total"] + 1
    assert metric(endpoint, "sagemaker_container_invocation_5xx_errors_total", container="middle") == middle_before + 1
    assert metric(endpoint, "sagemaker_container_invocations_total", container="last") == last_calls + 1
    assert metric(endpoint, "sagemaker_container_latency_seconds_count", container="first") > 0
    assert metric(endpoint, "sagemaker_model_latency_seconds_count") > 0
