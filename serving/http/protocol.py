"""One HTTP/1.1 connection: one thread waiting on its socket, requests parsed by httptools.

Both the container (``serving serve``, inside gunicorn's process management) and the
pipeline router serve through :class:`Connection`. Why not gunicorn's ``gthread`` request
handling or a pure-Python server: they hand every request on a kept-alive connection from a
poller thread to a pool thread and back, and gunicorn's pure-Python parser and response
writer cost about 0.1 ms a request on this machine (sending the header block and the body in
two packets besides). A pipeline router and a batch-transform client send request after
request on the same few pooled connections, so a connection is parsed by httptools (the C
parser uvicorn uses) and each response sent in one write by the thread that read it.
:meth:`Connection.serve` drives one connection on a thread of its own (the router's server,
whose app waits on its containers); :mod:`.loop` drives all of a container worker's
connections on one event loop. ``slots`` bounds how many requests run at once.

What it does not do, because neither server needs it: TLS, HTTP/2, upgrades, and streamed
responses (a response body is collected, then sent with its length).

No client can hold the server hostage. A request's body is read whole before the request
takes one of the ``slots`` (a body that stops arriving for ``body_timeout`` seconds, or is
not whole after ``body_deadline``, is a 408), the answer is written after the slot is given
back (a client that does not read it within ``write_timeout`` seconds is dropped), and the
paths in ``Options.unslotted`` (``/ping``) never wait for a slot at all. A request followed
in the same packet by bytes that are not HTTP is answered before the 400 for them.

Stopping (``stopping()`` turns true): a request in flight finishes and is answered with
``Connection: close``; an idle connection lingers ``Options.stop_linger`` seconds for a
request already on its way, then closes.
"""

from __future__ import annotations

import ctypes
import logging
import selectors
import socket
import time
from collections import deque
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Callable

import httptools

from ..errors import BadRequest, RequestHeaderFieldsTooLarge, RequestTimeout, Response, ServingError
from . import wsgi
from .headers import HOP_BY_HOP, NO_BODY_STATUS, check_header, http_date, status_line

log = logging.getLogger("serving.http")

IDLE_CHECK = 0.5  # how often an idle connection looks up to see whether the server is stopping
RECV = 65536
LARGE = 1 << 20  # after a request or answer this large, freed memory is given back to the system


def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


_trim = _malloc_trim()


def trim_memory() -> None:
    """Give the heap's free memory back to the system.

    Each thread that handles a large request gets a glibc arena of its own, and freed blocks
    stay in it: a worker whose threads once held 5 MB bodies would keep that memory for good.
    """
    if _trim is not None:
        _trim(0)


@dataclass(frozen=True)
class Options:
    keepalive: float = 75.0  # seconds an idle connection stays open
    body_timeout: float = 5.0  # seconds a request body may stop arriving
    body_deadline: float = 30.0  # seconds a whole request body may take
    write_timeout: float = 10.0  # seconds a client has to take an answer
    max_head_bytes: int = 65536  # request line and headers together
    max_body_bytes: int | None = None  # a larger body is not read: the app answers it (413) from its length
    stop_linger: float = 2.0  # an idle connection's grace, once the server stops, for a request already sent
    unslotted: frozenset = frozenset({"/ping"})  # paths answered without waiting for a slot
    multiprocess: bool = False


