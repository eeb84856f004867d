"""Blue/green update: zero failed requests under continuous load; a bad new pipeline changes nothing."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from serving.errors import ConfigurationError
from serving.pipeline.endpoint import alive

from .conftest import probe


def answered_by(response) -> str:
    return json.loads(response.text.splitlines()[-1])["name"]


@pytest.fixture(scope="module")
def endpoint(endpoints):
    return endpoints({"Containers": [probe("blue-1"), probe("blue-2")]}, name="bluegreen")


def test_a_failing_new_pipeline_leaves_the_old_one_serving(endpoint, tmp_path, monkeypatch):
    monkeypatch.setattr(endpoint, "startup_timeout", 4)
    bad = {"Containers": [probe("green-1"), {"ContainerHostname": "broken", "Framework": "model", "ModelDataUrl": str(tmp_path)}]}
    with pytest.raises(ConfigurationError) as caught:
        endpoint.update(bad)
    assert str(caught.value).startswith("1 container(s) did not pass the ping health check within 4 s (broken): ")
    response = requests.post(endpoint.url + "/invocations", data=b"x\n", headers={"Content-Type": "text/plain"}, timeout=30)
    assert (response.status_code, answered_by(response)) == (200, "blue-2")


def test_update_under_continuous_load_fails_no_request(endpoint):
    old_pids = [c.pid for c in endpoint.pipeline.containers]
    stop = threading.Event()
    results: list[list[tuple[int, str]]] = [[] for _ in range(4)]

    def load(mine):
        session = requests.Session()
        while not stop.is_set():
            r = session.post(endpoint.url + "/invocations", data=b"x\n", headers={"Content-Type": "text/plain"}, timeout=30)
            mine.append((r.status_code, answered_by(r) if r.status_code == 200 else r.text))

    threads = [threading.Thread(target=load, args=(mine,)) for mine in results]
    for t in threads:
        t.start()
    time.sleep(1.0)
    summary = endpoint.update({"Containers": [probe("green-1"), probe("green-2")]})
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()

    assert [r for mine in results for r in mine if r[0] != 200] == []
    for mine in results:  # each client: blue, then green from its first green answer on
        names = [name for _, name in mine]
        switch = names.index("green-2")
        assert set(names[:switch]) == {"blue-2"} and set(names[switch:]) == {"green-2"}
    assert summary["containers"] == ["green-1", "green-2"] and summary["drained"] is True
    assert [alive(pid) for pid in old_pids] == [False, False]
