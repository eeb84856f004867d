"""HTTP/1.1 for our two servers: one thread per keep-alive connection, parsed by httptools.

Both the container (``serving serve``, inside gunicorn's process management) and the
pipeline router serve through :class:`Connection`. Why not gunicorn's ``gthread`` request
handling or cheroot: both hand every request on a kept-alive connection from a poller
thread to a pool thread and back, and gunicorn's pure-Python parser and response writer
cost about 0.1 ms a request on this machine (sending the header block and the body in two
packets besides). A pipeline router and a batch-transform client send request after request
on the same few pooled connections, so here every connection has a thread of its own that
waits on its socket alone, parses with httptools (the C parser uvicorn uses) and sends each
response in one ``sendall``. ``threads`` still bounds how many requests run at once.

What it does not do, because neither server needs it: TLS, HTTP/2, upgrades, and streamed
responses (a response body is collected, then sent with its length).

Stopping (``stopping()`` turns true): a request in flight finishes and is answered with
``Connection: close``; an idle connection lingers ``Options.stop_linger`` seconds for a
request already on its way, then closes.
"""

from __future__ import annotations

import json
import logging
import selectors
import socket
import sys
import threading
import time
from collections import deque
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Callable
from urllib.parse import unquote_to_bytes

import httptools

log = logging.getLogger("serving.http")

IDLE_CHECK = 0.5  # how often an idle connection looks up to see whether the server is stopping
RECV = 65536
_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                        "proxy-connection"})
NO_BODY_STATUS = frozenset({204, 304})


def status_line(code: int) -> str:
    """``"424 Failed Dependency"``: the WSGI status for a code."""
    return _STATUS_LINES.get(code) or f"{code} Unknown"


@dataclass(frozen=True)
class Options:
    keepalive: float = 75.0  # seconds an idle connection stays open
    body_timeout: float = 60.0  # seconds to wait for the next piece of a request body
    max_head_bytes: int = 65536  # request line and headers together
    stop_linger: float = 2.0  # an idle connection's grace, once the server stops, for a request already sent
    multiprocess: bool = False


class _Request:
    __slots__ = ("url", "headers", "head_size", "chunks", "buffered", "complete", "method", "version", "keep_alive",
                 "expect_continue", "continued")

    def __init__(self) -> None:
        self.url = b""
        self.head_size = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.expect_continue = False
        self.continued = False


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Body:
    """``wsgi.input``: reads the request body from the connection as the app asks for it."""

    def __init__(self, connection: "Connection", request: _Request):
        self.connection = connection
        self.request = request

    def _fill(self, size: int) -> None:
        request = self.request
        while not request.complete and (size < 0 or request.buffered < size):
            self.connection.receive_body(request)

    def read(self, size: int | None = -1) -> bytes:
        size = -1 if size is None else size
        self._fill(size)
        request = self.request
        if size < 0 or size >= request.buffered:
            data = b"".join(request.chunks)
            request.chunks.clear()
            request.buffered = 0
            return data
        out = bytearray()
        while len(out) < size:
            chunk = request.chunks.popleft()
            need = size - len(out)
            if len(chunk) > need:
                request.chunks.appendleft(chunk[need:])
                chunk = chunk[:need]
            out += chunk
        request.buffered -= size
        return bytes(out)

    def readline(self, size: int = -1) -> bytes:
        request = self.request
        while True:
            joined = b"".join(request.chunks)
            end = joined.find(b"\n")
            if end >= 0 or request.complete or (0 <= size <= len(joined)):
                break
            self.connection.receive_body(request)
        request.chunks.clear()
        request.chunks.append(joined)
        request.buffered = len(joined)
        take = len(joined) if end < 0 else end + 1
        return self.read(take if size < 0 else min(size, take))

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(self)

    def __iter__(self):
        while line := self.readline():
            yield line


