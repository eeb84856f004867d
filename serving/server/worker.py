"""The gunicorn worker ``serving serve`` runs: gunicorn manages the processes, we serve HTTP.

gunicorn keeps what it is good at: the master process, the model loaded before the fork,
worker restarts, heartbeats and signals. Each worker accepts connections and serves each one
on a thread of its own through :mod:`serving.server.http11`, which says why gunicorn's
``gthread`` request handling is not used.
"""

from __future__ import annotations

import errno
import os
import selectors
import threading
from concurrent import futures

from gunicorn.workers.base import Worker

from .http11 import Connection, Options, drain


class ConnectionWorker(Worker):
    def init_process(self) -> None:
        self.slots = threading.BoundedSemaphore(self.cfg.threads)
        self.lock = threading.Lock()
        self.connections: set[Connection] = set()
        # one thread per open connection; finished threads are reused by later connections
        self.pool = futures.ThreadPoolExecutor(max_workers=self.cfg.worker_connections, thread_name_prefix="conn")
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self.options = Options(keepalive=float(self.cfg.keepalive or 0), multiprocess=self.cfg.workers > 1,
                               max_head_bytes=max(65536, self.cfg.limit_request_field_size * 4))
        super().init_process()

    def handle_exit(self, sig, frame) -> None:
        self.alive = False
        try:
            os.write(self.wake_w, b"x")  # wake the accept loop now, not at its next heartbeat
        except OSError:
            pass

    def stopping(self) -> bool:
        return not self.alive

    def run(self) -> None:
        poller = selectors.DefaultSelector()
        poller.register(self.wake_r, selectors.EVENT_READ)
        accepting = False
        while self.alive:
            self.notify()
            room = len(self.connections) < self.cfg.worker_connections
            if room != accepting:
                for listener in self.sockets:
                    if room:
                        listener.setblocking(False)
                        poller.register(listener, selectors.EVENT_READ)
                    else:
                        poller.unregister(listener)
                accepting = room
            for key, _ in poller.select(1.0):
                if key.fileobj is not self.wake_r:
                    self.accept(key.fileobj)
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                self.alive = False
        poller.close()
        with self.lock:
            connections = list(self.connections)
        drain(connections, self.options.stop_linger, self.cfg.graceful_timeout, lambda: len(self.connections), self.notify)
        self.pool.shutdown(wait=False)
        for s in self.sockets:
            s.close()

    def accept(self, listener) -> None:
        try:
            sock, client = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        sock.setblocking(True)
        connection = Connection(sock, client, listener.getsockname(), self.wsgi, self.options, self.stopping, self.slots)
        with self.lock:
            self.connections.add(connection)
        self.pool.submit(self.serve, connection)

    def serve(self, connection: Connection) -> None:
        try:
            connection.serve()
        except Exception:  # noqa: BLE001 - one broken connection must not take the worker down
            self.log.exception("error serving a connection")
        finally:
            with self.lock:
                self.connections.discard(connection)
