"""The docker backend: every container of the pipeline is its spec's ``Image``, run by the local Docker engine.

Each pipeline (the first one of an endpoint, and each new one of a blue/green update) gets a
bridge network of its own. A container on it is ``docker run IMAGE serve`` as SageMaker
runs it: its ``ContainerHostname`` as hostname and network alias, the model data mounted
read-only at ``/opt/ml/model`` (a ``.tar.gz`` is mounted as ``/opt/ml/model/model.tar.gz``,
which the server extracts), its ``Environment``, and the variables SageMaker sets in a
pipeline: a distinct ``SAGEMAKER_BIND_TO_PORT`` per container and a disjoint
``SAGEMAKER_SAFE_PORT_RANGE``. An image without the accept-bind-to-port label is refused
with SageMaker's own message before anything is created.

How the router reaches a container: the bind port is published on a loopback port of the
host. Container IPs on a user network are reachable from the host only on Linux, where the
engine runs on the host itself; with Docker Desktop (macOS, Windows) the engine lives in a
VM and only published ports reach it. A loopback port works in both, keeps the containers
unreachable from other machines, and stays the same across a restart (we choose it), so the
router's keep-alive pool needs no update. docker-proxy accepts connections on it before the
server inside listens; such a connection is reset, which the health check counts as "not
ready yet".

Supervision is the process backend's (:class:`SupervisedContainer`): an exit nobody asked
for turns the container RESTARTING (503 naming it) and it is started again, same container,
after 1, 2, 4 ... 30 s. Docker's own restart policy is not used: it would keep containers
running after the endpoint is gone and tell us nothing about the state in between.

Everything created carries the labels ``serving.endpoint``, ``serving.pipeline`` (one id
per network) and ``serving.owner`` (host and pid of the endpoint process). When the last
container of a pipeline stops, whatever carries its ``serving.pipeline`` label is removed,
network included; a failed start goes the same way. Pipelines left behind by an endpoint
process that died without cleaning up (``kill -9``) are removed the next time this backend
starts on the same host.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
import stat
import threading
from pathlib import Path
from typing import Sequence

import docker
import docker.errors

from ..errors import ConfigurationError
from ..settings import HostSettings
from .backends import (BLOCK, STOPPED, Backend, Container, SupervisedContainer, alive, allocate_block, log,
                       pipeline_variables, register, release_block)
from . import images
from .spec import SUBMIT_DIRECTORY, ContainerSpec

BIND_LABEL = "com.amazonaws.sagemaker.capabilities.accept-bind-to-port"
ENDPOINT_LABEL, PIPELINE_LABEL, OWNER_LABEL = "serving.endpoint", "serving.pipeline", "serving.owner"
MODEL_DIR = "/opt/ml/model"
CODE_DIR = "/opt/ml/code"  # where a submit directory from the host is mounted
FIRST_BIND_PORT = 9080  # container i listens on 9080 + 16 i: not 8080, so an image ignoring the variable fails its ping
STREAM_POOL = 64  # log streams held open at once: 15 containers, twice during an update, and spare


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def remove_labelled(client, label: str) -> None:
    """Remove every container (running or not) and network carrying ``label`` (``key=value``)."""
    for container in client.containers.list(all=True, filters={"label": label}):
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
    for network in client.networks.list(filters={"label": label}):
        try:
            network.remove()
        except docker.errors.NotFound:
            pass


class PipelineResources:
    """What one pipeline shares: its network, its labels and its cleanup.

    The network is created when the first container starts, so refusing a spec creates
    nothing; everything labelled with this pipeline's id is removed when its last
    container has stopped.
    """

    def __init__(self, client, endpoint: str, size: int):
        self.client = client
        self.endpoint = endpoint
        self.id = f"{endpoint}-{secrets.token_hex(3)}"
        self.network_name = f"serving-{self.id}"
        self.labels = {ENDPOINT_LABEL: endpoint, PIPELINE_LABEL: self.id, OWNER_LABEL: owner()}
        self.remaining = size
        self._network = None
        self._lock = threading.Lock()

    def network(self) -> str:
        with self._lock:
            if self._network is None:
                self._network = self.client.networks.create(self.network_name, driver="bridge", labels=self.labels)
            return self.network_name

    def release(self) -> None:
        """One container is done; the last one removes the pipeline's containers and network."""
        with self._lock:
            self.remaining -= 1
            if self.remaining > 0:
                return
        try:
            remove_labelled(self.client, f"{PIPELINE_LABEL}={self.id}")
        except docker.errors.DockerException as exc:
            log.error("[%s] could not remove the containers and network labelled %s=%s: %s; remove them with "
                      "docker rm -f / docker network rm", self.endpoint, PIPELINE_LABEL, self.id, exc)


