"""HTTP/1.1 as a client sees it on the wire, against a real `serving serve`.

Raw sockets, so that what is checked is the bytes any client gets: pipelining, 100-continue,
chunked bodies, HTTP/1.0, malformed requests, and how connections close at SIGTERM.
"""

from __future__ import annotations

import json
import signal
import socket
import time

import pytest

from tests.conftest import ServerProcess
from tests.server.test_lifecycle import script_dir

ECHO = """
    def model_fn(model_dir):
        return None

    def transform_fn(model, body, content_type, accept):
        return b"echo:" + body, "application/octet-stream"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = ServerProcess(script_dir(tmp_path_factory.mktemp("echo"), ECHO), framework="model",
                           env={"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1"})
    yield server
    server.stop()


def connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def post(body: bytes, extra: str = "", version: str = "1.1") -> bytes:
    return (f"POST /invocations HTTP/{version}\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


class Reader:
    """Reads whole responses off a socket: status, headers (lower-case names), body."""

    def __init__(self, sock: socket.socket):
        self.file = sock.makefile("rb")

    def response(self) -> tuple[int, dict[str, str], bytes]:
        status_line = self.file.readline()
        assert status_line, "the server closed the connection"
        status = int(status_line.split()[1])
        headers = {}
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self.file.read(int(headers.get("content-length", 0))) if status >= 200 else b""
        return status, headers, body

    def closed(self) -> bool:
        return self.file.read(1) == b""


def test_pipelined_requests_are_answered_in_order_on_one_connection(server):
    with connect(server) as sock:
        sock.sendall(post(b"one") + post(b"two") + post(b"three"))
        reader = Reader(sock)
        answers = [reader.response() for _ in range(3)]
    assert [(status, body) for status, _, body in answers] == [(200, b"echo:one"), (200, b"echo:two"), (200, b"echo:three")]
    assert all("connection" not in headers for _, headers, _ in answers)  # HTTP/1.1: kept alive


def test_answer_headers(server):
    with connect(server) as sock:
        sock.sendall(post(b"x", "X-Amzn-SageMaker-Inference-Id: trace-1\r\n"))
        status, headers, body = Reader(sock).response()
    assert (status, body) == (200, b"echo:x")
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-length"] == "6"
    assert headers["x-amzn-sagemaker-inference-id"] == "trace-1"
    assert headers["date"].endswith(" GMT")


def test_expect_100_continue_gets_an_interim_answer_before_the_body_is_sent(server):
    with connect(server) as sock:
        sock.sendall(post(b"", "Expect: 100-continue\r\n").replace(b"Content-Length: 0", b"Content-Length: 5"))
        reader = Reader(sock)
        status, _, _ = reader.response()
        assert status == 100
        sock.sendall(b"later")
        assert reader.response()[::2] == (200, b"echo:later")


def test_a_body_over_the_limit_is_refused_without_asking_for_it(server):
    with connect(server) as sock:
        head = post(b"", "Expect: 100-continue\r\n").replace(b"Content-Length: 0", b"Content-Length: 2000000")
        sock.sendall(head)
        reader = Reader(sock)
        status, headers, body = reader.response()
        assert status == 413
        assert headers["connection"] == "close"
        assert "over the limit of 1048576 bytes" in json.loads(body)["message"]
        assert reader.closed()


def test_chunked_request_body(server):
    with connect(server) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
        assert Reader(sock).response()[::2] == (200, b"echo:abcdefg")


def test_a_body_arriving_after_its_headers(server):
    with connect(server) as sock:
        request = post(b"slow body")
        sock.sendall(request[:-4])
        time.sleep(0.3)
        sock.sendall(request[-4:])
        assert Reader(sock).response()[::2] == (200, b"echo:slow body")


def test_malformed_request_is_a_400_with_a_json_message_and_the_connection_closes(server):
    with connect(server) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nContent-Length: abc\r\n\r\n")
        reader = Reader(sock)
        status, headers, body = reader.response()
        assert status == 400
        assert headers["connection"] == "close"
        assert headers["content-type"] == "application/json"
        message = json.loads(body)
        assert message["error"] == "BadRequest"
        assert message["message"].startswith("malformed HTTP request: ")
        assert reader.closed()
    with connect(server) as sock:  # and the server goes on serving
        sock.sendall(post(b"ok"))
        assert Reader(sock).response()[::2] == (200, b"echo:ok")


def test_request_head_over_64_kb_is_431(server):
    with connect(server) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n")
        status, headers, body = Reader(sock).response()
    assert status == 431
    assert json.loads(body)["message"] == "the request line and headers are over 65536 bytes"


def test_http_1_0_closes_unless_asked_to_keep_alive(server):
    with connect(server) as sock:
        sock.sendall(post(b"a", version="1.0"))
        reader = Reader(sock)
        status, headers, _ = reader.response()
        assert (status, headers["connection"]) == (200, "close")
        assert reader.closed()
    with connect(server) as sock:
        reader = Reader(sock)
        sock.sendall(post(b"a", "Connection: keep-alive\r\n", version="1.0"))
        assert reader.response()[1]["connection"] == "keep-alive"
        sock.sendall(post(b"b", "Connection: keep-alive\r\n", version="1.0"))
        assert reader.response()[::2] == (200, b"echo:b")


def test_head_ping_has_no_body(server):
    with connect(server) as sock:
        sock.sendall(b"HEAD /ping HTTP/1.1\r\nHost: x\r\n\r\n" + post(b"after"))
        reader = Reader(sock)
        status, headers, _ = reader.response()  # content-length 0: no body read
        assert (status, headers["content-length"]) == (200, "0")
        assert reader.response()[::2] == (200, b"echo:after")  # the next answer starts right after


def test_sigterm_closes_idle_connections_at_once_and_finishes_busy_ones(tmp_path):
    slow = ECHO.replace('return b"echo:" + body', 'import time; time.sleep(float(body or 0)); return b"echo:" + body')
    server = ServerProcess(script_dir(tmp_path, slow), framework="model")
    try:
        idle, busy = connect(server), connect(server)
        idle_reader, busy_reader = Reader(idle), Reader(busy)
        idle.sendall(post(b"0"))
        assert idle_reader.response()[0] == 200
        busy.sendall(post(b"1.5"))
        time.sleep(0.5)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        status, headers, body = busy_reader.response()
        assert (status, body, headers["connection"]) == (200, b"echo:1.5", "close")
        assert idle_reader.closed()
        assert server.proc.wait(15) == 0
        # the idle connection lingers 2 s for a request already on its way, no longer
        assert time.monotonic() - started < 6
    finally:
        server.stop()


def test_a_router_server_stopped_at_once_stops_cleanly(monkeypatch):
    """stop() right after start(), before the accept thread has run: nothing raises in the thread
    (it once set the timeout of a socket stop() had already closed)."""
    import threading

    from serving.errors import runtime_response
    from serving.http.server import ThreadedServer

    raised: list = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))
    for _ in range(20):  # the race lost about one time in four before the fix
        server = ThreadedServer("127.0.0.1", 0, lambda environ, start_response: [], runtime_response, threads=2,
                                name="quick")
        server.start()
        server.stop(grace=0.1)
    assert raised == []
