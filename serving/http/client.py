"""The HTTP client for our own servers: pooled keep-alive connections to one server.

The router calls its containers with it; ``serving endpoint`` talks to a running endpoint
and batch transform to an endpoint or a container with it. Why not urllib3 or requests: a
pipeline request makes one call per container, and urllib3's request and response machinery
costs 0.05 to 0.08 ms a call on this machine on top of the socket work (more than the
router's own routing), which is most of what the per-hop latency goal allows. Our servers
speak HTTP/1.1 with bodies of known size, so a client that sends each request in one
``sendall`` and reads the answer with httptools' C parser is enough, and about 4 times
faster. ``https://`` URLs are served over the standard library's TLS.

Connections are reused last-in first-out (the warmest first); an idle connection that the
container closed meanwhile (its keep-alive ran out, or it restarted) is noticed before use
and replaced. A request is sent once more, on a new connection, only when writing it to a
reused connection failed: then it provably never reached the server. A request that was
written and got no answer is not sent again: it may be what stopped the server (a request
that runs its worker out of memory would take a second worker with it).
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import httptools

from .headers import check_header

RECV = 65536


class RequestFailed(Exception):
    """The call failed: ``status`` is the status line's code if one arrived, else 0."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class RequestTimedOut(RequestFailed):
    pass


class Unreachable(RequestFailed):
    """No connection could be opened."""


class Answer:
    """A response: status, headers (names in lower case) and as much of the body as was read."""

    __slots__ = ("parser", "status", "headers", "chunks", "size", "complete", "keep_alive")

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.size = 0
        self.complete = False
        self.keep_alive = False

    @property
    def body(self) -> bytes:
        if len(self.chunks) != 1:  # joined once, not at every read
            self.chunks[:] = [b"".join(self.chunks)]
        return self.chunks[0]

    def json(self) -> Any:
        """The body as JSON; ``None`` when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()  # (only known here: the parser resets at the end)

    def on_body(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)

    def on_message_complete(self) -> None:
        self.complete = True


class Client:
    """A pool of keep-alive connections to ``host:port``; safe to use from many threads.

    ``base_path`` is put before every request path (the path part of :meth:`for_url`'s URL).
    """

    def __init__(self, host: str, port: int, connect_timeout: float = 5.0, max_idle: int = 32,
                 tls: ssl.SSLContext | None = None, base_path: str = ""):
        self.host, self.port = host, port
        self.authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.connect_timeout = connect_timeout
        self.max_idle = max_idle
        self.tls = tls
        self.base_path = base_path.rstrip("/")
        self.idle: deque[socket.socket] = deque()  # append and pop are atomic: no lock needed
        self.closed = False

    @classmethod
    def for_url(cls, url: str, **options) -> "Client":
        """A client for ``http://host:port/prefix`` or ``https://...``."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
        tls = ssl.create_default_context() if parts.scheme == "https" else None
        port = parts.port or (443 if tls else 80)
        return cls(parts.hostname, port, tls=tls, base_path=parts.path, **options)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.authority}{self.base_path}"

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None,
                timeout: float = 60.0, limit: int | None = None, chunked: bool = False) -> Answer:
        """Send one request and read its answer; a body over ``limit`` bytes is cut at ``limit + 1``.

        ``chunked`` sends the body with ``Transfer-Encoding: chunked`` instead of its length.
        Every header is checked before anything is sent (:func:`~.headers.check_header`).
        """
        head = [f"{method} {self.base_path}{path} HTTP/1.1", f"Host: {self.authority}",
                "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"]
        for name, value in (headers or {}).items():
            check_header(name, value)
            head.append(f"{name}: {value}")
        if chunked:
            body = (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        sock, reused = self._connection()
        while True:
            try:
                return self._exchange(sock, data, timeout, limit)
            except _Stale:
                if not reused:
                    raise RequestFailed("the server closed the connection before the request was written") from None
            sock, reused = self._connection(fresh=True)

    def _connection(self, fresh: bool = False) -> tuple[socket.socket, bool]:
        while not fresh:
            try:
                sock = self.idle.pop()
            except IndexError:
                break
            # an idle connection is readable only if the container closed it (or sent junk);
            # poll, not select: descriptors above 1023 are fine
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            if poller.poll(0):
                sock.close()
                continue
            return sock, True
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except TimeoutError:
            raise Unreachable(f"connecting timed out after {self.connect_timeout:g} s") from None
        except ssl.SSLError as exc:
            raise Unreachable(f"TLS failed: {exc.reason or exc}") from None
        except OSError as exc:
            raise Unreachable(exc.strerror or str(exc)) from None
        return sock, False

    def _exchange(self, sock: socket.socket, data: bytes, timeout: float, limit: int | None) -> Answer:
        answer = Answer()
        parser = answer.parser
        received = False
        keep = False
        try:
            if sock.gettimeout() != timeout:
                sock.settimeout(timeout)
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                raise _Stale() from None
            deadline = time.monotonic() + timeout
            while not answer.complete:
                try:
                    chunk = sock.recv(RECV)
                except ConnectionResetError:
                    where = "in the middle of its answer" if received else "without answering"
                    raise RequestFailed(f"the server reset the connection {where}", answer.status) from None
                if not chunk:
                    where = "in the middle of its answer" if received else "without answering"
                    raise RequestFailed(f"the server closed the connection {where}", answer.status)
                received = True
                try:
                    parser.feed_data(chunk)
                except httptools.HttpParserError as exc:
                    raise RequestFailed(f"the answer is not valid HTTP: {exc}", answer.status) from None
                if limit is not None and answer.size > limit:
                    return answer  # too big to pass on; the connection is dropped below
                if not answer.complete and time.monotonic() > deadline:
                    raise TimeoutError
            keep = answer.keep_alive
            return answer
        except (TimeoutError, socket.timeout):
            raise RequestTimedOut(f"no answer within {timeout:g} s", answer.status) from None
        except OSError as exc:
            raise RequestFailed(exc.strerror or str(exc), answer.status) from None
        finally:
            if keep and not self.closed and len(self.idle) < self.max_idle:
                self.idle.append(sock)
            else:
                sock.close()

    def close(self) -> None:
        self.closed = True
        while self.idle:
            try:
                self.idle.pop().close()
            except IndexError:
                break


class _Stale(Exception):
    """Writing the request to a reused connection failed: the server never saw it."""
