"""Endpoints and jobs through ``serving api``: real containers (process backend), S3 on moto's server.

Expected predictions are scikit-learn's ``transform`` then ``xgboost.Booster.predict`` on the
same rows (:class:`tests.api.conftest.Abalone`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from serving.pipeline.backends import alive
from tests.conftest import ABALONE, REPO, free_port, wait_for

from .conftest import ROWS, client, start_api, wait_answering

pytestmark = pytest.mark.slow


def variant(model: str, count: int = 1) -> list[dict]:
    return [{"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": count,
             "InstanceType": "ml.m5.large"}]


def children(pid: int) -> list[int]:
    """Every process whose parent is ``pid`` (the container masters the service started)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def create_job(sm, name: str, model: str, where: str, output: dict | None = None, **request) -> None:
    """A transform job of ``model`` over the CSV files under ``<where>/in/``, written to ``<where>/out/``."""
    sm.create_transform_job(
        TransformJobName=name, ModelName=model,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{where}/in/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"{where}/out/", "Accept": "text/csv", **(output or {})},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1}, **request)


def wait_job(sm, name: str) -> dict:
    sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName=name,
                                                             WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
    return sm.describe_transform_job(TransformJobName=name)


def test_the_docs_quickstart_runs_the_boto3_script_unchanged(abalone, tmp_path):
    """docs/sagemaker-api.md's two commands, with a free port and the test's bucket."""
    doc = (REPO / "docs" / "sagemaker-api.md").read_text()
    assert "```sh\nserving api --port 8080\n```" in doc
    assert ("```sh\nAWS_ENDPOINT_URL=http://127.0.0.1:8080 python examples/from-sagemaker/api_boto3.py "
            "--bucket my-bucket\n```") in doc
    port = free_port()
    api = start_api(tmp_path, port)
    try:
        wait_answering(f"http://127.0.0.1:{port}", api)
        script = subprocess.run(
            [sys.executable, "examples/from-sagemaker/api_boto3.py", "--bucket", abalone.bucket,
             "--out", str(tmp_path / "build"), "--data", str(ABALONE)],
            cwd=REPO, env={**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"},
            capture_output=True, text=True, timeout=600)
        assert script.returncode == 0, script.stderr[-3000:]
    finally:
        api.terminate()
        assert api.wait(90) == 0
    lines = script.stdout.splitlines()
    assert re.fullmatch(r"endpoint abalone is InService after [\d.]+ s", lines[0])
    predictions = [float(v) for v in re.fullmatch(r"predictions: \[(.*)\]", lines[1]).group(1).split(", ")]
    assert predictions == abalone.expected("\n".join(load_rows()))
    assert re.fullmatch(r"updated to abalone-2 \(2 instances\): \d+ requests answered during the update, 0 failed",
                        lines[2])
    assert lines[3:] == ["transform job Completed: 3 predictions", "deleted the endpoint, its configs and the model"]
    batch = abalone.s3.get(f"s3://{abalone.bucket}/batch/out/abalone.csv.out").decode().split()
    assert [float(v) for v in batch] == predictions


def load_rows() -> list[str]:
    """The rows the example script sends."""
    import importlib

    return importlib.import_module("api_boto3").ROWS  # tests/api/conftest.py put its folder on sys.path


def test_two_copies_keep_answering_when_one_is_killed(api, abalone):
    api.sm.create_model(ModelName="copies", Containers=abalone.containers)
    api.sm.create_endpoint_config(EndpointConfigName="copies", ProductionVariants=variant("copies", 2))
    api.sm.create_endpoint(EndpointName="copies", EndpointConfigName="copies")
    described = api.wait("copies")
    assert [(v["CurrentInstanceCount"], v["DesiredInstanceCount"]) for v in described["ProductionVariants"]] == [(2, 2)]
    first = api.service.deployment("copies").instances[0]
    for container in first.endpoint.router.pipeline.containers:
        os.kill(container.pid, signal.SIGKILL)
    answers = [api.invoke("copies") for _ in range(20)]
    assert answers == [abalone.expected()] * 20
    wait_for(lambda: api.sm.describe_endpoint(EndpointName="copies")["ProductionVariants"][0]
             ["CurrentInstanceCount"] == 1, 30)
    summary = api.sm.describe_endpoint(EndpointName="copies")["ProductionVariants"][0]
    assert summary["VariantStatus"][0]["Status"] == "Updating"
    # restarting, or (on a busy machine the supervisor may already be past that) starting again
    assert re.match(r"instance 1: container container-\d (exited with code -9 and is restarting|is starting)",
                    summary["VariantStatus"][0]["StatusMessage"]), summary["VariantStatus"]
    wait_for(lambda: api.sm.describe_endpoint(EndpointName="copies")["ProductionVariants"][0]
             ["CurrentInstanceCount"] == 2, 120)
    api.sm.delete_endpoint(EndpointName="copies")
    api.wait("copies", "endpoint_deleted")


def test_an_endpoint_whose_model_is_missing_fails_naming_it(api, abalone):
    containers = [abalone.containers[0], {**abalone.containers[1],
                                          "ModelDataUrl": f"s3://{abalone.bucket}/abalone/xgboost/gone.tar.gz"}]
    api.sm.create_model(ModelName="missing-data", Containers=containers)
    api.sm.create_endpoint_config(EndpointConfigName="missing-data", ProductionVariants=variant("missing-data"))
    api.sm.create_endpoint(EndpointName="missing-data", EndpointConfigName="missing-data")
    wait_for(lambda: api.sm.describe_endpoint(EndpointName="missing-data")["EndpointStatus"] != "Creating", 120)
    described = api.sm.describe_endpoint(EndpointName="missing-data")
    assert (described["EndpointStatus"], described["FailureReason"]) == ("Failed", (
        f"container container-2: cannot read s3://{abalone.bucket}/abalone/xgboost/gone.tar.gz: S3 said NoSuchKey "
        "(the object does not exist), HTTP 404"))
    with pytest.raises(api.runtime.exceptions.ValidationError) as caught:
        api.invoke("missing-data")
    assert caught.value.response["Error"]["Message"] == (
        "Endpoint missing-data of account 123456789012 is Failed, not InService; it takes requests once "
        "DescribeEndpoint says InService.")
    api.sm.delete_endpoint(EndpointName="missing-data")
    api.wait("missing-data", "endpoint_deleted")


def test_a_failed_update_leaves_the_old_deployment_serving(api, abalone):
    api.sm.create_model(ModelName="stays", Containers=abalone.containers)
    api.sm.create_model(ModelName="broken", Containers=[
        abalone.containers[0], {**abalone.containers[1], "ModelDataUrl": abalone.uris["featurizer"]}])
    api.sm.create_endpoint_config(EndpointConfigName="stays", ProductionVariants=variant("stays"))
    api.sm.create_endpoint_config(EndpointConfigName="broken", ProductionVariants=variant("broken"))
    api.sm.create_endpoint(EndpointName="stays", EndpointConfigName="stays")
    api.wait("stays")
    api.sm.update_endpoint(EndpointName="stays", EndpointConfigName="broken")
    assert api.sm.describe_endpoint(EndpointName="stays")["EndpointStatus"] == "Updating"
    assert api.invoke("stays") == abalone.expected()  # the old deployment serves during the update
    wait_for(lambda: api.sm.describe_endpoint(EndpointName="stays")["EndpointStatus"] != "Updating", 180)
    described = api.sm.describe_endpoint(EndpointName="stays")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "stays")
    assert "container-2" in described["FailureReason"]
    assert api.invoke("stays") == abalone.expected()
    api.sm.delete_endpoint(EndpointName="stays")
    api.wait("stays", "endpoint_deleted")


