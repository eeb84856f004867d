"""The gunicorn worker ``serving serve`` runs: gunicorn manages the processes, we serve HTTP.

gunicorn keeps what it is good at: the master process, the model loaded before the fork,
worker restarts, heartbeats and signals. Each worker accepts connections and serves each one
on a thread of its own through :mod:`serving.http.protocol`, which says why gunicorn's
``gthread`` request handling is not used.
"""

from __future__ import annotations

import errno
import os
import selectors
import signal
import threading
from concurrent import futures

from gunicorn.workers.base import Worker

from ..errors import container_response
from ..http.protocol import Connection, Options
from ..http.server import Connections


def stop_early(server, worker) -> None:
    """gunicorn's ``post_fork`` hook: honour a SIGTERM from the moment the worker exists.

    Until the worker sets up its own signals, a SIGTERM reaches the handler it inherited from
    the master and is lost, and the worker then runs until the master kills it at the end of
    the graceful timeout; a stop right after start-up would take 30 s.
    """
    signal.signal(signal.SIGTERM, worker.handle_exit)


class ConnectionWorker(Worker):
    def init_process(self) -> None:
        self.slots = threading.BoundedSemaphore(self.cfg.threads)
        self.connections = Connections()
        # one thread per open connection; finished threads are reused by later connections
        self.pool = futures.ThreadPoolExecutor(max_workers=self.cfg.worker_connections, thread_name_prefix="conn")
        self.options = Options(keepalive=float(self.cfg.keepalive or 0), multiprocess=self.cfg.workers > 1,
                               max_head_bytes=max(65536, self.cfg.limit_request_field_size * 4))
        super().init_process()

    def stopping(self) -> bool:
        return not self.alive

    def run(self) -> None:
        poller = selectors.DefaultSelector()
        # gunicorn writes a byte to PIPE on every signal (set_wakeup_fd): SIGTERM wakes this loop at once
        poller.register(self.PIPE[0], selectors.EVENT_READ)
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
                if key.fileobj is self.PIPE[0]:
                    try:
                        os.read(self.PIPE[0], 512)
                    except BlockingIOError:
                        pass
                else:
                    self.accept(key.fileobj)
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                self.alive = False
        poller.close()
        self.connections.drain(self.options.stop_linger, self.cfg.graceful_timeout, self.notify)
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
        connection = Connection(sock, client, listener.getsockname(), self.wsgi, self.options, self.stopping,
                                container_response, self.slots)
        self.connections.add(connection)
        self.pool.submit(self.connections.serve, connection)
