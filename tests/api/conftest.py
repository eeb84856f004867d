"""A real ``serving api`` on a loopback port, boto3 clients pointed at it, and the abalone
artifacts in moto's S3 (tests/conftest.py), uploaded as examples/from-sagemaker/api_boto3.py does."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import boto3
import joblib
import pandas as pd
import pytest
import requests
import xgboost as xgb
from botocore.config import Config

from serving.api.app import ApiServer
from tests.conftest import ABALONE, REPO, load_example, wait_for

sys.path.insert(0, str(REPO / "examples" / "from-sagemaker"))  # api_boto3 imports sdk_pipeline
ROWS = [",".join(line.split(",")[:8]) for line in ABALONE.read_text().splitlines()[:5]]
BODY = "\n".join(ROWS)


def example():
    return load_example("from-sagemaker/api_boto3.py")


class Abalone:
    """The uploaded artifacts and what they predict (scikit-learn's transform, then xgboost's Booster)."""

    def __init__(self, s3_server, out):
        self.s3 = s3_server
        self.bucket = s3_server.bucket()
        module = example()
        self.uris = module.upload(self.bucket, out, ABALONE)
        self.code = module.upload_code(s3_server.client, self.bucket)
        self.containers = module.containers(self.uris, self.code)
        self.models = out / "models"

    def expected(self, body: str = BODY) -> list[float]:
        names = load_example("abalone/train.py").FEATURES
        frame = pd.read_csv(io.StringIO(body), header=None, names=names)
        features = joblib.load(self.models / "featurizer" / "model.joblib").transform(frame)
        booster = xgb.Booster()
        booster.load_model(str(self.models / "xgboost-regressor" / "xgboost-model"))
        return booster.predict(xgb.DMatrix(features)).tolist()


@pytest.fixture(scope="module")
def abalone(s3_server, tmp_path_factory):
    return Abalone(s3_server, tmp_path_factory.mktemp("api-abalone"))


class Api:
    def __init__(self, home, **options):
        self.server = ApiServer(port=0, home=str(home), workers=1, **options)
        self.server.start()
        self.url = self.server.url
        self.sm = client("sagemaker", self.url)
        self.raw = client("sagemaker", self.url, parameter_validation=False)  # what boto3 would refuse itself
        self.runtime = client("sagemaker-runtime", self.url)
        self.service = self.server.service

    def wait(self, endpoint: str, waiter: str = "endpoint_in_service") -> dict | None:
        self.sm.get_waiter(waiter).wait(EndpointName=endpoint, WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
        return self.sm.describe_endpoint(EndpointName=endpoint) if waiter == "endpoint_in_service" else None

    def invoke(self, endpoint: str, body: str = BODY, **options) -> list[float]:
        answer = self.runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType="text/csv",
                                              Accept="text/csv", **options)
        return [float(v) for v in answer["Body"].read().decode().split()]

    def stop(self):
        self.server.stop()


def start_api(home: Path, port: int, *options: str) -> subprocess.Popen:
    """``serving api`` as a user starts it (the docs' command, on a free port)."""
    log = open(Path(home) / f"api-{port}.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "serving.cli", "api", "--port", str(port), "--workers", "1", *options],
                            cwd=REPO, env={**os.environ, "SERVING_HOME": str(home)}, stdout=log, stderr=log)


def wait_answering(url: str, process: subprocess.Popen) -> None:
    def up() -> bool:
        assert process.poll() is None, f"serving api exited with {process.returncode}"
        try:
            return requests.get(url + "/ping", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False
    wait_for(up, 60)


def client(service: str, url: str, **config):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 1}, read_timeout=120, **config))


@pytest.fixture(scope="module")
def api(s3_server, tmp_path_factory):
    server = Api(tmp_path_factory.mktemp("api-home"), startup_timeout=60)
    yield server
    server.stop()
