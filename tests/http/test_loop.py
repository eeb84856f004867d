"""A container worker's event loop, through a real `serving serve` of one worker: a request
that holds the loop (sleeping, or burning the interpreter in Python) does not hold up the
other connections, ``/ping`` answers while every slot is busy, and no more requests run at
once than ``SERVING_WORKER_THREADS``. What is asserted is order and counts, never times."""

from __future__ import annotations

import threading

import pytest
import requests

from tests.conftest import ServerProcess
from tests.server.test_lifecycle import script_dir

COUNTING = """
    import threading
    import time

    running, peak, lock = 0, 0, threading.Lock()
    finished = []  # kinds in the order the app finished them: the server's own record

    def model_fn(model_dir):
        return None

    def transform_fn(model, body, content_type, accept):
        global running, peak
        kind, _, arg = (body if isinstance(body, str) else body.decode()).partition(":")
        arg, _, marker = arg.partition(":")
        if kind == "peak":
            return str(peak), "text/plain"
        if kind == "order":
            return ",".join(finished), "text/plain"
        with lock:
            running += 1
            peak = max(peak, running)
        if marker:  # says it has started
            open(marker, "w").close()
        try:
            if kind == "sleep":
                time.sleep(float(arg))
            elif kind == "burn":  # holding the interpreter in Python code
                end = time.monotonic() + float(arg)
                while time.monotonic() < end:
                    pass
            return kind, "text/plain"
        finally:
            with lock:
                running -= 1
                finished.append(kind)
"""


@pytest.fixture
def server(tmp_path, request):
    server = ServerProcess(script_dir(tmp_path, COUNTING), framework="model", workers=1,
                           env={"SERVING_WORKER_THREADS": str(request.param)})
    yield server
    server.stop()


def post(server, body: str) -> str:
    r = requests.post(server.url + "/invocations", data=body, headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.text


def in_background(server, body: str) -> tuple[threading.Thread, list]:
    """``body`` posted on a thread; the list gets its answer."""
    answers: list = []

    def send():
        answers.append(post(server, body))

    thread = threading.Thread(target=send)
    thread.start()
    return thread, answers


def long_request(server, kind: str, marker) -> tuple[threading.Thread, list]:
    """A 3 s request sent in the background, returned once the app has started it."""
    thread, answers = in_background(server, f"{kind}:3:{marker}")
    for _ in range(1000):
        if marker.exists():
            return thread, answers
        threading.Event().wait(0.01)
    raise AssertionError("the background request never started")


@pytest.mark.parametrize("server", [4], indirect=True)
@pytest.mark.parametrize("kind", ["sleep", "burn"])
def test_a_long_request_does_not_hold_up_the_other_connections(server, kind, tmp_path):
    slow, answers = long_request(server, kind, tmp_path / "started")
    assert requests.get(server.url + "/ping", timeout=10).status_code == 200
    assert post(server, "quick") == "quick"
    assert slow.is_alive() and answers == []  # answered while the long one still ran
    slow.join(30)
    assert answers == [kind]


@pytest.mark.parametrize("server", [2], indirect=True)
def test_no_more_requests_run_at_once_than_there_are_slots(server):
    threads = [in_background(server, "sleep:0.5") for _ in range(6)]
    for thread, _ in threads:
        thread.join(30)
    assert [answers for _, answers in threads] == [["sleep"]] * 6
    assert post(server, "peak") == "2"


@pytest.mark.parametrize("server", [1], indirect=True)
def test_with_every_slot_busy_ping_answers_and_the_next_request_waits_its_turn(server, tmp_path):
    slow, burnt = long_request(server, "burn", tmp_path / "started")
    assert requests.get(server.url + "/ping", timeout=10).status_code == 200
    assert slow.is_alive()
    waiting, answered = in_background(server, "next")  # sent while the burn holds the one slot
    slow.join(30)
    waiting.join(30)
    assert (burnt, answered) == (["burn"], ["next"])
    # the app's own record, not the clients' (whose threads may wake in either order)
    assert post(server, "order") == "burn,next"
    assert post(server, "peak") == "1"
