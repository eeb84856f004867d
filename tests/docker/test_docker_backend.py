"""The docker backend runs the abalone pipeline from images, and answers as the process backend does.

The same spec (examples/abalone/pipeline.yaml, with the models trained by the example's own
script) runs twice: on the process backend and on the docker backend (featurizer and
regressor on serving-sklearn, the post-processor on serving-model). Every response must be
the same, byte for byte. The other tests check what a user of the docker backend sees:
refused images, the containers and network it makes, that nothing is left behind, crashes,
blue/green updates and the CLI.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest
import requests
import yaml

from docker_helpers import IMAGES, REPO, docker_client, image, readable_dir  # noqa: F401  (fixtures)
from serving.errors import ConfigurationError
from serving.pipeline.backends import READY
from serving.pipeline.docker_backend import DockerBackend
from serving.pipeline.endpoint import Endpoint
from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.docker

EXAMPLE = REPO / "examples" / "abalone"
FEATURES = ["sex", "length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]
BIND_LABEL = "com.amazonaws.sagemaker.capabilities.accept-bind-to-port"
UNLABELLED_IMAGE = "serving-tests-unlabelled:latest"
OPTIONS = {"port": 0, "register": False, "stop_grace": 10, "workers": 1}


def labelled(client, key: str, value: str) -> tuple[list[str], list[str]]:
    """Names of the containers (running or not) and networks carrying label ``key=value``."""
    filters = {"label": f"{key}={value}"}
    return (sorted(c.name for c in client.containers.list(all=True, filters=filters)),
            sorted(n.name for n in client.networks.list(filters=filters)))


@pytest.fixture(scope="module")
def model_dirs(abalone_models, readable_dir):
    """The example's model directories where a container (uid 10001) can read them."""
    featurizer, regressor = abalone_models
    return {
        "featurizer": readable_dir({"model.joblib": featurizer / "model.joblib"}),
        "regressor": readable_dir({"model.joblib": regressor / "model.joblib"}),
        "postprocessor": readable_dir({"code/inference.py": EXAMPLE / "postprocessor" / "code" / "inference.py"}),
    }


@pytest.fixture(scope="module")
def abalone_spec(model_dirs, image):
    """examples/abalone/pipeline.yaml as written, its ModelDataUrls pointing at ``model_dirs``."""
    for name in ("sklearn", "model"):
        image(name)
    data = yaml.safe_load((EXAMPLE / "pipeline.yaml").read_text())
    for container in data["Containers"]:
        container["ModelDataUrl"] = str(model_dirs[container["ContainerHostname"]])
    assert [c["Image"] for c in data["Containers"]] == [IMAGES["sklearn"], IMAGES["sklearn"], IMAGES["model"]]
    return data


@pytest.fixture(scope="module")
def endpoint_pair(abalone_spec, docker_client):
    """The abalone pipeline on each backend, both named abalone (the name is in error bodies)."""
    process = Endpoint.up(abalone_spec, backend_name="process", **OPTIONS)
    try:
        docker = Endpoint.up(abalone_spec, backend_name="docker", **OPTIONS)
    except BaseException:
        process.down()
        raise
    yield process, docker
    docker.down()
    process.down()


@pytest.fixture(scope="module")
def abalone_rows(shared_dir) -> pd.DataFrame:
    frame = pd.read_csv(shared_dir / "data" / "abalone.data", header=None, names=FEATURES + ["rings"])
    return frame[FEATURES]


