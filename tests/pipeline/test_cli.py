"""``serving endpoint up | ls | invoke | update | down`` as a user runs them, from separate processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from serving.pipeline.endpoint import alive, registry_path
from tests.conftest import REPO

from .conftest import abalone_example, probe

ROW = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"


def serving(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "serving.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, **kwargs)


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "serving.cli", "endpoint", "up", *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_registered(name: str, process: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 120
    while not registry_path(name).exists():
        if process.poll() is not None:
            raise AssertionError(f"endpoint up exited with {process.returncode}: {process.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError("the endpoint did not come up within 120 s")
        time.sleep(0.1)
    return json.loads(registry_path(name).read_text())


def container_pids(entry: dict) -> list[int]:
    import urllib3

    status = urllib3.request("GET", f"{entry['url']}/admin/status", headers={"X-Serving-Admin-Token": entry["admin_token"]})
    return [c["pid"] for c in status.json()["containers"]]


@pytest.fixture
def example(abalone_models, tmp_path):
    return abalone_example(tmp_path, abalone_models)


def test_up_ls_invoke_update_down(example):
    process = start(str(example), "--port", "0", "--workers", "1")
    try:
        entry = wait_registered("abalone", process)
        old_pids = container_pids(entry)

        listing = serving("endpoint", "ls")
        assert listing.returncode == 0
        assert "featurizer (ready), regressor (ready), postprocessor (ready)" in listing.stdout

        invoked = serving("endpoint", "invoke", "abalone", "--body", ROW)
        assert invoked.returncode == 0
        prediction = json.loads(invoked.stdout)["predictions"][0]
        assert prediction["age"] == pytest.approx(prediction["rings"] + 1.5, abs=1e-4)

        bad = serving("endpoint", "invoke", "abalone", "--body", "M,1")
        assert bad.returncode == 1
        assert bad.stderr.startswith("serving: 424 ModelError: Received client error (400) from featurizer")

        updated = serving("endpoint", "update", "abalone", str(example))
        assert updated.returncode == 0, updated.stderr
        assert updated.stdout.startswith("endpoint abalone now runs featurizer, regressor, postprocessor")
        assert [alive(pid) for pid in old_pids] == [False, False, False]
        new_pids = container_pids(entry)

        down = serving("endpoint", "down", "abalone")
        assert (down.returncode, down.stdout) == (0, "endpoint abalone is down\n")
        assert process.wait(30) == 0
        assert [alive(pid) for pid in new_pids] == [False, False, False]
        assert serving("endpoint", "ls").stdout == "no endpoints are running\n"
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_endpoint_and_every_container(tmp_path, signum):
    spec = tmp_path / "probes.json"
    spec.write_text(json.dumps({"Containers": [probe("one"), probe("two")]}))
    process = start(str(spec), "--port", "0")
    entry = wait_registered("probes", process)
    pids = container_pids(entry)
    os.kill(process.pid, signum)
    assert process.wait(60) == 0
    assert [alive(pid) for pid in pids] == [False, False]
    assert not registry_path("probes").exists()


def test_a_second_endpoint_of_the_same_name_is_refused(tmp_path):
    spec = tmp_path / "probes.json"
    spec.write_text(json.dumps({"Containers": [probe("one")]}))
    process = start(str(spec), "--port", "0", "--name", "twice")
    try:
        entry = wait_registered("twice", process)
        second = serving("endpoint", "up", str(spec), "--port", "0", "--name", "twice")
        assert second.returncode == 2
        assert second.stderr == (f"serving: an endpoint named twice is already running (pid {entry['pid']}, {entry['url']}); "
                                 "stop it with 'serving endpoint down twice' or choose another --name\n")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def test_a_bad_spec_is_a_clear_error(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("Containers:\n  - Framework: pytorch\n")
    result = serving("endpoint", "up", str(spec))
    assert result.returncode == 2
    assert result.stderr == (f"serving: {spec}: container 1: Framework 'pytorch' is not one of sklearn, sparkml, model, "
                             "xgboost, blazingtext\n")
