"""No client can take a container or the router down: 50 hostile connections of each kind.

Bodies that never come, bodies that trickle in a byte a second, and answers nobody reads,
against a container (2 workers × 4 slots) and against the router (32 slots), while normal
clients run: every normal request is answered, ``/ping`` within SageMaker's 2 s throughout,
the hostile connections are dropped within the documented timeouts, and memory comes back.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import ServerProcess, free_port

from .conftest import Hostile, Traffic, rss_mb, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.serial]

# Shortened so the test stays short; the defaults are 5 s, 30 s and 10 s (docs/reliability.md).
TIMEOUTS = {"SERVING_BODY_TIMEOUT": "3", "SERVING_BODY_DEADLINE": "6", "SERVING_WRITE_TIMEOUT": "4"}


def attack(url: str, port: int, pid: int, children: bool, answer_bytes: int) -> tuple[float, float, float]:
    """150 hostile connections while normal clients run: all normal requests answered, /ping
    within 2 s, every hostile connection dropped; memory before, at the peak and after (MB)."""
    baseline = rss_mb(pid, children)
    hostile = Hostile("127.0.0.1", port, answer_bytes=answer_bytes)
    traffic = Traffic(url).run(8.0, pid, children)
    assert traffic.failures == []
    assert traffic.answered > 50
    assert max(traffic.ping_latencies) < 2.0, max(traffic.ping_latencies)
    assert wait_until(lambda: hostile.closed() == {"no body": 50, "slow body": 50, "non-reader": 50}, 15), \
        hostile.closed()
    hostile.close()
    time.sleep(1.0)
    after = rss_mb(pid, children)
    assert traffic.peak_mb < baseline + 600 and after < baseline + 150
    return baseline, traffic.peak_mb, after


def test_a_container_serves_everyone_else_through_150_hostile_connections(knobs_dir):
    server = ServerProcess(knobs_dir, framework="model", workers=2, env={"SERVING_WORKER_THREADS": "4", **TIMEOUTS})
    try:
        assert server.invoke("warm", content_type="text/plain").text == "WARM"
        before, peak, after = attack(server.url, server.port, server.proc.pid, True, 6_000_000)
        print(f"container RSS: {before:.0f} MB before, {peak:.0f} MB under attack, {after:.0f} MB after")
    finally:
        server.stop()


def test_the_router_serves_everyone_else_through_150_hostile_connections(knobs_dir, tmp_path):
    spec = tmp_path / "knobs.json"
    spec.write_text('{"Containers": [{"ContainerHostname": "first", "Framework": "model", "ModelDataUrl": "%s"},'
                    ' {"ContainerHostname": "second", "Framework": "model", "ModelDataUrl": "%s"}]}'
                    % (knobs_dir, knobs_dir))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SM_", "SERVING_"))}
    env.update(TIMEOUTS, SERVING_HOME=str(tmp_path / "home"))
    endpoint = subprocess.Popen([sys.executable, "-m", "serving.cli", "endpoint", "up", str(spec), "--name", "hostile",
                                 "--port", str(port), "--workers", "2"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        import requests

        assert wait_until(lambda: _pings(requests, url), 60)
        # the router's process alone; 4 MB answers pass the 5 MB hop, and the last container echoes them
        before, peak, after = attack(url, port, endpoint.pid, False, 4_000_000)
        print(f"router RSS: {before:.0f} MB before, {peak:.0f} MB under attack, {after:.0f} MB after")
    finally:
        os.killpg(endpoint.pid, signal.SIGTERM)
        endpoint.wait(60)


def _pings(requests, url: str) -> bool:
    try:
        return requests.get(url + "/ping", timeout=2).status_code == 200
    except (requests.RequestException, socket.error):
        return False