def csv_body(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(header=False, index=False).encode()


CSV = {"Content-Type": "text/csv"}
JSON = {"Content-Type": "application/json"}
# Real abalone requests, by name: rows -> (method, path, body, headers).
CASES = {
    "csv, 25 rows": lambda rows: ("POST", "/invocations", csv_body(rows.iloc[100:125]), CSV),
    "csv, one row, Accept json": lambda rows: ("POST", "/invocations", csv_body(rows.iloc[[7]]),
                                               {**CSV, "Accept": "application/json"}),
    "csv, 500 rows, SageMaker Runtime path": lambda rows: ("POST", "/endpoints/abalone/invocations",
                                                           csv_body(rows.iloc[:500]), CSV),
    "json records": lambda rows: ("POST", "/invocations", rows.iloc[100:125].to_json(orient="records").encode(), JSON),
    "json instances": lambda rows: ("POST", "/invocations",
                                    json.dumps({"instances": rows.iloc[100:125].values.tolist()}).encode(), JSON),
    "custom attributes": lambda rows: ("POST", "/invocations", csv_body(rows.iloc[:3]),
                                       {**CSV, "X-Amzn-SageMaker-Custom-Attributes": "trace=1"}),
    "error: two columns": lambda rows: ("POST", "/invocations", b"M,0.455\n", CSV),
    "error: Accept the post-processor refuses": lambda rows: ("POST", "/invocations", csv_body(rows.iloc[:3]),
                                                              {**CSV, "Accept": "text/csv"}),
    "error: unsupported content type": lambda rows: ("POST", "/invocations", b"\x00\x01",
                                                     {"Content-Type": "application/x-foo"}),
    "ping": lambda rows: ("GET", "/ping", b"", {}),
    "execution parameters": lambda rows: ("GET", "/execution-parameters", b"", {}),
}
HEADERS = ("Content-Type", "x-amzn-ErrorType", "X-Serving-Failed-Container", "X-Amzn-SageMaker-Custom-Attributes")


@pytest.mark.parametrize("case", CASES)
def test_docker_backend_answers_byte_for_byte_as_the_process_backend(endpoint_pair, abalone_rows, case):
    method, path, body, headers = CASES[case](abalone_rows)
    answers = [requests.request(method, e.url + path, data=body, headers=headers, timeout=60) for e in endpoint_pair]
    process, docker = answers
    assert docker.status_code == process.status_code
    assert [docker.headers.get(h) for h in HEADERS] == [process.headers.get(h) for h in HEADERS]
    assert docker.content == process.content  # errors too: their bodies carry no request id


def test_the_compared_requests_are_real_answers_and_real_errors(endpoint_pair, abalone_rows):
    """The comparison above means something: the pipeline predicts, and the errors are the pipeline's."""
    _, docker = endpoint_pair
    statuses = {}
    for case, make in CASES.items():
        method, path, body, headers = make(abalone_rows)
        response = requests.request(method, docker.url + path, data=body, headers=headers, timeout=60)
        statuses[case] = response.status_code
        if case == "csv, 25 rows":
            assert len(response.json()["predictions"]) == 25
        if case == "error: two columns":
            assert response.json()["Message"].startswith("Received client error (400) from featurizer with message")
    assert statuses == {case: 424 if case.startswith("error") else 200 for case in CASES}


def test_each_container_runs_its_image_on_the_pipeline_network_with_sagemaker_settings(endpoint_pair, docker_client):
    _, endpoint = endpoint_pair
    pipeline = endpoint.pipeline.containers[0].resources.id
    names, networks = labelled(docker_client, "serving.pipeline", pipeline)
    assert names == sorted(f"{pipeline}-{host}" for host in ("featurizer", "regressor", "postprocessor"))
    assert networks == [f"serving-{pipeline}"]
    for index, host in enumerate(["featurizer", "regressor", "postprocessor"]):
        attrs = docker_client.containers.get(f"{pipeline}-{host}").attrs
        assert attrs["Config"]["Image"] == endpoint.spec.containers[index].image
        assert attrs["Config"]["Cmd"] == ["serve"]
        assert attrs["Config"]["Hostname"] == host
        assert host in attrs["NetworkSettings"]["Networks"][f"serving-{pipeline}"]["Aliases"]
        env = dict(item.split("=", 1) for item in attrs["Config"]["Env"])
        port = 9080 + 16 * index
        assert (env["SAGEMAKER_BIND_TO_PORT"], env["SAGEMAKER_SAFE_PORT_RANGE"]) == (str(port), f"{port + 1}-{port + 15}")
        for key, value in endpoint.spec.containers[index].environment.items():
            assert env[key] == value
        [mount] = attrs["Mounts"]
        assert (mount["Source"], mount["Destination"], mount["RW"]) == (
            endpoint.spec.containers[index].model_data, "/opt/ml/model", False)
        assert attrs["HostConfig"]["PortBindings"] == {f"{port}/tcp": [{"HostIp": "127.0.0.1",
                                                                         "HostPort": str(endpoint.pipeline.containers[index].port)}]}
        # `serving endpoint ls` and /admin/status show the container's process as the host sees it
        status = endpoint.router.status()["containers"][index]
        assert status["pid"] == attrs["State"]["Pid"] and status["pid"] > 0


def test_containers_reach_each_other_by_hostname(endpoint_pair, docker_client):
    """SageMaker's ContainerHostname is a DNS name on the pipeline's network."""
    _, endpoint = endpoint_pair
    featurizer = endpoint.pipeline.by_name["featurizer"]
    container = docker_client.containers.get(featurizer.container_name)
    code, output = container.exec_run(["python", "-c", "import urllib.request; print(urllib.request.urlopen("
                                       "'http://regressor:9096/ping').status)"])
    assert (code, output.decode().strip()) == (0, "200")


@pytest.fixture(scope="module")
def unlabelled_image(docker_client, image):
    """The model image with the accept-bind-to-port label set to false: what SageMaker refuses."""
    image("model")
    dockerfile = f"FROM {IMAGES['model']}\nLABEL {BIND_LABEL}=false\n".encode()
    built, _ = docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag=UNLABELLED_IMAGE, rm=True)
    return built


