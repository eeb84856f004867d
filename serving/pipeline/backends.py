"""What the router needs from a container, whoever runs it: the backend interface.

A backend turns a :class:`~serving.pipeline.spec.ContainerSpec` into a running
:class:`Container`: something with a loopback address that speaks the container contract,
that can be started and stopped, and that says whether it can take requests right now.
The process backend (``process.py``) runs ``serving serve`` as supervised children; the
docker backend (``docker_backend.py``) runs images through the docker SDK. Both keep their
containers alive the same way (:class:`SupervisedContainer`), so a crash looks the same to
the router and to the user whichever backend runs the pipeline. The inprocess backend
(``inprocess.py``) loads each container's app into the endpoint's process instead: no
address, and the router's call is a function call.

A container is a step of the pipeline executor (:mod:`serving.pipeline.executor`): the router
calls it through one pool of keep-alive connections (``Container.client``,
:mod:`serving.http.client`); containers keep connections open for 75 s, so a request through
a warm pipeline opens no sockets.
"""

from __future__ import annotations

import importlib
import logging
import os
import random
import socket
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Sequence

from ..errors import ConfigurationError, ServiceUnavailable
from ..http.client import Client, RequestFailed, RequestTimedOut, Unreachable
from . import executor
from .spec import ContainerSpec

log = logging.getLogger("serving.endpoint")

PING_TIMEOUT = 2.0  # SageMaker's per-ping timeout
POOL_SIZE = 32  # connections kept per container; more are opened under load and dropped after

MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0  # a run this long resets the backoff

BLOCK = 16  # ports per container: the bind port and its safe range

STARTING, READY, RESTARTING, STOPPED = "starting", "ready", "restarting", "stopped"

PORT_RANGE = (20000, 32000)  # below Linux's ephemeral ports, so outgoing sockets never take them

_taken: set[int] = set()
_taken_lock = threading.Lock()


def allocate_block(size: int = BLOCK) -> int:
    """The first port of ``size`` consecutive ports that are free on loopback now."""
    with _taken_lock:
        for _ in range(200):
            base = random.randrange(PORT_RANGE[0], PORT_RANGE[1] - size, size)
            if base in _taken:
                continue
            if block_free(base, size):
                _taken.add(base)
                return base
    raise ConfigurationError(f"found no {size} free consecutive ports in {PORT_RANGE[0]}-{PORT_RANGE[1]}")


def block_free(base: int, size: int = BLOCK) -> bool:
    """Whether every port of the block starting at ``base`` is free on loopback now."""
    return all(_free(p) for p in range(base, base + size))


def release_block(base: int) -> None:
    with _taken_lock:
        _taken.discard(base)