def test_a_killed_service_loses_nothing_and_leaves_no_container(abalone, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    api = start_api(tmp_path, port)
    try:
        wait_answering(url, api)
        sm, runtime = client("sagemaker", url), client("sagemaker-runtime", url)
        sm.create_model(ModelName="durable", Containers=abalone.containers)
        sm.create_endpoint_config(EndpointConfigName="durable", ProductionVariants=variant("durable"))
        sm.create_endpoint(EndpointName="durable", EndpointConfigName="durable")
        sm.get_waiter("endpoint_in_service").wait(EndpointName="durable", WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
        containers = children(api.pid)
        assert len(containers) == 2
        api.send_signal(signal.SIGKILL)
        api.wait(10)
        wait_for(lambda: not any(alive(pid) for pid in containers), 60)  # they die with the service

        api = start_api(tmp_path, port)
        wait_answering(url, api)
        assert [m["ModelName"] for m in sm.list_models()["Models"]] == ["durable"]
        # until its containers answer again (seconds), the endpoint is SystemUpdating, and the waiter waits
        assert sm.describe_endpoint(EndpointName="durable")["EndpointStatus"] == "SystemUpdating"
        sm.get_waiter("endpoint_in_service").wait(EndpointName="durable", WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
        assert len(children(api.pid)) == 2
        assert runtime_answers(runtime, abalone)  # brought back up, answering again
        sm.delete_endpoint(EndpointName="durable")
        sm.get_waiter("endpoint_deleted").wait(EndpointName="durable", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    finally:
        api.terminate()
        api.wait(90)


def runtime_answers(runtime, abalone) -> bool:
    try:
        answer = runtime.invoke_endpoint(EndpointName="durable", Body="\n".join(ROWS), ContentType="text/csv",
                                         Accept="text/csv")
    except runtime.exceptions.ClientError:
        return False
    return [float(v) for v in answer["Body"].read().decode().split()] == abalone.expected()


def test_a_stopped_transform_job_is_stopped(api, abalone):
    api.sm.create_model(ModelName="stopped-batch", Containers=abalone.containers)
    for i in range(20):
        abalone.s3.put(f"s3://{abalone.bucket}/stop/in/part-{i:02}.csv", "\n".join(ROWS).encode())
    create_job(api.sm, "stopped", "stopped-batch", f"s3://{abalone.bucket}/stop")
    api.sm.stop_transform_job(TransformJobName="stopped")
    assert api.sm.describe_transform_job(TransformJobName="stopped")["TransformJobStatus"] == "Stopping"
    assert wait_job(api.sm, "stopped")["TransformJobStatus"] == "Stopped"
    written = [k for k in abalone.s3.keys(abalone.bucket, "stop/out/") if k.endswith(".csv.out")]
    assert len(written) < 20
    summaries = api.sm.list_transform_jobs(StatusEquals="Stopped")["TransformJobSummaries"]
    assert [s["TransformJobName"] for s in summaries] == ["stopped"]


def test_a_job_filters_its_input_and_joins_it_with_the_output(api, abalone):
    """DataProcessing as the public pipeline examples use it: abalone rows with their label (9 columns),
    the 8 features sent, the label and the prediction written."""
    labelled = ABALONE.read_text().splitlines()[:40]
    abalone.s3.put(f"s3://{abalone.bucket}/joined/in/labelled.csv", ("\n".join(labelled) + "\n").encode())
    api.sm.create_model(ModelName="joined", Containers=abalone.containers)
    processing = {"InputFilter": "$[0:7]", "JoinSource": "Input", "OutputFilter": "$[8,-1]"}
    create_job(api.sm, "joined", "joined", f"s3://{abalone.bucket}/joined", output={"AssembleWith": "Line"},
               DataProcessing=processing)
    job = wait_job(api.sm, "joined")
    assert (job["TransformJobStatus"], job["DataProcessing"]) == ("Completed", processing), job.get("FailureReason")
    written = [line.split(",") for line in abalone.s3.get(f"s3://{abalone.bucket}/joined/out/labelled.csv.out")
               .decode().splitlines()]
    assert [w[0] for w in written] == [row.split(",")[8] for row in labelled]
    features = "\n".join(row.rsplit(",", 1)[0] for row in labelled)
    assert [float(w[1]) for w in written] == abalone.expected(features)


def test_a_request_running_when_its_endpoint_is_deleted_is_answered(api, abalone):
    import threading

    api.sm.create_model(ModelName="deleted-busy", Containers=abalone.containers)
    api.sm.create_endpoint_config(EndpointConfigName="deleted-busy", ProductionVariants=variant("deleted-busy"))
    api.sm.create_endpoint(EndpointName="deleted-busy", EndpointConfigName="deleted-busy")
    api.wait("deleted-busy")
    body = "\n".join(ROWS * 5_000)  # 25,000 rows (3.8 MB between the containers): a request that takes a while
    answers: list = []
    def call():
        try:
            answers.append(api.invoke("deleted-busy", body))
        except Exception as exc:  # noqa: BLE001 - shown by the assertion below
            answers.append(exc)

    request = threading.Thread(target=call)
    request.start()
    wait_for(lambda: api.service.deployment("deleted-busy").instances[0].pipeline.inflight >= 1, 10)
    api.sm.delete_endpoint(EndpointName="deleted-busy")
    assert api.sm.describe_endpoint(EndpointName="deleted-busy")["EndpointStatus"] == "Deleting"
    request.join(120)
    assert answers == [abalone.expected() * 5_000], answers[0] if answers and isinstance(answers[0], Exception) else ""
    api.wait("deleted-busy", "endpoint_deleted")
    with pytest.raises(api.runtime.exceptions.ValidationError):
        api.invoke("deleted-busy")


def test_a_job_running_when_the_service_is_stopped_resumes_at_the_next_start(abalone, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    for i in range(30):
        abalone.s3.put(f"s3://{abalone.bucket}/resume/in/part-{i:02}.csv", "\n".join(ROWS).encode())
    api = start_api(tmp_path, port)
    try:
        wait_answering(url, api)
        sm = client("sagemaker", url)
        sm.create_model(ModelName="resumed", Containers=abalone.containers)
        create_job(sm, "resumed", "resumed", f"s3://{abalone.bucket}/resume")
        wait_for(lambda: any(k.endswith(".out") for k in abalone.s3.keys(abalone.bucket, "resume/out/")), 120)
        api.terminate()  # SIGTERM: a shutdown, not a StopTransformJob
        assert api.wait(120) == 0
        written = [k for k in abalone.s3.keys(abalone.bucket, "resume/out/") if k.endswith(".out")]
        api = start_api(tmp_path, port)
        wait_answering(url, api)
        assert sm.describe_transform_job(TransformJobName="resumed")["TransformJobStatus"] in ("InProgress", "Completed")
        assert wait_job(sm, "resumed")["TransformJobStatus"] == "Completed"
        outputs = [k for k in abalone.s3.keys(abalone.bucket, "resume/out/") if k.endswith(".out")]
        assert len(written) < 30 and len(outputs) == 30
        assert [float(v) for v in abalone.s3.get(f"s3://{abalone.bucket}/{outputs[-1]}").decode().split()] == (
            abalone.expected())
    finally:
        api.terminate()
        api.wait(90)