def test_an_image_without_the_bind_to_port_label_is_refused_with_sagemakers_message(
        abalone_spec, unlabelled_image, docker_client):
    spec = json.loads(json.dumps(abalone_spec))
    spec["Containers"][2]["Image"] = UNLABELLED_IMAGE
    with pytest.raises(ConfigurationError) as caught:
        Endpoint.up(spec, name="docker-unlabelled", backend_name="docker", **OPTIONS)
    assert str(caught.value).startswith(
        f"Your Ecr Image {UNLABELLED_IMAGE} does not contain required "
        "com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true Docker label(s). (container postprocessor: ")
    assert labelled(docker_client, "serving.endpoint", "docker-unlabelled") == ([], [])


def test_a_container_without_an_image_is_refused_naming_it(abalone_spec):
    spec = json.loads(json.dumps(abalone_spec))
    del spec["Containers"][1]["Image"]
    with pytest.raises(ConfigurationError, match="^container regressor has no Image; the docker backend runs images"):
        Endpoint.up(spec, name="docker-imageless", backend_name="docker", **OPTIONS)


def archived(model_dir: Path, readable_dir) -> Path:
    """``model_dir`` as SageMaker keeps it: a model.tar.gz, in a readable folder."""
    tmp = readable_dir({})
    with tarfile.open(tmp / "model.tar.gz", "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(model_dir)))
    (tmp / "model.tar.gz").chmod(0o644)
    return tmp / "model.tar.gz"


def test_stopping_removes_every_container_and_network_it_created(
        abalone_spec, model_dirs, readable_dir, abalone_rows, docker_client, caplog):
    """Also: a .tar.gz ModelDataUrl is served, and container output is logged with its prefix."""
    spec = json.loads(json.dumps(abalone_spec))
    archive = archived(model_dirs["regressor"], readable_dir)
    spec["Containers"][1]["ModelDataUrl"] = str(archive)
    caplog.set_level(logging.INFO, logger="serving.endpoint")
    endpoint = Endpoint.up(spec, name="docker-lifecycle", backend_name="docker", **OPTIONS)
    try:
        names, networks = labelled(docker_client, "serving.endpoint", "docker-lifecycle")
        assert (len(names), len(networks)) == (3, 1)
        [mount] = docker_client.containers.get(endpoint.pipeline.by_name["regressor"].container_name).attrs["Mounts"]
        assert (mount["Source"], mount["Destination"]) == (str(archive), "/opt/ml/model/model.tar.gz")
        response = requests.post(endpoint.url + "/invocations", data=csv_body(abalone_rows.iloc[:2]),
                                 headers={"Content-Type": "text/csv"}, timeout=30)
        assert response.status_code == 200
        assert len(response.json()["predictions"]) == 2
    finally:
        endpoint.down()
    assert labelled(docker_client, "serving.endpoint", "docker-lifecycle") == ([], [])
    lines = caplog.messages
    assert any(m.startswith("[docker-lifecycle/regressor] ") and "model loaded from /opt/ml/model" in m for m in lines)
    assert any(m.startswith("[docker-lifecycle/postprocessor] ") and "Handling signal: term" in m for m in lines)


def test_a_failed_start_removes_everything_and_names_the_failing_container(abalone_spec, readable_dir, docker_client):
    spec = json.loads(json.dumps(abalone_spec))
    spec["Containers"][1]["ModelDataUrl"] = str(readable_dir({}))  # an empty model directory
    with pytest.raises(ConfigurationError) as caught:
        Endpoint.up(spec, name="docker-failing", backend_name="docker", **{**OPTIONS, "startup_timeout": 15})
    message = str(caught.value)
    assert message.startswith("1 container(s) did not pass the ping health check within 15 s (regressor): ")
    assert "regressor: container regressor is starting (/ping answered 503: the model failed to load: " in message
    assert "Their log lines are prefixed [docker-failing/<container>]." in message
    assert labelled(docker_client, "serving.endpoint", "docker-failing") == ([], [])


def test_a_killed_container_is_restarted_and_meanwhile_requests_get_503_naming_it(
        abalone_spec, abalone_rows, docker_client):
    with Endpoint.up(abalone_spec, name="docker-crash", backend_name="docker", **OPTIONS) as endpoint:
        regressor = endpoint.pipeline.by_name["regressor"]
        docker_client.containers.get(regressor.container_name).kill()
        wait_for(lambda: regressor.state != READY)
        body = csv_body(abalone_rows.iloc[:2])
        response = requests.post(endpoint.url + "/invocations", data=body, headers={"Content-Type": "text/csv"}, timeout=30)
        assert response.status_code == 503
        assert response.headers["X-Serving-Failed-Container"] == "regressor"
        assert response.json()["Message"].startswith("container regressor exited with code 137 and is restarting")

        wait_for(lambda: regressor.state == READY)
        response = requests.post(endpoint.url + "/invocations", data=body, headers={"Content-Type": "text/csv"}, timeout=30)
        assert response.status_code == 200
        assert regressor.restarts == 1
    assert labelled(docker_client, "serving.endpoint", "docker-crash") == ([], [])


def test_blue_green_update_switches_to_a_new_network_and_removes_the_old(abalone_spec, abalone_rows, docker_client):
    body = csv_body(abalone_rows.iloc[:5])
    with Endpoint.up(abalone_spec, name="docker-update", backend_name="docker", **OPTIONS) as endpoint:
        before = requests.post(endpoint.url + "/invocations", data=body, headers={"Content-Type": "text/csv"}, timeout=30)
        old = endpoint.pipeline.containers[0].resources.id
        result = endpoint.update(abalone_spec)
        new = endpoint.pipeline.containers[0].resources.id
        assert new != old
        assert result["containers"] == ["featurizer", "regressor", "postprocessor"]
        assert labelled(docker_client, "serving.pipeline", old) == ([], [])
        assert labelled(docker_client, "serving.endpoint", "docker-update") == labelled(docker_client, "serving.pipeline", new)
        assert labelled(docker_client, "serving.pipeline", new)[1] == [f"serving-{new}"]
        after = requests.post(endpoint.url + "/invocations", data=body, headers={"Content-Type": "text/csv"}, timeout=30)
        assert (after.status_code, after.content) == (200, before.content)
    assert labelled(docker_client, "serving.endpoint", "docker-update") == ([], [])


@pytest.fixture
def cli_endpoint(abalone_models, readable_dir, image, tmp_path):
    """``cli_endpoint()``: docs/pipeline.md's command on a copy of the example laid out as its spec
    expects; returns the process and its URL once /ping answers 200."""
    for name in ("sklearn", "model"):
        image(name)
    featurizer, regressor = abalone_models
    root = readable_dir({
        "examples/abalone/pipeline.yaml": EXAMPLE / "pipeline.yaml",
        "examples/abalone/postprocessor/code/inference.py": EXAMPLE / "postprocessor" / "code" / "inference.py",
        "build/abalone/featurizer/model.joblib": featurizer / "model.joblib",
        "build/abalone/regressor/model.joblib": regressor / "model.joblib",
    })
    started = []

    def start() -> tuple[subprocess.Popen, str]:
        port = free_port()
        command = [str(Path(sys.executable).parent / "serving"), "endpoint", "up", "examples/abalone/pipeline.yaml",
                   "--backend", "docker", "--port", str(port), "--workers", "1", "--stop-grace", "10"]
        env = {**os.environ, "SERVING_HOME": str(tmp_path / "home")}
        process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        started.append(process)
        url = f"http://127.0.0.1:{port}"

        def pings() -> bool:
            assert process.poll() is None, process.stdout.read().decode()
            try:
                return requests.get(url + "/ping", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(pings, timeout=120)
        return process, url

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def owned_by(process: subprocess.Popen) -> str:
    """The ``serving.owner`` label of what ``process`` creates (another endpoint called abalone may run)."""
    return f"{socket.gethostname()}:{process.pid}"


def test_cli_endpoint_up_with_the_docker_backend_serves_and_leaves_nothing_after_sigterm(
        cli_endpoint, abalone_rows, docker_client):
    process, url = cli_endpoint()
    response = requests.post(url + "/invocations", data=csv_body(abalone_rows.iloc[:1]),
                             headers={"Content-Type": "text/csv"}, timeout=30)
    assert response.json() == {"predictions": [{"rings": 9.2175, "age": 10.7175}]}  # docs/pipeline.md's answer
    assert len(labelled(docker_client, "serving.owner", owned_by(process))[0]) == 3
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output
    assert "[abalone/featurizer] " in output
    assert labelled(docker_client, "serving.owner", owned_by(process)) == ([], [])


def test_what_a_killed_endpoint_left_behind_is_removed_when_the_backend_next_starts(cli_endpoint, docker_client):
    process, _ = cli_endpoint()
    process.kill()  # SIGKILL: no cleanup
    process.wait()
    names, networks = labelled(docker_client, "serving.owner", owned_by(process))
    assert (len(names), len(networks)) == (3, 1)
    DockerBackend()
    assert labelled(docker_client, "serving.owner", owned_by(process)) == ([], [])
