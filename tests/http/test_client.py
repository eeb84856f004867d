"""Our HTTP client (``serving.http.client``) and the router's server (``ThreadedServer``), on real loopback sockets."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from serving.errors import container_response
from serving.http.client import Client, RequestFailed, RequestTimedOut, Unreachable
from serving.http.protocol import Options
from serving.http.server import ThreadedServer


def app(environ, start_response):
    """Echoes the body; ``/sleep`` waits first; reports the connection's client port."""
    body = environ["wsgi.input"].read()
    if environ["PATH_INFO"] == "/sleep":
        time.sleep(float(body))
    if environ["PATH_INFO"] == "/status":
        start_response(f"{int(body)} Custom", [("Content-Type", "text/plain")])
        return [b"status " + body]
    start_response("200 OK", [("Content-Type", environ.get("CONTENT_TYPE", "")), ("X-Port", environ["REMOTE_PORT"])])
    return [body]


@pytest.fixture
def server():
    servers = []

    def start(**options):
        server = ThreadedServer("127.0.0.1", 0, app, container_response, threads=4, options=Options(**options))
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(grace=2)


def test_requests_reuse_one_connection_and_carry_body_and_headers(server):
    srv = server()
    client = Client(*srv.address)
    answers = [client.request("POST", "/echo", f"body {i}".encode(), {"Content-Type": "text/csv; charset=utf-8"})
               for i in range(20)]
    assert [a.body for a in answers] == [f"body {i}".encode() for i in range(20)]
    assert {a.status for a in answers} == {200}
    assert {a.headers["content-type"] for a in answers} == {"text/csv; charset=utf-8"}
    assert len({a.headers["x-port"] for a in answers}) == 1  # one client port: one connection
    client.close()


def test_a_connection_the_server_closed_while_idle_is_replaced(server):
    srv = server(keepalive=0.2)
    client = Client(*srv.address)
    first = client.request("POST", "/echo", b"a")
    time.sleep(0.8)  # the server closes the idle connection meanwhile
    second = client.request("POST", "/echo", b"b")
    assert (first.body, second.body) == (b"a", b"b")
    assert first.headers["x-port"] != second.headers["x-port"]


def test_error_statuses_come_back_as_answers(server):
    client = Client(*server().address)
    answer = client.request("POST", "/status", b"418")
    assert (answer.status, answer.body) == (418, b"status 418")


def test_timeout_unreachable_and_over_the_limit(server):
    srv = server()
    client = Client(*srv.address)
    with pytest.raises(RequestTimedOut, match="no answer within 0.3 s"):
        client.request("POST", "/sleep", b"1", timeout=0.3)
    big = client.request("POST", "/echo", b"x" * 300_000, limit=100_000)
    assert big.status == 200 and 100_000 < big.size < 300_000 and not big.complete
    assert client.request("POST", "/echo", b"after").body == b"after"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens here
    with pytest.raises(Unreachable, match="refused"):
        Client("127.0.0.1", port).request("GET", "/ping")


def test_an_answer_cut_short_names_the_status_it_began_with():
    listener = socket.create_server(("127.0.0.1", 0))

    def half_answer():
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 100\r\n\r\npartial")
        conn.close()

    thread = threading.Thread(target=half_answer)
    thread.start()
    with pytest.raises(RequestFailed, match="closed the connection in the middle of its answer") as caught:
        Client(*listener.getsockname()).request("POST", "/invocations", b"x")
    assert caught.value.status == 500
    thread.join()
    listener.close()


def test_threaded_server_stops_with_requests_in_flight(server):
    srv = server(stop_linger=0.0)  # as the router runs it
    url = f"http://{srv.address[0]}:{srv.address[1]}"
    with requests.Session() as session:
        assert session.post(url + "/echo", data=b"hi").content == b"hi"
        results = []
        slow = threading.Thread(target=lambda: results.append(requests.post(url + "/sleep", data=b"1", timeout=10)))
        slow.start()
        time.sleep(0.3)
        started = time.monotonic()
        srv.stop(grace=5)  # the session's idle connection closes at once; the slow request finishes
        slow.join()
        assert results[0].status_code == 200
        assert results[0].headers["Connection"] == "close"
        assert time.monotonic() - started < 2
        with pytest.raises(requests.ConnectionError):
            requests.post(url + "/echo", data=b"x", timeout=2)


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 here")
def test_ipv6_loopback():
    try:
        srv = ThreadedServer("::1", 0, app, container_response, threads=2)
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback: {exc}")
    srv.start()
    try:
        answer = Client("::1", srv.address[1]).request("POST", "/echo", b"six", {"Content-Type": "text/plain"})
        assert (answer.status, answer.body) == (200, b"six")
    finally:
        srv.stop(grace=2)


def test_a_request_that_was_written_and_dropped_unanswered_is_not_sent_again():
    """It may be what killed the container's worker: sending it again could kill a second one."""
    listener = socket.create_server(("127.0.0.1", 0))
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
    seen = []

    def container():
        first, _ = listener.accept()
        seen.append(first.recv(65536))
        first.sendall(answer % (5, b"first"))
        seen.append(first.recv(65536))  # the second request: read, then dropped without an answer
        first.close()
        listener.settimeout(1.0)
        try:
            listener.accept()  # no second connection may come
            seen.append(b"a second connection")
        except TimeoutError:
            pass

    thread = threading.Thread(target=container)
    thread.start()
    client = Client(*listener.getsockname())
    assert client.request("POST", "/invocations", b"a").body == b"first"
    with pytest.raises(RequestFailed, match="closed the connection without answering"):
        client.request("POST", "/invocations", b"b")
    thread.join()
    listener.close()
    assert [request.endswith(body) for request, body in zip(seen, (b"a", b"b"))] == [True, True] and len(seen) == 2


def test_a_request_whose_write_to_a_reused_connection_failed_is_sent_once_more_on_a_new_one(server):
    srv = server()
    client = Client(*srv.address)
    first = client.request("POST", "/echo", b"a")
    client.idle[-1].shutdown(socket.SHUT_WR)  # the pooled connection now fails on write, unseen by poll
    second = client.request("POST", "/echo", b"b")
    assert (first.body, second.body) == (b"a", b"b")
    assert first.headers["x-port"] != second.headers["x-port"]  # a new connection
    client.close()
