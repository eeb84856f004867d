"""One connection driven in memory (a socketpair): the protocol without a server around it."""

from __future__ import annotations

import json
import socket
import threading

import httptools
import pytest

from serving.errors import container_response, runtime_response
from serving.http.client import Client
from serving.http.headers import InvalidHeader, check_header
from serving.http.protocol import Connection, Options


def echo(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", environ.get("CONTENT_TYPE", "text/plain")),
                              ("X-Path", environ["PATH_INFO"])])
    return [body]


def connection(app=echo, errors=container_response, **options):
    """A Connection serving one end of a socketpair on a thread; the other end is returned."""
    ours, theirs = socket.socketpair()
    conn = Connection(ours, ("127.0.0.1", 5000), ("127.0.0.1", 8080), app, Options(**options), lambda: False, errors)
    thread = threading.Thread(target=conn.serve, daemon=True)
    thread.start()
    theirs.settimeout(5)
    return theirs, thread


def responses(sock, count: int) -> list[tuple[int, dict, bytes]]:
    """Read ``count`` responses off ``sock`` with httptools."""
    done: list = []

    class Reader:
        def __init__(self):
            self.headers, self.body = {}, b""

        def on_header(self, name, value):
            self.headers[name.decode().lower()] = value.decode()

        def on_body(self, data):
            self.body += data

        def on_message_complete(self):
            done.append((parser.get_status_code(), self.headers, self.body))
            self.headers, self.body = {}, b""

    parser = httptools.HttpResponseParser(Reader())
    while len(done) < count:
        data = sock.recv(65536)
        if not data:
            break
        parser.feed_data(data)
    return done


def test_pipelined_requests_are_answered_in_order_on_one_connection():
    client, _ = connection()
    client.sendall(b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\none"
                   b"POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\ntwo")
    answers = responses(client, 2)
    assert [(s, h["x-path"], b) for s, h, b in answers] == [(200, "/a", b"one"), (200, "/b", b"two")]


def test_a_chunked_request_body_is_read_whole():
    client, _ = connection()
    client.sendall(b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    [(status, _, body)] = responses(client, 1)
    assert (status, body) == (200, b"abcde")


def test_a_malformed_request_is_answered_in_the_servers_own_error_shape():
    for errors, expected in ((container_response, {"error": "BadRequest"}),
                             (runtime_response, {"ErrorCode": "ValidationError"})):
        client, thread = connection(errors=errors)
        client.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        [(status, headers, body)] = responses(client, 1)
        doc = json.loads(body)
        assert status == 400 and headers["connection"] == "close"
        assert {k: doc[k] for k in expected} == expected
        assert (doc.get("message") or doc.get("Message")).startswith("malformed HTTP request: ")
        thread.join(5)


def test_a_head_too_large_is_431():
    client, _ = connection(max_head_bytes=100)
    client.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 200 + b"\r\n\r\n")
    [(status, _, body)] = responses(client, 1)
    assert (status, json.loads(body)) == (431, {"error": "RequestHeaderFieldsTooLarge",
                                                "message": "the request line and headers are over 100 bytes"})


def test_a_body_that_stops_arriving_is_408():
    client, _ = connection(body_timeout=0.2)
    client.sendall(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
    [(status, _, body)] = responses(client, 1)
    assert (status, json.loads(body)["message"]) == (408, "the request body stopped arriving for 0.2 s")


def test_an_app_that_sets_a_header_with_a_line_break_gets_a_500_and_nothing_is_smuggled():
    def smuggler(environ, start_response):
        start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: stolen=1")])
        return [b"ok"]

    client, _ = connection(app=smuggler)
    client.sendall(b"GET / HTTP/1.1\r\n\r\n")
    [(status, headers, body)] = responses(client, 1)
    assert status == 500 and "set-cookie" not in headers
    assert json.loads(body) == {"error": "InternalServerError", "message": "internal server error; see the server log"}


@pytest.mark.parametrize("name, value", [("X-Ok", "a\nb"), ("X-Ok", "a\rb"), ("X-Ok", "a\x00b"), ("Bad Name", "v"),
                                         ("", "v"), ("X:Colon", "v")])
def test_header_names_and_values_are_checked(name, value):
    with pytest.raises(InvalidHeader):
        check_header(name, value)


def test_the_client_refuses_to_send_a_header_with_a_line_break():
    client = Client("127.0.0.1", 9)  # nothing is sent, so nothing needs to listen
    with pytest.raises(InvalidHeader, match="X-Amzn-SageMaker-Custom-Attributes"):
        client.request("POST", "/invocations", b"", {"X-Amzn-SageMaker-Custom-Attributes": "a\r\nHost: evil"})


def test_the_client_reads_a_response_from_the_in_memory_server():
    """Our client and our protocol, end to end, over the socketpair."""
    ours, theirs = socket.socketpair()
    conn = Connection(ours, ("", 0), ("127.0.0.1", 8080), echo, Options(), lambda: False, container_response)
    threading.Thread(target=conn.serve, daemon=True).start()
    client = Client("127.0.0.1", 8080)
    client.idle.append(theirs)  # a pooled connection: the socketpair's end
    answer = client.request("POST", "/x", b"payload", {"Content-Type": "text/csv"})
    assert (answer.status, answer.headers["content-type"], answer.body) == (200, "text/csv", b"payload")
    again = client.request("POST", "/y", b"more", {"Content-Type": "text/csv"}, chunked=True)
    assert (again.status, again.headers["x-path"], again.body) == (200, "/y", b"more")


def test_a_valid_request_followed_by_garbage_in_the_same_packet_is_answered_then_the_400():
    client, thread = connection()
    client.sendall(b"POST /ok HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi" + b"\x00\x01 NOT HTTP\r\n\r\n")
    answers = responses(client, 2)
    assert [(status, body) for status, _, body in answers][0] == (200, b"hi")
    status, headers, body = answers[1]
    assert status == 400 and headers["connection"] == "close"
    assert json.loads(body)["message"].startswith("malformed HTTP request: ")
    thread.join(5)


def test_a_body_that_arrives_too_slowly_is_408_and_never_held_a_slot():
    import time

    slots = threading.BoundedSemaphore(1)
    ours, theirs = socket.socketpair()
    conn = Connection(ours, ("", 0), ("127.0.0.1", 8080), echo, Options(body_timeout=1.0, body_deadline=0.6),
                      lambda: False, container_response, slots)
    threading.Thread(target=conn.serve, daemon=True).start()
    theirs.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n")
    for _ in range(4):  # a byte every 0.2 s: never idle for a second, never whole within 0.6 s
        time.sleep(0.2)
        assert slots.acquire(blocking=False)  # the slot stays free while the body trickles in
        slots.release()
        theirs.sendall(b"x")
    theirs.settimeout(5)
    [(status, _, body)] = responses(theirs, 1)
    assert (status, json.loads(body)["message"]) == (408, "the request body did not arrive whole within 0.6 s")