def _free(port: int) -> bool:
    """Whether a server could listen on ``port`` now (as gunicorn binds: connections left in
    TIME_WAIT by an earlier run do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pipeline_variables(spec: ContainerSpec, bind_port: int, workers: int | None, instance: str = "") -> dict[str, str]:
    """The variables SageMaker sets for a container in a pipeline, on top of its ``Environment``.

    A distinct bind port, a disjoint safe port range (the ports after it in its block) and,
    unless the spec sets them, ``--workers`` gunicorn workers; and ours, ``SERVING_INSTANCE``,
    the token its ``/ping`` must answer with.
    """
    env = container_variables(spec, workers)
    env["SAGEMAKER_BIND_TO_PORT"] = str(bind_port)
    env["SAGEMAKER_SAFE_PORT_RANGE"] = f"{bind_port + 1}-{bind_port + BLOCK - 1}"
    if instance:
        env["SERVING_INSTANCE"] = instance
    return env


def container_variables(spec: ContainerSpec, workers: int | None) -> dict[str, str]:
    """A container's ``Environment`` and, unless it sets them, ``--workers`` workers (what its
    ``/execution-parameters`` reports as MaxConcurrentTransforms), whatever runs it."""
    env = dict(spec.environment)
    if workers and "SAGEMAKER_MODEL_SERVER_WORKERS" not in env:
        env["SAGEMAKER_MODEL_SERVER_WORKERS"] = str(workers)
    return env


class Container(ABC):
    """One container of a running pipeline, as the router sees it."""

    def __init__(self, endpoint: str, spec: ContainerSpec, host: str, port: int):
        self.endpoint = endpoint
        self.spec = spec
        self.name = spec.hostname
        self.host = host
        self.port = port
        self.client = Client(host, port, max_idle=POOL_SIZE)
        # the token this run's /ping must answer with (the process backend's, where another process
        # could hold the port); None: the port alone says who answers
        self.instance: str | None = None
        self.state = STARTING
        self.reason = "starting"
        self._changed = threading.Condition()

    @property
    def pid(self) -> int | None:
        """The process id behind the container, where the backend has one."""
        return None

    @property
    def label(self) -> str:
        """``endpoint/container``: the prefix of this container's log lines."""
        return f"{self.endpoint}/{self.name}"

    @abstractmethod
    def start(self) -> None:
        """Start the container and return at once; it becomes READY when its /ping answers 200."""

    @abstractmethod
    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds (SageMaker's 30 s); return when gone."""

    def unavailable(self) -> str | None:
        """None when the container can take a request now, else why not (for a fast 503)."""
        return None if self.state == READY else self.reason

    def set_state(self, state: str, reason: str = "") -> None:
        with self._changed:
            self.state, self.reason = state, reason or state
            self._changed.notify_all()

    def wait_ready(self, deadline: float) -> bool:
        """Block until READY or the monotonic ``deadline``; True when ready."""
        with self._changed:
            while self.state != READY:
                left = deadline - time.monotonic()
                if left <= 0 or self.state == STOPPED:
                    return False
                self._changed.wait(min(left, 0.5))
        return True

    def call(self, body: bytes, headers: dict[str, str], limit: int | None, timeout: float) -> executor.Reply:
        """POST /invocations (the executor's step); a call that gets no whole answer is SageMaker's 424."""
        try:
            answer = self.client.request("POST", "/invocations", body, headers, timeout, limit)
        except RequestTimedOut:
            raise executor.timed_out(self, timeout) from None
        except Unreachable as exc:  # nothing listens: it is restarting, or about to be
            raise ServiceUnavailable(f"container {self.name} is not accepting connections at {self.host}:{self.port} "
                                     f"({exc}); retry shortly (see the log lines prefixed [{self.label}])",
                                     container=self.name) from None
        except RequestFailed as exc:
            if exc.status:
                raise executor.cut_short(self, exc.status, str(exc)) from None
            if self.state != READY:  # it exited with the request in flight, and is restarting
                raise ServiceUnavailable(f"{self.reason}; the request was not answered, retry shortly (see the log "
                                         f"lines prefixed [{self.label}])", container=self.name) from None
            raise executor.failed(self, 0, f"The connection to container {self.name} broke: {exc}") from None
        return executor.Reply(answer.status, answer.headers, answer.body, int(answer.headers.get("content-length") or -1))

    def ping(self, timeout: float = PING_TIMEOUT) -> str | None:
        """GET /ping: None when it answers 200, else what went wrong."""
        try:
            answer = self.client.request("GET", "/ping", timeout=timeout)
        except RequestFailed as exc:
            return f"/ping failed: {exc}"
        if self.instance is not None and answer.headers.get("x-serving-instance") != self.instance:
            return (f"/ping at {self.host}:{self.port} is answered by another server, not this run of container "
                    f"{self.name} (is the port taken?)")
        if answer.status != 200:
            text = answer.body.decode("utf-8", "replace").strip()[:300]
            return f"/ping answered {answer.status}" + (f": {text}" if text else "")
        return None

    def execution_parameters(self) -> tuple[int, str, bytes]:
        """GET /execution-parameters: the status, Content-Type and body (raises RequestFailed)."""
        answer = self.client.request("GET", "/execution-parameters", timeout=5.0)
        return answer.status, answer.headers.get("content-type", "application/json"), answer.body

    def close(self) -> None:
        self.client.close()


class SupervisedContainer(Container):
    """A container that one monitor thread keeps running, whatever runs it.

    The thread launches it, pings it until it is READY, then waits for it to exit. An exit
    nobody asked for is a crash: the container turns RESTARTING (the router answers 503
    naming it at once) and is launched again after 1, 2, 4 ... 30 s; the delay resets once
    a run has stayed up for a minute. A backend supplies the three steps below.
    """

    launch_errors: tuple[type[BaseException], ...] = (OSError,)  # a launch failing this way is retried

    def __init__(self, endpoint: str, spec: ContainerSpec, host: str, port: int):
        super().__init__(endpoint, spec, host, port)
        self.restarts = 0
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None

    @abstractmethod
    def launch(self) -> None:
        """Start one run of the container; return once it is starting."""

    @abstractmethod
    def running(self) -> bool:
        """True while the current run has not exited."""

    @abstractmethod
    def wait_exit(self) -> int | None:
        """Block until the current run exits; its exit code."""

    def clean_up_run(self) -> None:
        """After a run exited: stop whatever it left behind (its worker processes), before the next."""

    def start(self) -> None:
        self._monitor = threading.Thread(target=self._supervise, name=f"supervise-{self.label}", daemon=True)
        self._monitor.start()

    def join_monitor(self) -> None:
        if self._monitor is not None:
            self._monitor.join()

    def _supervise(self) -> None:
        """Launch, wait until healthy, wait for the exit; relaunch with backoff until stopped."""
        backoff = 1.0
        while not self._stopping.is_set():
            started = time.monotonic()
            self.set_state(STARTING, f"container {self.name} is starting")
            try:
                self.launch()
            except self.launch_errors as exc:
                self.set_state(RESTARTING, f"container {self.name} could not start: {exc}")
                log.error("[%s] could not start: %s", self.label, exc)
                code = None
            else:
                self._wait_healthy()
                code = self.wait_exit()
            if self._stopping.is_set():
                return
            if time.monotonic() - started > STABLE_AFTER:
                backoff = 1.0
            self.restarts += 1
            self.set_state(RESTARTING, f"container {self.name} exited with code {code} and is restarting "
                                       f"(restart {self.restarts}, in {backoff:g} s)")
            self.clean_up_run()  # ready again only when a new run answers /ping, never an old one's leftovers
            log.error("[%s] exited with code %s; restarting in %g s", self.label, code, backoff)
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _wait_healthy(self) -> None:
        while self.running() and not self._stopping.is_set():
            problem = self.ping()
            if problem is None:
                self.set_state(READY)
                log.info("[%s] is healthy", self.label)
                return
            self.reason = f"container {self.name} is starting ({problem})"
            self._stopping.wait(0.1)


class Backend(ABC):
    """Creates containers for an endpoint; ``name`` is what ``--backend`` selects."""

    name = "base"

    @abstractmethod
    def create(self, endpoint: str, spec: ContainerSpec) -> Container:
        """A container for ``spec``, not yet started. Raise ConfigurationError if it cannot run here."""

    def create_all(self, endpoint: str, specs: Sequence[ContainerSpec]) -> list[Container]:
        """The containers of one pipeline, in order; a backend may share resources among them."""
        return [self.create(endpoint, spec) for spec in specs]


#: where each backend lives; imported when chosen, so the docker SDK loads only for ``--backend docker``
MODULES = {"process": "serving.pipeline.process", "docker": "serving.pipeline.docker_backend",
           "inprocess": "serving.pipeline.inprocess"}
_BACKENDS: dict[str, type[Backend]] = {}


def register(cls: type[Backend]) -> type[Backend]:
    """Class decorator: the backend ``cls.name`` is ``cls``."""
    _BACKENDS[cls.name] = cls
    return cls


def backend(name: str, **options) -> Backend:
    """The backend called ``name`` (``process``, ``docker`` or ``inprocess``), built with ``options``."""
    if name not in MODULES:
        raise ConfigurationError(f"unknown backend '{name}'; choose {', '.join(MODULES)}")
    try:
        importlib.import_module(MODULES[name])
    except ModuleNotFoundError as exc:
        raise ConfigurationError(f"the {name} backend is not available here ({exc}); use --backend process") from None
    return _BACKENDS[name](**options)


def alive(pid: int) -> bool:
    """True while ``pid`` runs; an exited child nobody has reaped yet (a zombie) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
