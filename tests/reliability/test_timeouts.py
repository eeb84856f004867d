"""SAGEMAKER_MODEL_SERVER_TIMEOUT is enforced: a handler past it is stopped, its worker replaced."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.conftest import ServerProcess

from .conftest import alive, pids_of, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.serial]


def test_a_handler_past_its_timeout_is_answered_504_and_its_worker_replaced(knobs_dir):
    server = ServerProcess(knobs_dir, framework="model", workers=2, env={"SAGEMAKER_MODEL_SERVER_TIMEOUT": "2"})
    try:
        assert wait_until(lambda: len(pids_of(server.proc.pid)) == 2, 20)
        workers = pids_of(server.proc.pid)
        answers = []
        stuck = threading.Thread(target=lambda: answers.append(
            requests.post(server.url + "/invocations", data="burn:30", headers={"Content-Type": "text/plain"},
                          timeout=20)))
        started = time.monotonic()
        stuck.start()
        time.sleep(0.5)
        # the other worker keeps serving meanwhile, and health never waits behind the busy one
        others = [server.invoke("still here", content_type="text/plain") for _ in range(5)]
        assert {(r.status_code, r.text) for r in others} == {(200, "STILL HERE")}
        pings = [requests.get(server.url + "/ping", timeout=2).status_code for _ in range(5)]
        assert pings == [200] * 5
        stuck.join()
        [answer] = answers
        assert 2.0 <= time.monotonic() - started < 8.0  # 2 s, checked once a second
        assert (answer.status_code, answer.json()) == (504, {
            "error": "ModelTimeout",
            "message": "the model did not answer within 2 s (SAGEMAKER_MODEL_SERVER_TIMEOUT); its worker is being "
                       "replaced: make the request smaller, or raise the timeout"})
        # the overrunning worker is gone (its CPU with it) and gunicorn has started a fresh one
        assert wait_until(lambda: len(pids_of(server.proc.pid)) == 2 and pids_of(server.proc.pid) != workers, 15)
        assert sum(alive(pid) for pid in workers) == 1
        assert server.invoke("after", content_type="text/plain").text == "AFTER"
        assert "ran past SAGEMAKER_MODEL_SERVER_TIMEOUT=2 s; answered 504, replacing worker" in server.log()
    finally:
        server.stop()


def test_the_endpoint_counts_a_container_timeout_and_answers_424_naming_it(knobs_dir, endpoints):
    spec = {"Containers": [{"ContainerHostname": "slow", "Framework": "model", "ModelDataUrl": str(knobs_dir),
                            "Environment": {"SAGEMAKER_MODEL_SERVER_TIMEOUT": "1"}}]}
    endpoint = endpoints(spec, name="timeouts", workers=2)
    r = requests.post(endpoint.url + "/invocations", data="sleep:20", headers={"Content-Type": "text/plain"},
                      timeout=20)
    assert (r.status_code, r.json()["ErrorCode"], r.json()["OriginalStatusCode"]) == (424, "ModelError", 504)
    assert "did not answer within 1 s (SAGEMAKER_MODEL_SERVER_TIMEOUT)" in r.json()["Message"]
    metrics = requests.get(endpoint.url + "/metrics", timeout=5).text
    assert 'sagemaker_container_timeouts_total{container="slow",endpoint="timeouts"} 1.0' in metrics
