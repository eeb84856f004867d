"""The gunicorn worker ``serving serve`` runs: gunicorn manages the processes, we serve HTTP.

gunicorn keeps what it is good at: the master process, the model loaded before the fork,
worker restarts, heartbeats and signals. Each worker accepts connections on its main thread
and serves them all on one event loop (:mod:`serving.http.loop`, which says why not a
thread per connection; :mod:`serving.http.protocol` says why not gunicorn's ``gthread``).

``SAGEMAKER_MODEL_SERVER_TIMEOUT`` is enforced here: Python cannot stop a thread, so a
request whose handler runs longer is answered by this worker's main loop with a 504 naming
the timeout, the worker stops taking connections, the other requests it runs get a few
seconds to finish, and the worker exits; gunicorn starts a fresh one, as it replaces a worker
that misses its heartbeat. The other workers serve on meanwhile.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import selectors
import signal
import time

from gunicorn.workers.base import Worker

from ..errors import ModelTimeout, container_response
from ..http.loop import Loop
from ..http.protocol import Options

log = logging.getLogger("serving")

MAX_CONNECTIONS = 512  # open connections per worker; more wait in the listen backlog
TIMEOUT_GRACE = 5.0  # seconds the other requests of a timed-out worker get before it exits


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def stop_early(server, worker) -> None:
    """gunicorn's ``post_fork`` hook: honour a SIGTERM from the moment the worker exists.

    Until the worker sets up its own signals, a SIGTERM reaches the handler it inherited from
    the master, which only queues it in this process's copy of the master's signal queue, and
    the worker then ran until the master killed it at the end of the graceful timeout: a stop
    right after start-up took 30 s. So the handler is set first, then that queue is read.
    """
    signal.signal(signal.SIGTERM, worker.handle_exit)
    inherited = getattr(server, "SIG_QUEUE", None)
    queued = []
    if isinstance(inherited, list):
        queued = list(inherited)
    elif inherited is not None:
        try:
            while True:
                queued.append(inherited.get_nowait())
        except queue.Empty:
            pass
    if any(sig in STOP_SIGNALS for sig in queued):
        worker.alive = False


class ConnectionWorker(Worker):
    def init_process(self) -> None:
        self.max_connections = min(self.cfg.worker_connections, MAX_CONNECTIONS)
        self.timed_out = False
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        settings = getattr(self.wsgi, "settings", None)
        self.request_timeout = float(settings.timeout) if settings is not None else float(self.cfg.timeout)
        options = dict(keepalive=float(self.cfg.keepalive or 0), multiprocess=self.cfg.workers > 1,
                       max_head_bytes=max(65536, self.cfg.limit_request_field_size * 4))
        if settings is None:  # an app that is not ours (gunicorn's error app): the defaults
            self.options = Options(**options)
        else:
            self.options = settings.connection_options(max_body_bytes=settings.max_payload_bytes, **options)

    def stopping(self) -> bool:
        return not self.alive

    def run(self) -> None:
        self.loop = Loop(self.wsgi, self.options, container_response, self.cfg.threads, self.stopping)
        self.connections = self.loop.connections
        poller = selectors.DefaultSelector()
        # gunicorn writes a byte to PIPE on every signal (set_wakeup_fd): SIGTERM wakes this loop at once
        poller.register(self.PIPE[0], selectors.EVENT_READ)
        accepting = False
        while self.alive:
            self.notify()
            self.enforce_timeout()
            room = self.alive and len(self.connections) < self.max_connections
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
        grace = TIMEOUT_GRACE if self.timed_out else self.cfg.graceful_timeout
        self.connections.drain(self.options.stop_linger, grace, self.notify)
        self.loop.close()
        for s in self.sockets:
            s.close()
        if self.timed_out:
            # the handler that overran cannot be stopped: leave without waiting for its thread
            logging.shutdown()
            os._exit(1)

    def enforce_timeout(self) -> None:
        """Answer a request past ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` with a 504 and retire this worker."""
        now = time.monotonic()
        with self.connections.lock:
            overdue = [c for c in self.connections.open
                       if c.started is not None and now - c.started > self.request_timeout and not c.abandoned]
        for connection in overdue:
            error = ModelTimeout(
                f"the model did not answer within {self.request_timeout:g} s (SAGEMAKER_MODEL_SERVER_TIMEOUT); "
                "its worker is being replaced: make the request smaller, or raise the timeout")
            log.error("a request ran past SAGEMAKER_MODEL_SERVER_TIMEOUT=%g s; answered 504, replacing worker %d",
                      self.request_timeout, os.getpid(), extra={"fields": {"event": "model_timeout"}})
            connection.abandon(error)
        if overdue and not self.timed_out:
            self.timed_out = True
            self.alive = False

    def accept(self, listener) -> None:
        try:
            sock, client = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.loop.add(sock, client, listener.getsockname())