class Connection:
    """One client connection: parse requests, call the WSGI app, answer, until it closes.

    ``errors`` is the server's error mapping (:mod:`serving.errors`): how a malformed
    request, a head too large, a body that stops arriving or a fault of the app is answered.
    """

    def __init__(self, sock: socket.socket, client, server: tuple[str, int], app: Callable, options: Options,
                 stopping: Callable[[], bool], errors: Callable[[BaseException], Response],
                 slots: AbstractContextManager | None = None):
        self.sock = sock
        self.client = client if isinstance(client, tuple) else ("", 0)
        self.server = server
        self.app = app
        self.options = options
        self.stopping = stopping
        self.errors = errors
        self.slots = slots or nullcontext()  # held while the app runs: bounds the requests at once
        self.parser = httptools.HttpRequestParser(self)
        self.ready: deque[wsgi.Request] = deque()  # requests whose head is parsed, in order
        self.current: wsgi.Request | None = None  # the message the parser is in
        self.head_bytes = 0  # bytes fed since the last head was complete
        self.stopped_at: float | None = None
        self.idle = False
        self.selector: selectors.BaseSelector | None = None
        self.deferred: ServingError | None = None  # a parse error after complete requests, raised once they are answered
        self.started: float | None = None  # when the app began the request it runs now (watched for timeouts)
        self.abandoned = False  # answered by someone else (a timeout): this connection's thread must not write
        self.resting_timeout: float | None = None  # the socket's timeout between writes: blocking (None) or 0.0 (a loop's)

    # -- httptools callbacks ------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.current = wsgi.Request()

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

    def head_too_large(self) -> RequestHeaderFieldsTooLarge:
        return RequestHeaderFieldsTooLarge(f"the request line and headers are over {self.options.max_head_bytes} bytes")

    def on_headers_complete(self) -> None:
        request = self.current
        request.method = self.parser.get_method().decode("latin-1")
        request.version = self.parser.get_http_version()
        request.keep_alive = self.parser.should_keep_alive()
        for name, value in request.headers:
            lower = name.lower()
            if lower == b"expect" and value.lower() == b"100-continue":
                request.expect_continue = True
            elif lower == b"content-length" and value.strip().isdigit():
                request.length = int(value)
        self.head_bytes = 0
        request.began = time.monotonic()
        self.ready.append(request)

    def on_body(self, data: bytes) -> None:
        self.current.chunks.append(data)
        self.current.buffered += len(data)

    def on_message_complete(self) -> None:
        self.current.complete = True

    # -- reading ------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.deferred is not None:
            raise self.deferred
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.fail(BadRequest("protocol upgrades are not supported here"))
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, ServingError):
                self.fail(exc.__context__)
            raise
        except httptools.HttpParserError as exc:
            self.fail(BadRequest(f"malformed HTTP request: {exc}"))
        if not self.ready or self.current is not self.ready[-1]:
            # a head still incomplete: httptools holds its pieces, so bound them here too
            self.head_bytes += len(data)
            if self.head_bytes > self.options.max_head_bytes:
                raise self.head_too_large()

    def fail(self, error: ServingError) -> None:
        """Raise ``error`` now, or once the complete requests before it are answered."""
        if self.ready and all(request.complete for request in self.ready):
            self.deferred = error
            return
        raise error from None

    def wait_for_request(self) -> bool:
        """Read until a request head is parsed; False when the connection should close instead."""
        options = self.options
        # keep-alive off (0) still gives a new connection a moment for its one request
        deadline = time.monotonic() + (options.keepalive if options.keepalive > 0 else 5.0)
        while not self.ready:
            if self.deferred is not None:
                raise self.deferred
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

    def receive_body(self, request: wsgi.Request, deadline: float | None = None) -> None:
        """More of ``request``'s body; the client has ``body_timeout`` seconds to send each piece
        and, with a ``deadline`` (monotonic), until then for all of it."""
        if request.expect_continue and not request.continued:
            request.continued = True
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        wait = self.options.body_timeout
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
            if wait <= 0:
                raise RequestTimeout(f"the request body did not arrive whole within {self.options.body_deadline:g} s")
        if not self.selector.select(wait):
            if deadline is not None and time.monotonic() >= deadline:
                raise RequestTimeout(f"the request body did not arrive whole within {self.options.body_deadline:g} s")
            raise RequestTimeout(f"the request body stopped arriving for {self.options.body_timeout:g} s")
        data = self.sock.recv(RECV)
        if not data:
            raise ConnectionResetError("the client closed the connection in the middle of the request body")
        self.feed(data)

    def read_body(self, request: wsgi.Request) -> None:
        """Read the whole body before the request takes a slot, up to ``max_body_bytes`` + 1.

        A body announced larger than the limit is not read (nor asked for with ``100
        Continue``): the app refuses it from its length, and the connection then closes.
        """
        limit = self.options.max_body_bytes
        if request.complete or (limit is not None and request.length is not None and request.length > limit):
            return
        deadline = time.monotonic() + self.options.body_deadline
        while not request.complete and (limit is None or request.buffered <= limit):
            self.receive_body(request, deadline)

    # -- serving ------------------------------------------------------------------------

    def serve(self) -> None:
        self.selector = selector = selectors.DefaultSelector()
        try:
            if self.sock.family != socket.AF_UNIX:  # a socketpair (tests drive a connection in memory)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            selector.register(self.sock, selectors.EVENT_READ)
            while self.wait_for_request():
                request = self.ready[0]
                self.read_body(request)
                keep = self.respond(request)
                self.ready.popleft()
                if not keep:
                    break
            if self.deferred is not None:
                raise self.deferred
        except ServingError as exc:
            self.send_error(exc)
        except OSError as exc:
            log.debug("connection from %s:%s closed: %s", *self.client[:2], exc)
        finally:
            selector.close()
            self.close()

    def respond(self, request: wsgi.Request) -> bool:
        """Call the app for ``request`` (in a slot, unless its path is unslotted), then send the
        answer with the slot given back; whether the connection stays open."""
        answer = self.answer(request, self.slots)
        if answer is None:
            return False
        parts, keep, large = answer
        try:
            for part in parts:
                self.send(part)
        finally:
            if large:
                del parts, answer
                request.chunks.clear()
                trim_memory()
        return keep

    def unslotted(self, request: wsgi.Request) -> bool:
        """Whether ``request`` is answered without a slot (its path as sent, not decoded: a
        ``/ping`` spelled otherwise just waits for a slot like any request)."""
        return request.url.partition(b"?")[0].decode("latin-1") in self.options.unslotted

    def answer(self, request: wsgi.Request, slot: AbstractContextManager) -> tuple[list[bytes], bool, bool] | None:
        """Run the app for ``request`` holding ``slot`` (none for an unslotted path): the bytes
        to send, in order; whether the connection stays open; whether the request or the answer
        was large. None when there is nothing to send: a fault of the app already answered
        with a 500, or an answer another thread gave (a timeout)."""
        try:
            env = wsgi.environ(request, self, self.server, self.client, self.options.multiprocess)
            with nullcontext() if self.unslotted(request) else slot:
                self.started = time.monotonic()
                try:
                    status, headers, body = wsgi.call(self.app, env)
                finally:
                    self.started = None
            code = int(status[:3])
            head = self.head(request, status, code, headers, len(body))
        except (ServingError, ConnectionError, TimeoutError):
            raise
        except Exception as exc:  # noqa: BLE001 - the app's own fault: a 500 without the traceback
            log.exception("unhandled error answering %s %s", request.method, request.url[:200].decode("latin-1"))
            self.send_error(exc)
            return None
        if self.abandoned:
            return None
        keep = b"Connection: close\r\n" not in head
        large = len(body) + (request.length or 0) > LARGE
        if request.method == "HEAD" or code in NO_BODY_STATUS or not body:
            return [head], keep, large
        if large:  # no copy of a large body just to put the head in front of it
            return [head, body], keep, large
        return [head + body], keep, large

    def send(self, data: bytes) -> None:
        """Write ``data``; a client that does not take it within ``write_timeout`` seconds is dropped."""
        self.sock.settimeout(self.options.write_timeout)
        try:
            self.sock.sendall(data)
        except (TimeoutError, socket.timeout):
            raise ConnectionAbortedError(f"the client did not read the answer within {self.options.write_timeout:g} s")
        finally:
            try:
                self.sock.settimeout(self.resting_timeout)
            except OSError:
                pass

    def head(self, request: wsgi.Request, status: str, code: int, headers: list, size: int) -> bytes:
        """The status line and headers of an answer; every header the app set is checked first."""
        keep = request.keep_alive and not self.stopped() and self.options.keepalive > 0
        if keep and not request.complete:
            keep = self.finish_body(request)
        lines = [f"HTTP/1.1 {status}", f"Date: {http_date()}"]
        length = None
        for name, value in headers:
            check_header(name, value)
            lower = name.lower()
            if lower == "content-length":
                length = value
            elif lower not in HOP_BY_HOP:
                lines.append(f"{name}: {value}")
        if code not in NO_BODY_STATUS:
            lines.append(f"Content-Length: {length if length is not None else size}")
        if not keep:
            lines.append("Connection: close")
        elif request.version == "1.0":
            lines.append("Connection: keep-alive")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def finish_body(self, request: wsgi.Request) -> bool:
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
        except (OSError, ServingError):
            return False
        request.chunks.clear()
        return request.complete

    def send_error(self, exc: BaseException) -> None:
        """Answer ``exc`` through the server's error mapping, and close."""
        try:
            self.send(self.error_answer(exc))
        except OSError:
            pass

    def error_answer(self, exc: BaseException) -> bytes:
        """The bytes that answer ``exc`` (the server's error mapping), closing the connection."""
        status, headers, body = self.errors(exc)
        lines = [f"HTTP/1.1 {status_line(status)}", f"Date: {http_date()}",
                 *(f"{name}: {value}" for name, value in headers),
                 f"Content-Length: {len(body)}", "Connection: close"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def abandon(self, error: ServingError) -> None:
        """Answer the request running now with ``error`` from another thread, and close; the
        thread running it writes nothing more (its worker is about to be replaced)."""
        self.abandoned = True
        self.send_error(error)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
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
