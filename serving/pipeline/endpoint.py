"""An endpoint's lifecycle: up, blue/green update, down; and the registry other shells read.

``Endpoint.up(spec, port=...)`` starts every container through a backend, waits until each
answers ``/ping`` (up to the startup timeout, 4 minutes as on SageMaker), then serves the
router; ``down()`` stops the router and every container it started. Used as a context
manager it does both::

    with Endpoint.up("examples/abalone/pipeline.yaml", port=8080) as endpoint:
        requests.post(endpoint.url + "/invocations", data=rows, headers={"Content-Type": "text/csv"})

``update(spec)`` is SageMaker's UpdateEndpoint: the new containers start and pass their
health checks while the old ones serve; then traffic switches at once, requests already
running finish on the old pipeline, and the old containers stop. If the new pipeline fails
its health check the old one keeps serving and the error says why.

The router is served in a thread of this process by our HTTP/1.1 layer
(:mod:`serving.http`), the same one the containers serve with: the supervisor and the router
share the current pipeline without any inter-process channel, and the same code serves the
CLI, tests and the demo.

Registry: a running endpoint writes ``$SERVING_HOME/endpoints/NAME.json`` (default
``~/.serving``; mode 0600) with its pid, address, spec and an admin token. ``serving
endpoint ls / update / down / invoke`` read it and talk to the endpoint over HTTP:
``update`` and ``down`` through the router's loopback-only ``/admin`` routes.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..settings import HostSettings
from . import spec as specs
from .backends import READY, STOPPED, Backend, alive, backend
from .executor import Limits
from .router import Pipeline, Router

log = logging.getLogger("serving.endpoint")

STARTUP_TIMEOUT = 240.0  # SageMaker's startup health window
STOP_GRACE = 30.0  # SIGTERM, then SIGKILL 30 s later, as SageMaker stops containers
CRASH_LOOP = 3  # restarts during start-up after which waiting longer is pointless


def registry_dir() -> Path:
    """Where endpoints register: ``$SERVING_HOME/endpoints`` (``~/.serving`` unless set; see the settings module)."""
    return Path(HostSettings.from_env().home) / "endpoints"


def as_spec(spec: Any) -> specs.PipelineSpec:
    if isinstance(spec, specs.PipelineSpec):
        return spec
    if isinstance(spec, dict):
        return specs.from_dict(spec)
    return specs.load(spec)


class Endpoint:
    def __init__(self, spec: Any, *, name: str | None = None, host: str = "127.0.0.1", port: int = 8080,
                 backend_name: str = "process", workers: int | None = None, limits: Limits | None = None,
                 startup_timeout: float = STARTUP_TIMEOUT, stop_grace: float = STOP_GRACE,
                 threads: int = 32, register: bool = True, listen: bool = True, label: str | None = None):
        self.spec = as_spec(spec)
        self.name = name or self.spec.model_name or "endpoint"
        # listen=False: no port of its own; whoever holds it calls ``self.router`` (``serving api``'s
        # instances). ``label`` prefixes the containers' log lines (default: the name).
        self.listen = listen
        self.label = label or self.name
        if not specs.HOSTNAME.match(self.name):
            raise ConfigurationError(f"endpoint name '{self.name}' is not valid: use letters, digits and inner hyphens")
        self.host, self.port = host, port
        self.backend: Backend = backend(backend_name, workers=workers)
        self.limits = limits or Limits()
        self.startup_timeout, self.stop_grace, self.threads = startup_timeout, stop_grace, threads
        self.register = register
        self.token = secrets.token_hex(16)
        self.router: Router | None = None
        self.server = None
        self._update_lock = threading.Lock()
        self._shutdown = threading.Event()
        self._stopped = False

    # -- lifecycle -----------------------------------------------------------------------

    @classmethod
    def up(cls, spec: Any, **options) -> "Endpoint":
        endpoint = cls(spec, **options)
        endpoint.start()
        return endpoint

    def start(self) -> None:
        if self.register:
            _refuse_running(self.name)
        for warning in self.spec.warnings:
            log.warning("[%s] %s (SageMaker's CreateModel would refuse this)", self.name, warning)
        for notice in self.spec.notices:
            log.warning("[%s] %s", self.name, notice)
        pipeline = self.start_pipeline(self.spec)
        self.router = Router(self.name, pipeline, self.limits, self.token,
                             {"update": self._admin_update, "shutdown": self._admin_shutdown})
        try:
            if self.listen:
                self._serve()
        except BaseException:
            self.stop_pipeline(pipeline)
            raise
        if self.register:
            self.write_registry()
        log.info("[%s] serving %d container(s)%s", self.label, len(pipeline.containers),
                 f" at {self.url}" if self.listen else "")

    def _serve(self) -> None:
        from ..errors import runtime_response
        from ..http.server import ThreadedServer

        try:  # binds now, so a busy port fails here, not in a thread
            self.server = ThreadedServer(self.host, self.port, self.router, runtime_response, threads=self.threads,
                                         options=self.server_options(), name=f"router-{self.name}")
        except OSError as exc:
            raise ConfigurationError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}; "
                                     "choose another --port") from None
        self.port = self.server.address[1]
        self.server.start()

    def server_options(self):
        # a body over the request limit is refused from its length, unread (the router's 413)
        return HostSettings.from_env().connection_options(stop_linger=0.0, max_body_bytes=self.limits.max_request_bytes)

    def set_limits(self, limits: Limits) -> None:
        """Limits for the requests from now on (a batch job sets its own)."""
        self.limits = limits
        if self.router is not None:
            self.router.limits = limits
        if self.server is not None:
            self.server.options = self.server_options()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pipeline(self) -> Pipeline:
        assert self.router is not None, "the endpoint is not up"
        return self.router.pipeline

    def serve_forever(self) -> None:
        """Block until SIGTERM, SIGINT (Ctrl-C) or ``serving endpoint down``; then stop everything."""
        serve_until_signalled(self._shutdown, self.down)

    def down(self) -> None:
        """Stop the router, then every container; remove the registry entry. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self.server is not None:
            self.server.stop(grace=self.stop_grace)
            self.server = None
        if self.router is not None:
            if not self.listen:  # no server drained the requests: they finish before the containers stop
                self.router.pipeline.drain(self.limits.timeout + 5)
            self.stop_pipeline(self.router.pipeline)
        if self.register:
            registry_path(self.name).unlink(missing_ok=True)
        log.info("[%s] stopped", self.label)

    def __enter__(self) -> "Endpoint":
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    # -- pipelines -----------------------------------------------------------------------

    def start_pipeline(self, spec: specs.PipelineSpec) -> Pipeline:
        """Fetch what the containers need from S3, start every container and wait for all to be
        healthy; on failure stop them and say why."""
        containers = self.backend.create_all(self.label, spec.fetched())
        pipeline = Pipeline(spec, containers)
        try:
            for container in containers:
                container.start()
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                pending = [c for c in containers if c.state != READY]
                if not pending or any(c.state == STOPPED or getattr(c, "restarts", 0) >= CRASH_LOOP for c in pending):
                    break
                pending[0].wait_ready(min(deadline, time.monotonic() + 0.5))
        except BaseException:
            self.stop_pipeline(pipeline)
            raise
        failed = [c for c in containers if c.state != READY]
        if failed:
            why = "; ".join(f"{c.name}: {c.reason}" for c in failed)
            self.stop_pipeline(pipeline)
            raise ConfigurationError(
                f"{len(failed)} container(s) did not pass the ping health check within {self.startup_timeout:g} s "
                f"({', '.join(c.name for c in failed)}): {why}. Their log lines are prefixed [{self.label}/<container>]."
            )
        return pipeline

    def stop_pipeline(self, pipeline: Pipeline) -> None:
        threads = [threading.Thread(target=c.stop, args=(self.stop_grace,)) for c in pipeline.containers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def update(self, spec: Any) -> dict:
        """Blue/green: start and health-check the new pipeline, switch, drain and stop the old one."""
        new_spec = as_spec(spec)
        with self._update_lock:
            started = time.monotonic()
            new = self.start_pipeline(new_spec)  # raises, leaving the old pipeline serving
            old = self.router.pipeline
            self.router.pipeline = new
            self.spec = new_spec
            if self.register:
                self.write_registry()
            switched = time.monotonic() - started
            drained = old.drain(self.limits.timeout + 5)
            self.stop_pipeline(old)
        log.info("[%s] updated to %s in %.1f s", self.name, ", ".join(new_spec.hostnames), switched)
        return {"name": self.name, "containers": new_spec.hostnames, "switch_seconds": round(switched, 3),
                "drained": drained}

    def _admin_update(self, payload: dict) -> dict:
        return self.update(specs.from_dict(payload.get("spec")))

    def _admin_shutdown(self, payload: dict) -> dict:
        self._shutdown.set()
        return {"name": self.name, "stopping": True, "pid": os.getpid()}

    # -- registry ------------------------------------------------------------------------

    def write_registry(self) -> None:
        path = registry_path(self.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"name": self.name, "pid": os.getpid(), "host": self.host, "port": self.port, "url": self.url,
                 "admin_token": self.token, "started": time.time(), "spec": self.spec.to_dict()}
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(entry, f, indent=2)
        tmp.replace(path)


def serve_until_signalled(shutdown: threading.Event, stop) -> None:
    """Block until SIGTERM, SIGINT or ``shutdown`` is set; then call ``stop``, whatever happened."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: shutdown.set())
    try:
        while not shutdown.wait(0.5):
            pass
    finally:
        stop()


def registry_path(name: str) -> Path:
    return registry_dir() / f"{name}.json"


def registered() -> list[dict]:
    """Every registered endpoint whose process is alive; entries of dead processes are removed."""
    out = []
    for path in sorted(registry_dir().glob("*.json")):
        try:
            entry = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if alive(entry.get("pid", -1)):
            out.append(entry)
        else:
            path.unlink(missing_ok=True)
    return out


def lookup(name: str) -> dict:
    entries = registered()
    for entry in entries:
        if entry["name"] == name:
            return entry
    running = ", ".join(e["name"] for e in entries) or "none"
    raise ConfigurationError(f"no endpoint named {name} is running (running: {running}); start it with serving endpoint up")


def _refuse_running(name: str) -> None:
    for entry in registered():
        if entry["name"] == name:
            raise ConfigurationError(
                f"an endpoint named {name} is already running (pid {entry['pid']}, {entry['url']}); "
                f"stop it with 'serving endpoint down {name}' or choose another --name"
            )
