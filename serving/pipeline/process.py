"""The process backend: every container is a supervised child process on a loopback port.

A container is ``python -m serving.cli serve --framework F`` (or the spec's ``Command``)
with the variables SageMaker sets for pipelines: ``SAGEMAKER_BIND_TO_PORT`` and a disjoint
``SAGEMAKER_SAFE_PORT_RANGE`` (the 15 ports after it, in a block found free on loopback),
plus ``SM_MODEL_DIR`` pointing at the model data.

A crashed child is started again after 1, 2, 4 ... 30 s (:class:`SupervisedContainer`;
meanwhile the router answers 503 naming it). Output lines carry an ``[endpoint/container]``
prefix. When the endpoint logs to a file or terminal, ``serving serve`` writes its log lines
there itself, labelled (``SERVING_LOG_LABEL``), so no request's log line passes through the
endpoint process; its other output (gunicorn's messages, anything on stderr), all output of
a custom ``Command``, and everything when the endpoint's log has no file descriptor, is read
here and logged with the prefix.

Children run in their own session, so a Ctrl-C in the terminal reaches only the endpoint,
which stops them in order; on Linux they also get SIGTERM if the endpoint process dies
without cleaning up (``PR_SET_PDEATHSIG``), so no container outlives its endpoint.
"""

from __future__ import annotations

import ctypes
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ..errors import ConfigurationError
from ..frameworks import FRAMEWORKS
from ..settings import child_environment
from ..http.client import Client
from .backends import (POOL_SIZE, STOPPED, Backend, Container, SupervisedContainer, allocate_block, block_free, log,
                       pipeline_variables, register, release_block)
from .spec import ContainerSpec

PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])

def log_stream() -> int | None:
    """The file descriptor this endpoint's INFO log lines are written to, if there is one.

    None when they are not shown, go somewhere without a descriptor (a test's capture), or a
    handler must see every line (``reads_container_lines``: ``serving api``'s log streams): then
    container output is read and logged here instead.
    """
    if not log.isEnabledFor(logging.INFO):
        return None
    logger: logging.Logger | None = log
    while logger is not None:
        if any(getattr(h, "reads_container_lines", False) for h in logger.handlers):
            return None
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.level <= logging.INFO:
                try:
                    fd = handler.stream.fileno()
                except (AttributeError, OSError, ValueError):
                    continue
                handler.flush()
                return fd
        logger = logger.parent if logger.propagate else None
    return None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class ProcessContainer(SupervisedContainer):
    def __init__(self, endpoint: str, spec: ContainerSpec, workers: int | None = None):
        self.base = allocate_block()
        super().__init__(endpoint, spec, "127.0.0.1", self.base)
        self.workers = workers
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def command(self) -> list[str]:
        if self.spec.command:
            return list(self.spec.command)
        if not self.spec.framework:
            raise ConfigurationError(
                f"container {self.name} names only an Image ({self.spec.image}), which is not one of SageMaker's "
                f"framework images; the process backend runs a Framework ({', '.join(FRAMEWORKS)}) or a Command: "
                "add one, or use --backend docker"
            )
        return [sys.executable, "-m", "serving.cli", "serve", "--framework", self.spec.framework, "--host", self.host]

    def environment(self) -> dict[str, str]:
        env = child_environment(pipeline_variables(self.spec, self.port, self.workers, self.instance or ""))
        env["PYTHONUNBUFFERED"] = "1"
        if not self.spec.command:  # run the same serving package as this endpoint, wherever it was imported from
            env["PYTHONPATH"] = os.pathsep.join(filter(None, (PACKAGE_ROOT, env.get("PYTHONPATH"))))
        if self.spec.model_data:
            env["SM_MODEL_DIR"] = self.spec.model_data
        return env

    def start(self) -> None:
        self.command()  # an Image-only spec fails here, before any thread starts
        super().start()

    def stop(self, grace: float = 30.0) -> None:
        self._stopping.set()
        self.close()  # gunicorn waits for idle keep-alive connections before it exits: close ours first
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                log.warning("[%s] did not stop within %g s of SIGTERM; killing it", self.label, grace)
                process.kill()
                process.wait()
        self.clean_up_run()
        self.join_monitor()
        self.set_state(STOPPED, f"container {self.name} is stopped")
        release_block(self.base)

    def launch(self) -> None:
        if not self.spec.command:  # `serving serve` answers /ping with it; a custom Command would not
            self.instance = secrets.token_hex(8)  # this run's: an answer from an earlier run is not this one's
        if not block_free(self.base):  # taken since it was chosen (another process's server): take another
            release_block(self.base)
            self.base = self.port = allocate_block()
            self.client.close()
            self.client = Client(self.host, self.port, max_idle=POOL_SIZE)
        env = self.environment()
        sink = None if self.spec.command else log_stream()
        if sink is not None:  # `serving serve` writes its labelled lines there itself
            env["SERVING_LOG_LABEL"] = self.label
        self.process = process = subprocess.Popen(
            self.command(), env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if sink is None else sink,
            stderr=subprocess.STDOUT if sink is None else subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        threading.Thread(target=self._pump, args=(process.stdout if sink is None else process.stderr,),
                         name=f"log-{self.label}", daemon=True).start()
        log.info("[%s] started pid %d on port %d", self.label, process.pid, self.port)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_exit(self) -> int | None:
        return self.process.wait()

    def clean_up_run(self) -> None:
        """Kill the run's process group: a master killed with -9 leaves its workers running, and
        they would answer ``/ping`` for a container that is not there."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own session: the group is the master's pid
            except (ProcessLookupError, PermissionError):
                pass

    def _pump(self, stream) -> None:
        for line in iter(stream.readline, b""):
            log.info("[%s] %s", self.label, line.decode("utf-8", "replace").rstrip())
        stream.close()


@register
class ProcessBackend(Backend):
    """``workers``: gunicorn workers per container unless its Environment sets them."""

    name = "process"

    def __init__(self, workers: int | None = None):
        self.workers = workers

    def create(self, endpoint: str, spec: ContainerSpec) -> Container:
        return ProcessContainer(endpoint, spec, self.workers)
