"""The process backend supervises its containers: restarts after a crash, refuses unhealthy starts."""

from __future__ import annotations

import os
import signal

import pytest
import requests

from serving.errors import ConfigurationError
from serving.pipeline.backends import READY
from serving.pipeline.endpoint import Endpoint
from tests.conftest import wait_for

from .conftest import probe


def serving_children() -> list[int]:
    """Live child processes of this test process that run a container."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if fields[0] != "Z" and int(fields[1]) == os.getpid() and (b"serving.cli\x00serve" in cmdline or b"probe.py" in cmdline):
            out.append(int(entry))
    return out


def test_a_killed_container_is_restarted_and_meanwhile_requests_fail_fast_naming_it(endpoints):
    endpoint = endpoints({"Containers": [probe("steady"), probe("fragile")]}, name="crashy")
    fragile = endpoint.pipeline.by_name["fragile"]
    first_pid = fragile.pid
    os.kill(first_pid, signal.SIGKILL)
    wait_for(lambda: fragile.state != READY)

    response = requests.post(endpoint.url + "/invocations", data=b"x\n", headers={"Content-Type": "text/plain"}, timeout=30)
    assert response.status_code == 503
    assert response.headers["x-amzn-ErrorType"] == "ServiceUnavailable"
    assert response.headers["X-Serving-Failed-Container"] == "fragile"
    assert "container fragile" in response.json()["Message"]
    ping = requests.get(endpoint.url + "/ping", timeout=10)
    assert ping.status_code == 503
    assert ping.text.startswith("1 container(s) did not pass the ping health check:\nfragile: container fragile ")

    wait_for(lambda: fragile.state == READY)
    response = requests.post(endpoint.url + "/invocations", data=b"x\n", headers={"Content-Type": "text/plain"}, timeout=30)
    assert response.status_code == 200
    assert (fragile.restarts, fragile.pid != first_pid) == (1, True)


def test_an_endpoint_whose_containers_fail_their_health_check_names_them_all_and_leaves_nothing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    spec = {"Containers": [probe("good"),
                           {"ContainerHostname": "bad-1", "Framework": "sklearn", "ModelDataUrl": str(empty)},
                           {"ContainerHostname": "bad-2", "Framework": "model", "ModelDataUrl": str(empty)}]}
    before = set(serving_children())
    with pytest.raises(ConfigurationError) as caught:
        Endpoint.up(spec, name="unhealthy", port=0, register=False, startup_timeout=4, stop_grace=5, workers=1)
    message = str(caught.value)
    assert message.startswith("2 container(s) did not pass the ping health check within 4 s (bad-1, bad-2): ")
    assert "bad-1: container bad-1 is starting (/ping answered 503: the model failed to load: no *.joblib or *.pkl file" in message
    assert "bad-2: container bad-2 is starting (/ping answered 503: the model failed to load: this container has no default model_fn" in message
    assert set(serving_children()) - before == set()
