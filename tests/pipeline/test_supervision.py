"""The process backend supervises its containers: restarts after a crash, refuses unhealthy starts."""

from __future__ import annotations

import os
import signal
import time

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
        Endpoint.up(spec, name="unhealthy", port=0, register=False, startup_timeout=15, stop_grace=5, workers=1)
    message = str(caught.value)
    assert message.startswith("2 container(s) did not pass the ping health check within 15 s (bad-1, bad-2): ")
    assert "bad-1: container bad-1 is starting (/ping answered 503: the model failed to load: no *.joblib or *.pkl file" in message
    assert "bad-2: container bad-2 is starting (/ping answered 503: the model failed to load: this container has no default model_fn" in message
    assert set(serving_children()) - before == set()


def test_another_server_on_a_containers_port_is_never_taken_for_it(tmp_path):
    """Another process took the port between its choice and the container's start, and answers /ping."""
    from serving.errors import container_response
    from serving.http.server import ThreadedServer
    from serving.pipeline.backends import backend
    from serving.pipeline.spec import from_dict

    model = tmp_path / "model" / "code"
    model.mkdir(parents=True)
    (model / "inference.py").write_text("def model_fn(d):\n    return lambda batch: batch + 1\n")
    spec = from_dict({"Containers": [{"ContainerHostname": "ours", "Framework": "model",
                                      "ModelDataUrl": str(tmp_path / "model")}]}).containers[0]
    container = backend("process", workers=1).create("squatted", spec)
    seen = []

    def squatter(environ, start_response):
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"not yours"]

    taken = container.port
    other = ThreadedServer("127.0.0.1", taken, squatter, container_response, threads=2)
    other.start()
    try:
        container.start()
        assert container.wait_ready(time.monotonic() + 60)
        assert container.port != taken  # moved to a free block once its own could not be bound
        answer = container.call(b"1,2", {"Content-Type": "text/csv"}, None, 10)
        assert (answer.status, answer.body) == (200, b"[[2.0, 3.0]]")
        assert "/invocations" not in seen  # /ping was asked, and its answer was not trusted
    finally:
        container.stop(grace=10)
        other.stop(grace=1)
