"""``serving serve``: gunicorn in front of the app, model loaded before the workers fork.

gunicorn runs the processes (master, preloaded app, workers, restarts, signals); each worker
is :class:`serving.server.worker.ConnectionWorker`, which serves every keep-alive connection
on one event loop (:mod:`serving.http.loop` says why). SIGTERM is gunicorn's
graceful stop: in-flight requests finish (up to ``graceful_timeout``, SageMaker's 30 s),
idle connections are closed, and the server exits.
"""

from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication

from .app import create_app
from ..logs import configure
from ..settings import Settings
from .worker import stop_early

log = logging.getLogger("serving")


class Server(BaseApplication):
    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        config = {
            "bind": [f"{s.host}:{s.port}"],
            "workers": s.workers,
            "worker_class": "serving.server.worker.ConnectionWorker",
            "threads": s.threads,
            "timeout": s.timeout,
            "graceful_timeout": s.graceful_timeout,
            "keepalive": 75,
            "preload_app": True,
            "accesslog": None,  # our own access line carries the request id and latency
            "errorlog": "-",
            "loglevel": logging.getLevelName(s.log_level).lower() if s.log_level >= logging.INFO else "debug",
            "proc_name": f"serving-{s.framework}",
            "limit_request_field_size": 16384,
            "post_fork": stop_early,
        }
        if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 24: one socket path per user
            config["control_socket_disable"] = True
        for key, value in config.items():
            self.cfg.set(key, value)

    def load(self):
        return create_app(self.settings)


def serve(settings: Settings) -> None:
    configure(settings.log_level, settings.log_format, settings.log_label)
    log.info("starting %s container on %s:%d with %d worker(s) x %d thread(s)",
             settings.framework, settings.host, settings.port, settings.workers, settings.threads)
    Server(settings).run()
