"""Fixtures for the tests that need a Docker engine: the client, the images, containers.

Every test using them is skipped, with the reason, when no engine answers; CI always has
one (containers/ci-setup.sh). A missing image is a failure, not a skip: it says which make
target builds it.

This is a plain module, not a conftest.py: test modules import the fixtures by name. A
second conftest.py without a package would replace ``conftest`` in ``sys.modules``, which
other test folders import from, and a package here would be called ``docker`` and hide the
Docker SDK.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import requests

docker = pytest.importorskip("docker", reason="the docker Python SDK is not installed")

REPO = Path(__file__).resolve().parents[2]
PREFIX = os.environ.get("SERVING_IMAGE_PREFIX", "serving")
TAG = os.environ.get("SERVING_IMAGE_TAG", "latest")
CUSTOM_EXAMPLE = REPO / "examples" / "custom-container"
POSTPROCESSOR = REPO / "examples" / "abalone" / "postprocessor" / "code" / "inference.py"  # its script
CUSTOM_IMAGE = "abalone-age:test"  # built by the custom_image fixture
IMAGES = {name: f"{PREFIX}-{name}:{TAG}" for name in ("model", "sklearn", "sparkml", "xgboost", "blazingtext")} | {
    "custom": CUSTOM_IMAGE}


@pytest.fixture(scope="session")
def docker_client():
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(
            f"no Docker engine answers ({os.environ.get('DOCKER_HOST', 'unix:///var/run/docker.sock')}: "
            f"{exc}); containers/ci-setup.sh installs and starts one"
        )
    yield client
    client.close()


@pytest.fixture(scope="session")
def image(docker_client):
    """``image("sklearn")``: the built image of that name, or a failure naming the fix."""

    def get(name: str):
        tag = IMAGES.get(name, name)
        try:
            return docker_client.images.get(tag)
        except docker.errors.ImageNotFound:
            pytest.fail(f"image {tag} is not built: run containers/ci-setup.sh, or `make wheels build` (docs/containers.md)")

    return get


@pytest.fixture(scope="session")
def custom_image(docker_client, image):
    """The abalone post-processor of examples/custom-container, built FROM the model image."""
    image("model")
    built, _ = docker_client.images.build(
        path=str(CUSTOM_EXAMPLE.parent), dockerfile="custom-container/Dockerfile", tag=CUSTOM_IMAGE,
        buildargs={"MODEL_IMAGE": IMAGES["model"]}, rm=True
    )
    return built


@pytest.fixture(scope="session")
def readable_dir():
    """``readable_dir({"model.joblib": src, "code/inference.py": src})``: a model directory.

    It is made outside pytest's temporary folders, which are private to root (mode 0700): a
    bind mount keeps those modes, and the images run as a non-root user. SageMaker's
    /opt/ml/model is world-readable; so is this.
    """
    made: list[str] = []

    def make(files: dict[str, Path]) -> Path:
        root = Path(tempfile.mkdtemp(prefix="serving-docker-"))
        made.append(str(root))
        for name, src in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, root / name)
        for path in [root, *root.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        return root

    yield make
    for root in made:
        shutil.rmtree(root, ignore_errors=True)


class Container:
    """One ``docker run IMAGE serve``, its port published on a free loopback port."""

    def __init__(self, client, image: str, model_dir: Path | None = None, env: dict | None = None,
                 port: int = 8080, command=("serve",)):
        volumes = {str(model_dir): {"bind": "/opt/ml/model", "mode": "ro"}} if model_dir else {}
        self.container = client.containers.run(
            image, list(command), detach=True, environment=env or {}, volumes=volumes,
            ports={f"{port}/tcp": ("127.0.0.1", None)}, labels={"serving.tests": "docker"},
        )
        self.container.reload()
        host_port = self.container.ports[f"{port}/tcp"][0]["HostPort"]
        self.url = f"http://127.0.0.1:{host_port}"
        self.session = requests.Session()

    def wait_ready(self, timeout: float = 60.0) -> requests.Response:
        """The first answer to /ping (whatever its status), or an error with the logs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.container.reload()
            if self.container.status == "exited":
                raise RuntimeError(f"the container exited:\n{self.logs()}")
            try:
                return self.session.get(self.url + "/ping", timeout=2)
            except requests.ConnectionError:  # docker-proxy accepts, the server is not up yet
                time.sleep(0.2)
        raise TimeoutError(f"no answer on /ping within {timeout}s:\n{self.logs()}")

    def invoke(self, body, content_type="text/csv", accept="application/json") -> requests.Response:
        headers = {"Content-Type": content_type, "Accept": accept}
        return self.session.post(self.url + "/invocations", data=body, headers=headers, timeout=30)

    def logs(self) -> str:
        return self.container.logs().decode(errors="replace")

    def remove(self) -> None:
        self.session.close()
        self.container.remove(force=True)


@pytest.fixture
def run(docker_client):
    """``run(image_tag, model_dir=..., env=...)``: a started container, removed at the end."""
    started: list[Container] = []

    def start(image: str, **kwargs) -> Container:
        container = Container(docker_client, image, **kwargs)
        started.append(container)
        return container

    yield start
    for container in started:
        container.remove()
