"""The inprocess backend: every container of the pipeline loaded into the endpoint's process.

Each container is the app ``serving serve`` would serve for it
(:class:`serving.server.app.App`, built from its Framework, model data and Environment), and
the router calls it directly: the same executor, the same limits, statuses, messages and
headers as the process backend's, without a socket or another process in between. On this
machine most of a one-row request through the process backend is spent waking the four
processes it passes through (the router and three containers); here it wakes one.

What it gives up, and why it is not the default: the containers share one interpreter (no
isolation: a model that crashes the process or leaks memory takes the endpoint with it, and
is not restarted), requests run on the router's threads (CPU-bound models share the GIL, where
the process backend gives each container its own workers), and the per-container timeout
cannot interrupt a call that is running. Only containers with a Framework of ours run here;
a ``Command`` or an Image-only container needs the process or docker backend.
"""

from __future__ import annotations

import os
import threading
import time

from ..errors import ConfigurationError, container_response
from ..http.client import RequestFailed
from . import executor
from .backends import READY, STARTING, STOPPED, Backend, Container, container_variables, log, register
from .spec import ContainerSpec


_LOADING = threading.Lock()  # one container loads at a time: a user script's import must not race another's


class InProcessContainer(Container):
    """A container's app loaded in this process; READY once it loaded, STOPPED if it cannot."""

    def __init__(self, endpoint: str, spec: ContainerSpec, workers: int | None = None):
        if spec.command or not spec.framework:
            what = f"a Command ({' '.join(spec.command)})" if spec.command else f"only an Image ({spec.image})"
            raise ConfigurationError(f"container {spec.hostname} runs {what}; the inprocess backend loads containers "
                                     "with a Framework of ours only: use --backend process (or docker)")
        super().__init__(endpoint, spec, "in-process", 0)
        self.app = None
        self.workers = workers
        self._loader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return os.getpid()

    def start(self) -> None:
        self._loader = threading.Thread(target=self._load, name=f"load-{self.label}", daemon=True)
        self._loader.start()

    def _load(self) -> None:
        from ..server.app import App
        from ..settings import Settings

        self.set_state(STARTING, f"container {self.name} is loading")
        started = time.perf_counter()
        try:
            settings = Settings.from_env(container_variables(self.spec, self.workers), framework=self.spec.framework,
                                         model_dir=self.spec.model_data or None)
            with _LOADING:
                app = App(settings)
        except Exception as exc:  # noqa: BLE001 - a bad Environment is this container's failure to start
            self.set_state(STOPPED, f"container {self.name} could not start: {exc}")
            return
        if app.model.transformer is None:
            self.set_state(STOPPED, f"the model failed to load: {app.model.error}")
            return
        self.app = app
        log.info("[%s] loaded in this process in %.0f ms", self.label, (time.perf_counter() - started) * 1000)
        self.set_state(READY)

    def stop(self, grace: float = 30.0) -> None:
        if self._loader is not None:
            self._loader.join()
        self.app = None  # the models go with the last request that still holds them
        self.set_state(STOPPED, f"container {self.name} is stopped")

    def call(self, body: bytes, headers: dict[str, str], limit: int | None, timeout: float) -> executor.Reply:
        app = self.app
        if app is None:
            raise executor.failed(self, 0, f"container {self.name} is stopped")
        return executor.call_app(app, body, headers)

    def ping(self, timeout: float = 2.0) -> str | None:
        return None if self.app is not None else self.reason  # loaded: what `serving serve` answers 200 for

    def execution_parameters(self) -> tuple[int, str, bytes]:
        if self.app is None:
            raise RequestFailed(self.reason)
        try:
            status, out, body = self.app.execution_parameters()
        except Exception as exc:  # noqa: BLE001 - answered as the container answers it
            status, out, body = container_response(exc)
        return status, dict(out).get("Content-Type", "application/json"), body


@register
class InProcessBackend(Backend):
    name = "inprocess"

    def __init__(self, workers: int | None = None):
        self.workers = workers  # no processes to start: the concurrency a container reports, as with the process backend

    def create(self, endpoint: str, spec: ContainerSpec) -> Container:
        return InProcessContainer(endpoint, spec, self.workers)
