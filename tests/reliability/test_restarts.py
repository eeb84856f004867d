"""A container whose gunicorn master is killed is reported truthfully: 503 until the new one answers.

Killed with -9, the master leaves its workers behind, and they answered the health check for
a container that was gone (the endpoint marked it healthy 3 ms after the new master started);
clients then got 424s for seconds. Now the run's whole process group is stopped before the
next starts, the container is ready only when the new process answers ``/ping``, and until
then every request is a 503 that boto3 retries by itself.
"""

from __future__ import annotations

import collections
import os
import signal
import threading
import time

import boto3
import pytest
import requests
from botocore.config import Config

from .conftest import alive, pids_of, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.serial]


@pytest.fixture
def endpoint(knobs_dir, endpoints):
    spec = {"Containers": [{"ContainerHostname": "first", "Framework": "model", "ModelDataUrl": str(knobs_dir)},
                           {"ContainerHostname": "second", "Framework": "model", "ModelDataUrl": str(knobs_dir)}]}
    return endpoints(spec, name="restarts", workers=2)


def load(url: str, deadline: float, statuses: collections.Counter, bodies: list) -> None:
    session = requests.Session()
    while time.monotonic() < deadline:
        r = session.post(url + "/invocations", data=b"hello", headers={"Content-Type": "text/plain"}, timeout=30)
        statuses[r.status_code] += 1
        if r.status_code not in (200, 503):
            bodies.append(r.text)


def test_kill_9_of_a_master_under_load_gives_only_200_and_503(endpoint):
    first = endpoint.pipeline.by_name["first"]
    master = first.pid
    assert wait_until(lambda: len(pids_of(master)) == 2, 20)
    workers = pids_of(master)
    statuses: collections.Counter = collections.Counter()
    bodies: list = []
    deadline = time.monotonic() + 12
    clients = [threading.Thread(target=load, args=(endpoint.url, deadline, statuses, bodies)) for _ in range(4)]
    for client in clients:
        client.start()
    time.sleep(1.0)
    os.kill(master, signal.SIGKILL)
    assert wait_until(lambda: not any(alive(pid) for pid in workers), 5)  # the orphans are stopped too
    for client in clients:
        client.join()
    assert bodies == [] and set(statuses) <= {200, 503}
    assert statuses[503] > 0 and statuses[200] > 0
    assert first.pid != master and first.state == "ready"


def test_boto3_in_standard_retry_mode_sees_no_error_through_a_restart(endpoint):
    runtime = boto3.client("sagemaker-runtime", endpoint_url=endpoint.url, region_name="us-east-1",
                           aws_access_key_id="local", aws_secret_access_key="local",
                           config=Config(retries={"mode": "standard", "max_attempts": 10}))
    answers, errors = [], []
    deadline = time.monotonic() + 10

    def client():
        while time.monotonic() < deadline:
            try:
                answer = runtime.invoke_endpoint(EndpointName="restarts", Body=b"hello", ContentType="text/plain")
                answers.append(answer["Body"].read())
            except Exception as exc:  # noqa: BLE001 - what a user would see
                errors.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    os.kill(endpoint.pipeline.by_name["second"].pid, signal.SIGKILL)
    for t in threads:
        t.join()
    assert errors == []
    assert set(answers) == {b"HELLO"} and len(answers) > 10
