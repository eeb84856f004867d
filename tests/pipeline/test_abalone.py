"""The abalone example pipeline on real models, through raw HTTP and through boto3."""

from __future__ import annotations

import boto3
import botocore.exceptions
import numpy as np
import pytest
import requests

from .conftest import abalone_example, sklearn_rings

ROWS = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\nF,0.53,0.42,0.135,0.677,0.2565,0.1415,0.21\nI,0.33,0.255,0.08,0.205,0.0895,0.0395,0.055\n"


@pytest.fixture(scope="module")
def endpoint(endpoints, abalone_models, tmp_path_factory):
    return endpoints(abalone_example(tmp_path_factory.mktemp("example"), abalone_models))


@pytest.fixture(scope="module")
def expected_rings(abalone_models):
    return sklearn_rings(abalone_models, ROWS)


@pytest.fixture(scope="module")
def runtime(endpoint):
    return boto3.client("sagemaker-runtime", endpoint_url=endpoint.url, region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="x")


def test_csv_rows_in_json_ages_out(endpoint, expected_rings):
    response = requests.post(endpoint.url + "/invocations", data=ROWS, headers={"Content-Type": "text/csv"}, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    predictions = response.json()["predictions"]
    np.testing.assert_allclose([p["rings"] for p in predictions], expected_rings, atol=1e-4)
    np.testing.assert_allclose([p["age"] for p in predictions], expected_rings + 1.5, atol=1e-4)


def test_boto3_gets_the_same_body_and_content_type(endpoint, runtime):
    raw = requests.post(endpoint.url + "/invocations", data=ROWS, headers={"Content-Type": "text/csv"}, timeout=30)
    answer = runtime.invoke_endpoint(EndpointName="abalone", Body=ROWS.encode(), ContentType="text/csv",
                                     Accept="application/json")
    assert answer["Body"].read() == raw.content
    assert answer["ContentType"] == "application/json"
    assert answer["InvokedProductionVariant"] == "AllTraffic"


def test_boto3_raises_model_error_with_the_original_status_and_message(runtime):
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        runtime.invoke_endpoint(EndpointName="abalone", Body=b"M,0.455\n", ContentType="text/csv")
    error = caught.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert "expected 8 columns" in error["OriginalMessage"]
    assert error["Error"]["Message"].startswith("Received client error (400) from featurizer with message")


def test_boto3_sees_an_accept_the_last_container_refuses_as_a_model_error(runtime):
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        runtime.invoke_endpoint(EndpointName="abalone", Body=ROWS.encode(), ContentType="text/csv", Accept="text/csv")
    assert caught.value.response["OriginalStatusCode"] == 406
    assert "from postprocessor" in caught.value.response["Error"]["Message"]


def test_boto3_unknown_endpoint_name_is_a_validation_error(runtime):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        runtime.invoke_endpoint(EndpointName="nope", Body=ROWS.encode(), ContentType="text/csv")
    assert caught.value.response["Error"]["Code"] == "ValidationError"


def test_execution_parameters_come_from_the_first_container(endpoint):
    r = requests.get(endpoint.url + "/execution-parameters", timeout=10)
    assert r.status_code == 200
    assert r.json() == {"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}