class DockerContainer(SupervisedContainer):
    launch_errors = (docker.errors.DockerException, OSError)  # OSError: requests' connection errors

    def __init__(self, resources: PipelineResources, streams, spec: ContainerSpec, index: int,
                 workers: int | None = None):
        self.host_port = allocate_block(1)
        super().__init__(resources.endpoint, spec, "127.0.0.1", self.host_port)
        self.resources = resources
        self.streams = streams  # a client without read timeout: log streams and waits last as long as the run
        self.bind_port = FIRST_BIND_PORT + index * BLOCK
        self.workers = workers
        self.container = None
        self.exit_code: int | None = None
        self._exited = threading.Event()
        self._lock = threading.Lock()  # no launch begins once stop() has taken it

    @property
    def pid(self) -> int | None:
        """The host pid of the container's first process while it runs (docker's State.Pid)."""
        container = self.container
        if container is None or self.state == STOPPED:
            return None
        try:
            pid = self.resources.client.api.inspect_container(container.id)["State"]["Pid"]
        except (docker.errors.DockerException, OSError, KeyError):
            return None
        return pid or None

    @property
    def container_name(self) -> str:
        return f"{self.resources.id}-{self.name}"

    def volumes(self) -> dict:
        """The model data at /opt/ml/model, and a submit directory fetched to the host at /opt/ml/code."""
        mounts = {}
        if self.spec.model_data:
            path = Path(self.spec.model_data)
            target = MODEL_DIR if path.is_dir() else f"{MODEL_DIR}/model.tar.gz"
            mounts[str(path)] = {"bind": target, "mode": "ro"}
        code = host_code(self.spec)
        if code:
            mounts[code] = {"bind": CODE_DIR, "mode": "ro"}
        return mounts

    def variables(self) -> dict[str, str]:
        env = pipeline_variables(self.spec, self.bind_port, self.workers)
        if host_code(self.spec):
            env[SUBMIT_DIRECTORY] = CODE_DIR
        return env

    def create(self):
        client = self.resources.client
        network = self.resources.network()
        return client.containers.create(
            run_image(self.spec), ["serve"], name=self.container_name, hostname=self.name,
            labels=self.resources.labels, environment=self.variables(), volumes=self.volumes(),
            ports={f"{self.bind_port}/tcp": (self.host, self.host_port)}, network=network,
            networking_config={network: client.api.create_endpoint_config(aliases=[self.name])},
        )

    def launch(self) -> None:
        with self._lock:
            self._exited.clear()
            if self._stopping.is_set():  # stop() came first: nothing to run
                self._exited.set()
                return
            if self.container is None:
                self.container = self.create()
            # Attach before start, so no line of this run is missed and none of an earlier one repeated.
            output = self.streams.api.attach(self.container.id, stdout=True, stderr=True, stream=True, logs=False)
            try:
                self.container.start()
            except BaseException:
                output.close()
                raise
        threading.Thread(target=self._pump, args=(output,), name=f"log-{self.label}", daemon=True).start()
        log.info("[%s] started container %s (%s) on %s:%d", self.label, self.container_name, run_image(self.spec),
                 self.host, self.port)

    def running(self) -> bool:
        return not self._exited.is_set()

    def wait_exit(self) -> int | None:
        self._exited.wait()
        return self.exit_code

    def _pump(self, output) -> None:
        """Log the run's output line by line, then record how it ended."""
        pending = b""
        try:
            for chunk in output:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    log.info("[%s] %s", self.label, line.decode("utf-8", "replace").rstrip())
            if pending:
                log.info("[%s] %s", self.label, pending.decode("utf-8", "replace").rstrip())
            self.exit_code = self.streams.api.wait(self.container.id)["StatusCode"]
        except (docker.errors.DockerException, OSError):  # removed by stop(), or the engine went away
            self.exit_code = None
        finally:
            output.close()
            self._exited.set()

    def stop(self, grace: float = 30.0) -> None:
        self._stopping.set()
        self.close()  # gunicorn waits for idle keep-alive connections before it exits: close ours first
        with self._lock:
            container = self.container
        try:
            if container is not None:
                try:
                    container.stop(timeout=math.ceil(grace))  # SIGTERM, SIGKILL after grace, as SageMaker
                    container.remove(force=True)
                except docker.errors.NotFound:
                    pass
                except docker.errors.DockerException as exc:
                    log.warning("[%s] could not stop container %s: %s", self.label, self.container_name, exc)
            self.join_monitor()
        finally:
            self.set_state(STOPPED, f"container {self.name} is stopped")
            release_block(self.host_port)
            self.resources.release()


