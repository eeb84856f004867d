"""The WSGI side of a request: its environ, its ``wsgi.input``, and calling the app.

The protocol (:mod:`.protocol`) parses a request head into :class:`Request`; this module
turns it into what a WSGI app expects and collects the app's answer. Both of our apps (the
container and the router) answer with a body they hold in memory, so the answer is
collected whole and sent with its length in one write.
"""

from __future__ import annotations

import sys
from collections import deque
from typing import Callable, Protocol
from urllib.parse import unquote_to_bytes

import httptools

from ..errors import BadRequest


class Request:
    """A request whose head is parsed; its body arrives in ``chunks`` as the app reads it."""

    __slots__ = ("url", "headers", "head_size", "chunks", "buffered", "complete", "method", "version", "keep_alive",
                 "expect_continue", "continued", "length", "began")

    def __init__(self) -> None:
        self.url = b""
        self.head_size = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.expect_continue = False
        self.continued = False
        self.length: int | None = None  # Content-Length, when the request gives one
        self.began = 0.0  # when its head was whole (monotonic): its body's deadline counts from then


class Source(Protocol):
    """Where more of a request body comes from (the connection)."""

    def receive_body(self, request: Request) -> None: ...


class Body:
    """``wsgi.input``: reads the request body from the connection as the app asks for it."""

    def __init__(self, source: Source, request: Request):
        self.source = source
        self.request = request

    def _fill(self, size: int) -> None:
        request = self.request
        while not request.complete and (size < 0 or request.buffered < size):
            self.source.receive_body(request)

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
            self.source.receive_body(request)
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


def environ(request: Request, source: Source, server: tuple, client: tuple, multiprocess: bool) -> dict:
    """The WSGI environ of ``request``; header names spelled with ``_`` are dropped."""
    url = request.url
    if not url.startswith(b"/"):  # absolute-form target
        try:
            parsed = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            raise BadRequest(f"malformed request target {url[:200]!r}") from None
        url = (parsed.path or b"/") + (b"?" + parsed.query if parsed.query else b"")
    path, _, query = url.partition(b"?")
    env = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1") if b"%" in path else path.decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{request.version}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": Body(source, request),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": multiprocess,
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
        env[key] = f"{env[key]},{value}" if key in env else value
    return env


def call(app: Callable, env: dict) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run the WSGI ``app`` on ``env``; its status line, headers and whole body."""
    state: list = []
    chunks: list[bytes] = []

    def start_response(status, headers, exc_info=None):
        if exc_info is not None and state:
            raise exc_info[1].with_traceback(exc_info[2])
        state[:] = [status, headers]
        return chunks.append

    result = app(env, start_response)
    try:
        chunks.extend(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    status, headers = state
    return status, headers, b"".join(chunks)
