"""A server's open connections, and the threaded accept loop the router runs.

The container's accept loop is gunicorn's worker (:mod:`serving.server.worker`); the
router lives in the endpoint process beside the container supervisor and accepts in a
thread of its own (:class:`ThreadedServer`), serving each connection on a thread: its app
waits on the containers, so threads, not one loop, keep its requests going at once. Both count their connections from accept to
close and drain them at a stop through :class:`Connections`.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Callable

from ..errors import Response
from .protocol import IDLE_CHECK, Connection, Options

log = logging.getLogger("serving.http")


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
            self.discard(connection)

    def discard(self, connection: Connection) -> None:
        """Forget a closed connection."""
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

    ``threads`` bounds the requests handled at once, ``max_connections`` the connections
    open at once (one thread each; more wait in the listen backlog); ``errors`` is the
    surface's error mapping (:mod:`serving.errors`).
    """

    def __init__(self, host: str, port: int, app: Callable, errors: Callable[[BaseException], Response],
                 threads: int = 16, options: Options | None = None, name: str = "http", max_connections: int = 1024):
        self.app = app
        self.max_connections = max_connections
        self.errors = errors
        self.options = options or Options()
        self.slots = threading.BoundedSemaphore(threads)
        self.name = name
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, port), family=family, backlog=1024)
        self.sock.settimeout(IDLE_CHECK)  # here, not in the thread: a stop() before it runs closes a ready socket
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
        while not self._stopping:
            if len(self.connections) >= self.max_connections:
                time.sleep(0.01)  # full: new connections wait in the backlog until one closes
                continue
            try:
                sock, client = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                if self._stopping:
                    return
                raise
            sock.settimeout(None)
            connection = Connection(sock, client, self.address, self.app, self.options, self.stopping, self.errors,
                                    self.slots)
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