@register
class DockerBackend(Backend):
    """``workers``: gunicorn workers per container unless its Environment sets them."""

    name = "docker"

    def __init__(self, workers: int | None = None):
        self.workers = workers
        try:
            self.client = docker.from_env()
            self.client.ping()
            self.streams = docker.from_env(timeout=None, max_pool_size=STREAM_POOL)
        except docker.errors.DockerException as exc:
            raise ConfigurationError(
                f"no Docker engine answers ({HostSettings.from_env().docker_host}: {exc}); "
                "start one (containers/ci-setup.sh does), or use --backend process"
            ) from None
        self.reap_orphans()

    def create(self, endpoint: str, spec: ContainerSpec) -> Container:
        return self.create_all(endpoint, [spec])[0]

    def create_all(self, endpoint: str, specs: Sequence[ContainerSpec]) -> list[Container]:
        """Check every image first (nothing is created for a spec that is refused), then share one network."""
        for spec in specs:
            self.check_image(endpoint, spec)
        resources = PipelineResources(self.client, endpoint, len(specs))
        return [DockerContainer(resources, self.streams, spec, i, self.workers) for i, spec in enumerate(specs)]

    def check_image(self, endpoint: str, spec: ContainerSpec) -> None:
        if not spec.image:
            raise ConfigurationError(f"container {spec.hostname} has no Image; the docker backend runs images: "
                                     "add one (e.g. serving-sklearn:latest), or use --backend process")
        name = run_image(spec)
        instead = f" (our image for {spec.image})" if name != spec.image else ""
        try:
            image = self.client.images.get(name)
        except docker.errors.ImageNotFound:
            raise ConfigurationError(f"container {spec.hostname}: image {name}{instead} is not in the local Docker "
                                     "engine; build it (make build, docs/containers.md) or docker pull it") from None
        if (image.labels or {}).get(BIND_LABEL) != "true":
            raise ConfigurationError(
                f"Your Ecr Image {name} does not contain required {BIND_LABEL}=true Docker label(s). "
                f"(container {spec.hostname}: add LABEL {BIND_LABEL}=true to its Dockerfile, and make the server "
                "listen on SAGEMAKER_BIND_TO_PORT)"
            )
        user = image.attrs.get("Config", {}).get("User") or "root"
        if spec.model_data and user.split(":")[0] not in ("root", "0"):
            where = unreadable(Path(spec.model_data))
            if where:
                log.warning("[%s/%s] image %s runs as user %s, but %s; the container will not read its model: "
                            "make it readable (chmod -R a+rX) or copy it elsewhere",
                            endpoint, spec.hostname, name, user, where)

    def reap_orphans(self) -> None:
        """Remove the pipelines of endpoint processes on this host that died without cleaning up."""
        host = socket.gethostname()
        dead = set()
        found = self.client.containers.list(all=True, filters={"label": OWNER_LABEL})
        found += self.client.networks.list(filters={"label": OWNER_LABEL})
        for thing in found:
            labels = thing.attrs.get("Labels") or thing.attrs.get("Config", {}).get("Labels") or {}
            owner_host, _, pid = labels.get(OWNER_LABEL, "").rpartition(":")
            if owner_host == host and pid.isdigit() and not alive(int(pid)):
                dead.add(labels[PIPELINE_LABEL])
        for pipeline in sorted(dead):
            log.warning("removing pipeline %s, left behind by an endpoint process that is gone", pipeline)
            remove_labelled(self.client, f"{PIPELINE_LABEL}={pipeline}")


def run_image(spec: ContainerSpec) -> str:
    """The image a container runs: ours for one of SageMaker's framework images, else its own."""
    if spec.framework and images.parse(spec.image) is not None:
        settings = HostSettings.from_env()
        return images.docker_image(spec.framework, settings.image_prefix, settings.image_tag)
    return spec.image


def host_code(spec: ContainerSpec) -> str | None:
    """A submit directory that is a folder on the host (fetched from S3, or given so): it is mounted."""
    code = spec.environment.get(SUBMIT_DIRECTORY, "").removeprefix("file://")
    if code and not code.startswith("/opt/ml/") and Path(code).is_dir():
        return str(Path(code).resolve())
    return None


def unreadable(path: Path) -> str | None:
    """Why other users cannot read ``path`` (mode bits only), or None."""
    for parent in reversed(path.parents):
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return f"{parent} is not searchable by other users (mode {stat.filemode(os.stat(parent).st_mode)})"
    need = stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0)
    mode = os.stat(path).st_mode
    if mode & need != need:
        return f"{path} is not readable by other users (mode {stat.filemode(mode)})"
    return None
