"""A worker's memory comes back after large requests (it plateaued at 1.46 GB before)."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.conftest import ServerProcess

from .conftest import pids_of, rss_mb, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.serial]


def test_a_worker_gives_back_what_large_requests_took(knobs_dir):
    server = ServerProcess(knobs_dir, framework="model", workers=1, env={"SERVING_WORKER_THREADS": "8"})
    try:
        assert wait_until(lambda: len(pids_of(server.proc.pid)) == 1, 20)
        [worker] = pids_of(server.proc.pid)
        assert server.invoke("warm", content_type="text/plain").text == "WARM"
        baseline = rss_mb(worker, children=False)
        body = b"a" * 4_400_000
        failures = []

        def client():
            session = requests.Session()
            for _ in range(2):
                r = session.post(server.url + "/invocations", data=body, headers={"Content-Type": "text/plain"},
                                 timeout=60)
                if r.status_code != 200 or len(r.content) != len(body):
                    failures.append(r.status_code)

        threads = [threading.Thread(target=client) for _ in range(160)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(1.0)
        after = rss_mb(worker, children=False)
        print(f"worker RSS: {baseline:.0f} MB before, {after:.0f} MB after 320 requests of 4.4 MB, 160 at once")
        assert failures == []
        assert after < baseline + 50  # it kept 100 to 120 MB more before (docs/reliability.md)
    finally:
        server.stop()
