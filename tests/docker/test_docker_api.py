"""``serving api --backend docker``: SageMaker's API over containers of our images.

The model is the one examples/from-sagemaker/api_boto3.py creates (AWS image URIs, artifacts
and the featurizer's code in moto's S3); ``serving api`` runs as a user starts it, with the
flag. Each copy of the endpoint is a pipeline of containers; a ``kill -9`` of the service leaves
them running, and the next start removes them and brings the endpoint back on new ones.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile

import pytest

from docker_helpers import IMAGES, docker_client, image  # noqa: F401  (fixtures)
from serving.pipeline.docker_backend import remove_labelled
from tests.api.conftest import BODY, Abalone, client, start_api, wait_answering
from tests.conftest import free_port

pytestmark = pytest.mark.docker

ENDPOINT = "docked"
LABELS = [f"serving.endpoint={ENDPOINT}.{n}" for n in (1, 2)]  # copy n of the endpoint (docs/sagemaker-api.md)


@pytest.fixture(scope="module")
def abalone(s3_server, tmp_path_factory):
    return Abalone(s3_server, tmp_path_factory.mktemp("docker-api-abalone"))


@pytest.fixture
def readable_home(docker_client):
    """A SERVING_HOME whose cache the images' user (uid 10001) can read; pytest's folders are private."""
    home = tempfile.mkdtemp(prefix="serving-api-home-")
    os.chmod(home, 0o755)
    yield home
    for label in LABELS:
        remove_labelled(docker_client, label)
    shutil.rmtree(home, ignore_errors=True)


def containers(docker_client, **options) -> dict[str, str]:
    """id → image of the containers of the endpoint's two copies."""
    return {c.id: c.attrs["Config"]["Image"] for label in LABELS
            for c in docker_client.containers.list(filters={"label": label}, **options)}


def test_endpoints_run_in_containers_survive_a_kill_and_leave_nothing_when_deleted(abalone, readable_home, image,
                                                                                 docker_client):
    image("sklearn"), image("xgboost")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    api = start_api(readable_home, port, "--backend", "docker")
    try:
        wait_answering(url, api)
        sm, runtime = client("sagemaker", url), client("sagemaker-runtime", url)
        sm.create_model(ModelName=ENDPOINT, Containers=abalone.containers)
        sm.create_endpoint_config(EndpointConfigName=ENDPOINT, ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": ENDPOINT, "InitialInstanceCount": 2,
             "InstanceType": "ml.m5.large"}])
        sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)

        def in_service() -> dict:
            sm.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT, WaiterConfig={"Delay": 0.5, "MaxAttempts": 600})
            return sm.describe_endpoint(EndpointName=ENDPOINT)

        def predictions() -> list[float]:
            answer = runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=BODY, ContentType="text/csv", Accept="text/csv")
            return [float(v) for v in answer["Body"].read().decode().split()]

        described = in_service()
        assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
        assert predictions() == abalone.expected()
        first = containers(docker_client)
        assert sorted(first.values()) == sorted([IMAGES["sklearn"], IMAGES["xgboost"]] * 2)  # 2 copies of 2

        api.send_signal(signal.SIGKILL)
        api.wait(30)
        assert set(containers(docker_client)) == set(first)  # nobody was left to stop them
        api = start_api(readable_home, port, "--backend", "docker")
        wait_answering(url, api)
        assert in_service()["EndpointStatus"] == "InService"
        assert predictions() == abalone.expected()
        again = containers(docker_client)
        assert len(again) == 4 and not set(again) & set(first)  # new ones; the orphans were removed
        assert containers(docker_client, all=True).keys() == again.keys()

        sm.delete_endpoint(EndpointName=ENDPOINT)
        sm.get_waiter("endpoint_deleted").wait(EndpointName=ENDPOINT, WaiterConfig={"Delay": 0.5, "MaxAttempts": 240})
        assert containers(docker_client, all=True) == {}
        assert [n for label in LABELS for n in docker_client.networks.list(filters={"label": label})] == []
    finally:
        api.terminate()
        api.wait(90)