class Connection:
    """One client connection: parse requests, call the WSGI app, answer, until it closes."""

    def __init__(self, sock: socket.socket, client, server: tuple[str, int], app: Callable, options: Options,
                 stopping: Callable[[], bool], slots: AbstractContextManager | None = None):
        self.sock = sock
        self.client = client if isinstance(client, tuple) else ("", 0)
        self.server = server
        self.app = app
        self.options = options
        self.stopping = stopping
        self.slots = slots or nullcontext()  # held while the app runs: bounds the requests at once
        self.parser = httptools.HttpRequestParser(self)
        self.ready: deque[_Request] = deque()  # requests whose head is parsed, in order
        self.current: _Request | None = None  # the message the parser is in
        self.head_bytes = 0  # bytes fed since the last head was complete
        self.stopped_at: float | None = None
        self.idle = False
        self.selector: selectors.BaseSelector | None = None

    # -- httptools callbacks ------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.current = _Request()

    def on_url(self, url: bytes) -> None:
        self.current.url += url
        self.count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.current.headers.append((name, value))
        self.count_head(len(name) + len(value) + 4)

    def count_head(self, size: int) -> None:
        self.current.head_size += size
        if self.current.head_size > self.options.max_head_bytes:
            raise self.head_too_large()

    def head_too_large(self) -> BadRequest:
        return BadRequest(431, f"the request line and headers are over {self.options.max_head_bytes} bytes")

    def on_headers_complete(self) -> None:
        request = self.current
        request.method = self.parser.get_method().decode("latin-1")
        request.version = self.parser.get_http_version()
        request.keep_alive = self.parser.should_keep_alive()
        request.expect_continue = any(n.lower() == b"expect" and v.lower() == b"100-continue" for n, v in request.headers)
        self.head_bytes = 0
        self.ready.append(request)

    def on_body(self, data: bytes) -> None:
        self.current.chunks.append(data)
        self.current.buffered += len(data)

    def on_message_complete(self) -> None:
        self.current.complete = True

    # -- reading ------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise BadRequest(400, "protocol upgrades are not supported here") from None
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, BadRequest):
                raise exc.__context__ from None
            raise
        except httptools.HttpParserError as exc:
            raise BadRequest(400, f"malformed HTTP request: {exc}") from None
        if not self.ready or self.current is not self.ready[-1]:
            # a head still incomplete: httptools holds its pieces, so bound them here too
            self.head_bytes += len(data)
            if self.head_bytes > self.options.max_head_bytes:
                raise self.head_too_large()

    def wait_for_request(self) -> bool:
        """Read until a request head is parsed; False when the connection should close instead."""
        options = self.options
        # keep-alive off (0) still gives a new connection a moment for its one request
        deadline = time.monotonic() + (options.keepalive if options.keepalive > 0 else 5.0)
        while not self.ready:
            now = time.monotonic()
            if self.stopped():
                deadline = min(deadline, self.stopped_at + options.stop_linger)
            if now >= deadline:
                return False
            self.idle = not self.current or self.current.complete
            ready = self.selector.select(min(IDLE_CHECK, deadline - now))
            self.idle = False
            if not ready:
                continue
            data = self.sock.recv(RECV)
            if not data:
                return False
            self.feed(data)
        return True

    def stopped(self) -> bool:
        """Whether the server is stopping; the first time it is seen is kept in ``stopped_at``."""
        if self.stopped_at is None and self.stopping():
            self.stopped_at = time.monotonic()
        return self.stopped_at is not None

    def receive_body(self, request: _Request) -> None:
        """More of ``request``'s body; the client has ``body_timeout`` seconds to send each piece."""
        if request.expect_continue and not request.continued:
            request.continued = True
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if not self.selector.select(self.options.body_timeout):
            raise TimeoutError
        data = self.sock.recv(RECV)
        if not data:
            raise ConnectionResetError("the client closed the connection in the middle of the request body")
        self.feed(data)

    # -- serving ------------------------------------------------------------------------

    def serve(self) -> None:
        self.selector = selector = selectors.DefaultSelector()
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            selector.register(self.sock, selectors.EVENT_READ)
            while self.wait_for_request():
                with self.slots:
                    keep = self.respond(self.ready[0])
                self.ready.popleft()
                if not keep:
                    break
        except BadRequest as exc:
            self.send_error(exc.status, exc.message)
        except TimeoutError:
            self.send_error(408, f"the request body stopped arriving for {self.options.body_timeout:g} s")
        except OSError as exc:
            log.debug("connection from %s:%s closed: %s", *self.client[:2], exc)
        finally:
            selector.close()
            self.close()

    def environ(self, request: _Request) -> dict:
        url = request.url
        if not url.startswith(b"/"):  # absolute-form target
            try:
                parsed = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                raise BadRequest(400, f"malformed request target {url[:200]!r}") from None
            url = (parsed.path or b"/") + (b"?" + parsed.query if parsed.query else b"")
        path, _, query = url.partition(b"?")
        environ = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1") if b"%" in path else path.decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"),
            "SERVER_NAME": str(self.server[0]),
            "SERVER_PORT": str(self.server[1]),
            "SERVER_PROTOCOL": f"HTTP/{request.version}",
            "REMOTE_ADDR": str(self.client[0]),
            "REMOTE_PORT": str(self.client[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": Body(self, request),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": self.options.multiprocess,
            "wsgi.run_once": False,
        }
        for raw_name, raw_value in request.headers:
            name = raw_name.decode("latin-1").upper()
            if "_" in name:
                continue  # a header spelled with "_" could pass for one spelled with "-" (gunicorn drops them too)
            key = name.replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            value = raw_value.decode("latin-1").strip(" \t")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def respond(self, request: _Request) -> bool:
        """Call the app for ``request`` and send its answer; whether the connection stays open."""
        state: list = []

        def start_response(status, headers, exc_info=None):
            if exc_info is not None and state:
                raise exc_info[1].with_traceback(exc_info[2])
            state[:] = [status, headers]
            return chunks.append

        chunks: list[bytes] = []
        try:
            result = self.app(self.environ(request), start_response)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except (BadRequest, ConnectionError, TimeoutError):
            raise
        except Exception:  # noqa: BLE001 - the app's own fault: a 500 without the traceback
            log.exception("unhandled error answering %s %s", request.method, request.url[:200].decode("latin-1"))
            self.send_error(500, "internal server error; see the server log")
            return False
        status, headers = state
        body = b"".join(chunks)
        keep = request.keep_alive and not self.stopped() and self.options.keepalive > 0
        if keep and not request.complete:
            keep = self.finish_body(request)
        code = int(status[:3])
        lines = [f"HTTP/1.1 {status}", f"Date: {http_date()}"]
        length = None
        for name, value in headers:
            lower = name.lower()
            if lower == "content-length":
                length = value
            elif lower not in HOP_BY_HOP:
                lines.append(f"{name}: {value}")
        if code not in NO_BODY_STATUS:
            lines.append(f"Content-Length: {length if length is not None else len(body)}")
        if not keep:
            lines.append("Connection: close")
        elif request.version == "1.0":
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        omit = request.method == "HEAD" or code in NO_BODY_STATUS
        self.sock.sendall(head if omit or not body else head + body)
        return keep

    def finish_body(self, request: _Request) -> bool:
        """Read and drop what the app left of a small request body; False if too much is left."""
        if request.expect_continue and not request.continued:
            return False  # the client waits for a 100 before sending it: it never will
        left = 1 << 20
        try:
            while not request.complete and left > 0:
                left -= request.buffered
                request.chunks.clear()
                request.buffered = 0
                self.receive_body(request)
        except (OSError, BadRequest):
            return False
        request.chunks.clear()
        return request.complete

    def send_error(self, status: int, message: str) -> None:
        body = json.dumps({"error": HTTPStatus(status).phrase.replace(" ", ""), "message": message}).encode()
        head = (f"HTTP/1.1 {status_line(status)}\r\nDate: {http_date()}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("latin-1")
        try:
            self.sock.sendall(head + body)
        except OSError:
            pass

    def wake_if_idle(self) -> None:
        """Make an idle connection's thread see now that the server is stopping."""
        if self.idle:
            try:
                self.sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def close(self) -> None:
        """Close; without losing the answer when part of a request is still unread.

        Closing a socket with unread input makes the kernel send a reset, which can destroy
        the answer before the client reads it: then stop writing, and read and drop what the
        client still sends (2 s at most) before closing.
        """
        if self.current is None or self.current.complete:
            self.sock.close()
            return
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(1.0)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and self.sock.recv(RECV):
                pass
        except OSError:
            pass
        finally:
            self.sock.close()


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """The ``Date`` header value, formatted once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


class Connections:
    """The open connections of one server: counted from accept, served, drained at a stop."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open: set[Connection] = set()

    def __len__(self) -> int:
        return len(self.open)

    def add(self, connection: Connection) -> None:
        with self.lock:
            self.open.add(connection)

    def serve(self, connection: Connection) -> None:
        """Serve an added connection on this thread until it closes, then forget it."""
        try:
            connection.serve()
        except Exception:  # noqa: BLE001 - one broken connection must not take the server down
            log.exception("error serving a connection")
        finally:
            with self.lock:
                self.open.discard(connection)

    def drain(self, linger: float, grace: float, tick: Callable[[], None] = lambda: None) -> None:
        """After a stop: give idle connections ``linger`` seconds, wake them, wait for the rest up to ``grace``."""
        with self.lock:
            connections = list(self.open)
        started = time.monotonic()
        woken = False
        while self.open and time.monotonic() - started < grace:
            if not woken and time.monotonic() - started >= linger:
                for connection in connections:
                    connection.wake_if_idle()
                woken = True
            tick()
            time.sleep(0.01)


class ThreadedServer:
    """A listening socket and an accept loop in a thread; one thread per connection.

    Used by the pipeline router, which lives in the endpoint process beside the container
    supervisor. ``threads`` bounds the requests handled at once.
    """

    def __init__(self, host: str, port: int, app: Callable, threads: int = 16, options: Options | None = None,
                 name: str = "http"):
        self.app = app
        self.options = options or Options()
        self.slots = threading.BoundedSemaphore(threads)
        self.name = name
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, port), family=family, backlog=1024)
        self.address = self.sock.getsockname()[:2]
        self.connections = Connections()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._accept_loop, name=f"{self.name}-accept", daemon=True)
        self._thread.start()

    def stopping(self) -> bool:
        return self._stopping

    def _accept_loop(self) -> None:
        self.sock.settimeout(IDLE_CHECK)
        while not self._stopping:
            try:
                sock, client = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                if self._stopping:
                    return
                raise
            sock.settimeout(None)
            connection = Connection(sock, client, self.address, self.app, self.options, self.stopping, self.slots)
            self.connections.add(connection)
            threading.Thread(target=self.connections.serve, args=(connection,), name=f"{self.name}-conn",
                             daemon=True).start()

    def stop(self, grace: float = 10.0) -> None:
        """Stop accepting, let requests in flight finish (up to ``grace`` seconds), then return."""
        self._stopping = True
        self.sock.close()
        if self._thread is not None:
            self._thread.join(IDLE_CHECK * 2 + 1)
        self.connections.drain(self.options.stop_linger, grace)
