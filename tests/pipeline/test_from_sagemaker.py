"""A pipeline defined with the SageMaker SDK runs unchanged: AWS image URIs, S3 artifacts.

``examples/from-sagemaker/sdk_pipeline.py`` builds the container list exactly as the SageMaker
SDK does for a ``PipelineModel`` (its ``SKLearnModel`` uploads the entry point as
``sourcedir.tar.gz``); S3 is moto's server on loopback, reached over HTTP through
``AWS_ENDPOINT_URL_S3``. Expected answers are scikit-learn's ``transform`` and
``xgboost.Booster.predict`` on the same rows.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shlex
import subprocess
import sys

import joblib
import pandas as pd
import pytest
import requests
import sklearn
import xgboost as xgb

from serving.errors import ConfigurationError
from serving.pipeline import spec as specs
from serving.pipeline.endpoint import Endpoint
from tests.conftest import ABALONE, REPO, ServerProcess, load_example

from .test_cli import start, wait_registered

ROWS = ABALONE.read_text().splitlines()[:25]
BODY = "\n".join(",".join(line.split(",")[:8]) for line in ROWS)


@pytest.fixture(scope="module")
def built(s3_server, tmp_path_factory):
    """(pipeline.json written from the SDK's container list, the bucket, the trained model folders)."""
    bucket = s3_server.bucket()
    out = tmp_path_factory.mktemp("from-sagemaker")
    sdk = load_example("from-sagemaker/sdk_pipeline.py")
    path = sdk.build(bucket, out, ABALONE)
    return path, bucket, out / "models"


def expected(models) -> list[float]:
    abalone = load_example("abalone/train.py")
    frame = pd.read_csv(io.StringIO(BODY), header=None, names=abalone.FEATURES)
    features = joblib.load(models / "featurizer" / "model.joblib").transform(frame)
    booster = xgb.Booster()
    booster.load_model(str(models / "xgboost-regressor" / "xgboost-model"))
    return booster.predict(xgb.DMatrix(features)).tolist()


def test_the_sdk_container_list_is_what_sagemaker_gets(built):
    path, bucket, _ = built
    containers = json.loads(path.read_text())["Containers"]
    assert [c["Image"] for c in containers] == [
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"]
    assert [c["ModelDataUrl"] for c in containers] == [f"s3://{bucket}/abalone/featurizer/model.tar.gz",
                                                      f"s3://{bucket}/abalone/xgboost/model.tar.gz"]
    assert containers[0]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"].startswith(f"s3://{bucket}/abalone/code/")
    assert containers[0]["Environment"]["SAGEMAKER_PROGRAM"] == "featurizer.py"


def test_serving_endpoint_up_serves_it_unchanged(built):
    path, _, models = built
    process = start(str(path), "--port", "0", "--workers", "1")  # the variables: only where S3 is, and test keys
    try:
        entry = wait_registered("abalone-from-sagemaker", process)
        r = requests.post(entry["url"] + "/invocations", data=BODY, headers={"Content-Type": "text/csv"}, timeout=30)
        assert (r.status_code, r.headers["Content-Type"]) == (200, "text/csv"), r.text
        assert [float(v) for v in r.text.splitlines()] == expected(models)
    finally:
        process.terminate()
        assert process.wait(60) == 0


def test_a_second_start_reuses_what_is_cached(built, caplog):
    path, _, models = built
    spec = specs.load(path)
    with caplog.at_level(logging.INFO, logger="serving"):
        for n in range(2):
            caplog.clear()
            with Endpoint.up(spec, name=f"cached-{n}", port=0, workers=1, register=False) as ep:
                r = requests.post(ep.url + "/invocations", data=BODY, headers={"Content-Type": "text/csv"}, timeout=30)
                assert [float(v) for v in r.text.splitlines()] == expected(models)
    # the first start may or may not have found them cached by the other tests of this module; the second must
    assert len([m for m in caplog.messages if "is unchanged since it was cached" in m]) == 3
    assert [m for m in caplog.messages if m.startswith("downloading")] == []
    assert (f"[cached-1] {path}: container 1 (container-1): 683313688378.dkr.ecr.us-east-1.amazonaws.com/"
            f"sagemaker-scikit-learn:1.2-1-cpu-py3 serves scikit-learn 1.2 and scikit-learn {sklearn.__version__} "
            "is installed here") in "\n".join(caplog.messages)


def test_a_model_that_is_not_there_fails_the_start_naming_it(built, s3_server):
    path, bucket, _ = built
    raw = json.loads(path.read_text())
    raw["Containers"][1]["ModelDataUrl"] = f"s3://{bucket}/abalone/xgboost/missing.tar.gz"
    with pytest.raises(ConfigurationError) as caught:
        Endpoint.up(specs.from_dict(raw), name="missing", port=0, register=False)
    assert str(caught.value) == (f"container container-2: cannot read s3://{bucket}/abalone/xgboost/missing.tar.gz: "
                                 "S3 said NoSuchKey (the object does not exist), HTTP 404")


def test_an_uncompressed_model_under_a_prefix(built, s3_server):
    path, bucket, models = built
    for name in ("xgboost-model",):
        s3_server.put(f"s3://{bucket}/plain/xgboost/{name}", (models / "xgboost-regressor" / name).read_bytes())
    raw = json.loads(path.read_text())
    del raw["Containers"][1]["ModelDataUrl"]
    raw["Containers"][1]["ModelDataSource"] = {"S3DataSource": {
        "S3Uri": f"s3://{bucket}/plain/xgboost/", "S3DataType": "S3Prefix", "CompressionType": "None"}}
    spec = specs.from_dict(raw)
    assert spec.to_dict()["Containers"][1]["ModelDataSource"] == raw["Containers"][1]["ModelDataSource"]
    with Endpoint.up(spec, name="prefix-model", port=0, workers=1, register=False) as ep:
        r = requests.post(ep.url + "/invocations", data=BODY, headers={"Content-Type": "text/csv"}, timeout=30)
        assert [float(v) for v in r.text.splitlines()] == expected(models)


def test_a_container_downloads_an_s3_submit_directory_itself(built, s3_server, tmp_path):
    """As the AWS containers do, when ``serving serve`` runs alone (on SageMaker, or docker run)."""
    path, bucket, models = built
    submit = json.loads(path.read_text())["Containers"][0]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"]
    server = ServerProcess(models / "featurizer", env={"SAGEMAKER_SUBMIT_DIRECTORY": submit,
                                                      "SAGEMAKER_PROGRAM": "featurizer.py"})
    try:
        r = server.invoke(BODY, accept="application/json")
        assert r.status_code == 200, server.log()
        features = joblib.load(models / "featurizer" / "model.joblib").transform(
            pd.read_csv(io.StringIO(BODY), header=None, names=load_example("abalone/train.py").FEATURES))
        assert r.json() == {"instances": [{"features": row} for row in features.tolist()]}
    finally:
        server.stop()


def test_an_s3_submit_directory_that_is_not_an_archive(s3_server, tmp_path):
    bucket = s3_server.bucket()
    s3_server.put(f"s3://{bucket}/code/sourcedir.tar.gz", b"not an archive")
    code = ("from serving.handlers.script import find_script\ntry:\n"
            f"    find_script('/tmp', 'x.py', 's3://{bucket}/code/sourcedir.tar.gz')\n"
            "except Exception as e:\n    print(type(e).__name__, e)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith(f"ConfigurationError SAGEMAKER_SUBMIT_DIRECTORY s3://{bucket}/code/sourcedir.tar.gz "
                                 "is not a model archive SageMaker could read: it is not a readable tar archive")


# -- docs/from-sagemaker.md ------------------------------------------------------------------
PAGE = REPO / "docs" / "from-sagemaker.md"
COMMANDS = [line[2:] for block in re.findall(r"```console\n(.*?)```", PAGE.read_text(), re.S)
            for line in block.splitlines() if line.startswith("$ ")]


def test_the_pages_commands_run_as_shown(s3_server, tmp_path, serving_home):
    """Run in a folder holding ``examples/`` as the page's paths expect, against the local S3 server."""
    assert [c.split()[:3] for c in COMMANDS] == [
        ["python", "examples/from-sagemaker/sdk_pipeline.py", "--bucket"], ["serving", "endpoint", "up"],
        ["serving", "endpoint", "invoke"], ["serving", "endpoint", "down"], ["serving", "transform", "--model"]]
    s3_server.client.create_bucket(Bucket="my-models")
    s3_server.put("s3://my-models/abalone/batch/rows.csv", BODY.encode() + b"\n")
    (tmp_path / "examples").symlink_to(REPO / "examples")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    background = None
    outputs = []
    try:
        for command in COMMANDS:
            args = shlex.split(command.removesuffix(" &"))
            args = [sys.executable, *args[1:]] if args[0] == "python" else [sys.executable, "-m", "serving.cli", *args[1:]]
            if command.endswith("&"):  # the endpoint: on a free port, not the page's 8080
                args[args.index("--port") + 1] = "0"
                background = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.PIPE, text=True)
                wait_registered("abalone-from-sagemaker", background)
                continue
            done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr[-3000:]
            outputs.append(done.stdout)
        assert background.wait(90) == 0
    finally:
        if background is not None and background.poll() is None:
            background.kill()
    assert outputs[0].splitlines()[-1] == "wrote build/from-sagemaker/pipeline.json"  # after the SDK's own lines
    row = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"
    abalone = load_example("abalone/train.py")
    models = tmp_path / "build" / "from-sagemaker" / "models"
    features = joblib.load(models / "featurizer" / "model.joblib").transform(
        pd.read_csv(io.StringIO(row), header=None, names=abalone.FEATURES))
    booster = xgb.Booster()
    booster.load_model(str(models / "xgboost-regressor" / "xgboost-model"))
    assert float(outputs[1]) == booster.predict(xgb.DMatrix(features)).tolist()[0]
    assert outputs[3].startswith("transform: 1 file(s): 1 written, 0 skipped, 0 failed; 25 records in ")
    assert s3_server.keys("my-models", "abalone/predictions/") == [
        "abalone/predictions/.transform-manifest.json", "abalone/predictions/rows.csv.out",
        "abalone/predictions/transform-report.json"]
    scored = s3_server.get("s3://my-models/abalone/predictions/rows.csv.out").decode()
    assert [float(v) for v in scored.splitlines()] == expected(models)
