"""Shared fixtures: the shared data folder, free ports, and real `serving serve` processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

# pyspark starts its Python workers with PYSPARK_PYTHON (pyspark 4 ignores spark.pyspark.python)
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SERVING_SHARED_DIR", REPO.parent / "shared")).resolve()
ABALONE = SHARED / "data" / "abalone.data"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"the shared data folder {SHARED} is missing (set SERVING_SHARED_DIR)")
    return SHARED


def wait_for(condition, timeout: float = 60.0) -> None:
    """Poll ``condition`` until it is true; fail the test if it is not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A real `serving serve` child process on a loopback port."""

    def __init__(self, model_dir, framework="sklearn", env=None, workers=1, args=(), wait=True, cwd=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SERVING_", "SM_"))}
        full_env.update(env or {})
        cmd = [sys.executable, "-m", "serving.cli", "serve", "--framework", framework,
               "--model-dir", str(model_dir), "--port", str(self.port), "--host", "127.0.0.1",
               "--workers", str(workers), *args]
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"serving-test-{self.port}.log"
        self.log_file = open(self.log_path, "w+b")
        self.proc = subprocess.Popen(cmd, env=full_env, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=cwd)
        self.session = requests.Session()
        if wait:
            self.wait_listening()

    def wait_listening(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                self.session.get(self.url + "/ping", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise TimeoutError(f"server did not listen within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        self.log_file.flush()
        return self.log_path.read_text(errors="replace")

    def invoke(self, body, content_type="text/csv", accept=None, **headers):
        if content_type is not None:
            headers["Content-Type"] = content_type
        if accept is not None:
            headers["Accept"] = accept
        return self.session.post(self.url + "/invocations", data=body, headers=headers, timeout=30)

    def get(self, path):
        return self.session.get(self.url + path, timeout=10)

    def stop(self, sig=signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.session.close()
        self.log_file.close()
        return self.proc.returncode


@pytest.fixture
def serve():
    """Start servers with ``serve(model_dir, framework=..., env=...)``; all stopped at the end."""
    started: list[ServerProcess] = []

    def start(*args, **kwargs) -> ServerProcess:
        server = ServerProcess(*args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def load_example(relpath: str):
    """Import a module from examples/ by path (examples are scripts, not a package)."""
    import importlib.util

    path = REPO / "examples" / relpath
    spec = importlib.util.spec_from_file_location(f"example_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def abalone_models(tmp_path_factory, shared_dir):
    """The abalone featurizer and regressor of examples/abalone, trained once per session."""
    train = load_example("abalone/train.py")
    out = tmp_path_factory.mktemp("abalone")
    featurizer, regressor = train.train(ABALONE, out)
    return featurizer, regressor


class S3Server:
    """moto's S3 server on a loopback port: a real S3 protocol endpoint, spoken to over HTTP.

    While it runs, the process's (and so every child's) boto3 points at it through
    ``AWS_ENDPOINT_URL_S3``, with test credentials, as a user points boto3 at MinIO.
    """

    VARIABLES = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}

    def __init__(self):
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request otherwise
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.saved = {k: os.environ.get(k) for k in [*self.VARIABLES, "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"]}
        os.environ.update(self.VARIABLES, AWS_ENDPOINT_URL_S3=self.url)
        os.environ.pop("AWS_PROFILE", None)
        self._reset_clients()
        import boto3

        self.client = boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                                   aws_access_key_id="testing", aws_secret_access_key="testing")
        self.buckets = 0

    @staticmethod
    def _reset_clients():
        from serving.storage import s3

        s3.reset_client()

    def bucket(self) -> str:
        """A new, empty bucket."""
        self.buckets += 1
        name = f"bucket-{os.getpid()}-{self.buckets}"
        self.client.create_bucket(Bucket=name)
        return name

    def put(self, uri: str, body: bytes) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        self.client.put_object(Bucket=bucket, Key=key, Body=body)

    def get(self, uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", ())]

    def uploads(self, bucket: str) -> list[str]:
        """Keys of multipart uploads begun and neither completed nor aborted."""
        return [u["Key"] for u in self.client.list_multipart_uploads(Bucket=bucket).get("Uploads", ())]

    def stop(self):
        self.server.stop()
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._reset_clients()


@pytest.fixture(scope="session")
def s3_server():
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server):
    """The S3 server, and a fresh bucket for this test (``s3.name``)."""
    s3_server.name = s3_server.bucket()
    return s3_server
