"""The abalone pipeline deployed with boto3 alone, as a team deploys it to SageMaker.

Nothing here knows about ``serving``: it is boto3's ``sagemaker``, ``sagemaker-runtime`` and
``s3`` clients, and it runs against SageMaker itself or against ``serving api`` with
``AWS_ENDPOINT_URL`` pointing at it::

    serving api --port 8080 &
    AWS_ENDPOINT_URL=http://127.0.0.1:8080 python examples/from-sagemaker/api_boto3.py --bucket my-bucket

``AWS_ENDPOINT_URL`` is every service's endpoint, S3's too: S3 goes elsewhere through
``AWS_ENDPOINT_URL_S3`` (a local S3 server, MinIO, or ``https://s3.amazonaws.com``), which wins
over it for S3 alone.

It trains the featurizer and the regressor, uploads them and the featurizer's code to S3,
creates a two-container model (SageMaker's scikit-learn and XGBoost images), an endpoint
config and an endpoint; waits with boto3's waiter; invokes it; updates it to two instances
while a thread keeps invoking it; runs a transform job over S3 and waits for it; and deletes
everything. It prints one line per step and exits non-zero if any request failed.
"""

from __future__ import annotations

import argparse
import io
import tarfile
import threading
import time
from pathlib import Path

import boto3

from sdk_pipeline import HERE, REGION, ROLE, upload

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
NAME = "abalone"
ROWS = ["M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15", "F,0.53,0.42,0.135,0.677,0.2565,0.1415,0.21",
        "I,0.33,0.255,0.08,0.205,0.0895,0.0395,0.055"]


def upload_code(s3, bucket: str) -> str:
    """The featurizer's entry point as ``sourcedir.tar.gz``, as the SDK uploads it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(HERE / "code" / "featurizer.py", arcname="featurizer.py")
    s3.put_object(Bucket=bucket, Key="abalone/code/sourcedir.tar.gz", Body=buffer.getvalue())
    return f"s3://{bucket}/abalone/code/sourcedir.tar.gz"


def containers(uris: dict[str, str], code: str) -> list[dict]:
    return [
        {"Image": SKLEARN_IMAGE, "ModelDataUrl": uris["featurizer"],
         "Environment": {"SAGEMAKER_PROGRAM": "featurizer.py", "SAGEMAKER_SUBMIT_DIRECTORY": code,
                         "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}},
        {"Image": XGBOOST_IMAGE, "ModelDataUrl": uris["xgboost"]},
    ]


def variant(count: int) -> list[dict]:
    return [{"VariantName": "AllTraffic", "ModelName": NAME, "InitialInstanceCount": count,
             "InstanceType": "ml.m5.large"}]


def run(bucket: str, data: str | Path, out: str | Path) -> dict:
    """Every step in order; returns what the test checks (predictions, counts, statuses)."""
    session = boto3.Session(region_name=REGION)
    sm, runtime, s3 = session.client("sagemaker"), session.client("sagemaker-runtime"), session.client("s3")
    waiter_config = {"Delay": 1, "MaxAttempts": 300}
    result: dict = {}

    uris = upload(bucket, out, data)
    code = upload_code(s3, bucket)
    sm.create_model(ModelName=NAME, Containers=containers(uris, code), ExecutionRoleArn=ROLE)
    sm.create_endpoint_config(EndpointConfigName=f"{NAME}-1", ProductionVariants=variant(1))
    started = time.monotonic()
    sm.create_endpoint(EndpointName=NAME, EndpointConfigName=f"{NAME}-1")
    sm.get_waiter("endpoint_in_service").wait(EndpointName=NAME, WaiterConfig=waiter_config)
    result["in_service_seconds"] = time.monotonic() - started
    print(f"endpoint {NAME} is InService after {result['in_service_seconds']:.1f} s")

    def invoke() -> list[float]:
        answer = runtime.invoke_endpoint(EndpointName=NAME, ContentType="text/csv", Accept="text/csv",
                                         Body="\n".join(ROWS))
        return [float(v) for v in answer["Body"].read().decode().split()]

    result["predictions"] = invoke()
    print(f"predictions: {result['predictions']}")

    # an update to two instances while a client keeps invoking: no request may fail
    answers, failures, stop = [0], [], threading.Event()

    def keep_invoking() -> None:
        while not stop.is_set():
            try:
                invoke()
                answers[0] += 1
            except Exception as exc:  # noqa: BLE001 - counted; the run fails at the end
                failures.append(repr(exc))

    client = threading.Thread(target=keep_invoking)
    client.start()
    sm.create_endpoint_config(EndpointConfigName=f"{NAME}-2", ProductionVariants=variant(2))
    sm.update_endpoint(EndpointName=NAME, EndpointConfigName=f"{NAME}-2")
    sm.get_waiter("endpoint_in_service").wait(EndpointName=NAME, WaiterConfig=waiter_config)
    stop.set()
    client.join()
    described = sm.describe_endpoint(EndpointName=NAME)
    result.update(update_answers=answers[0], update_failures=failures,
                  instances=described["ProductionVariants"][0]["CurrentInstanceCount"],
                  config=described["EndpointConfigName"])
    print(f"updated to {result['config']} ({result['instances']} instances): {answers[0]} requests answered "
          f"during the update, {len(failures)} failed")

    s3.put_object(Bucket=bucket, Key="batch/in/abalone.csv", Body="\n".join(ROWS).encode())
    sm.create_transform_job(
        TransformJobName=f"{NAME}-batch", ModelName=NAME,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/batch/in/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{bucket}/batch/out/", "Accept": "text/csv", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName=f"{NAME}-batch",
                                                             WaiterConfig=waiter_config)
    job = sm.describe_transform_job(TransformJobName=f"{NAME}-batch")
    body = s3.get_object(Bucket=bucket, Key="batch/out/abalone.csv.out")["Body"].read().decode()
    result.update(job_status=job["TransformJobStatus"], batch=[float(v) for v in body.split()])
    print(f"transform job {job['TransformJobStatus']}: {len(result['batch'])} predictions")

    sm.delete_endpoint(EndpointName=NAME)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=NAME, WaiterConfig=waiter_config)
    for config in (f"{NAME}-1", f"{NAME}-2"):
        sm.delete_endpoint_config(EndpointConfigName=config)
    sm.delete_model(ModelName=NAME)
    result["left"] = {"endpoints": sm.list_endpoints()["Endpoints"], "models": sm.list_models()["Models"],
                      "configs": sm.list_endpoint_configs()["EndpointConfigs"]}
    print("deleted the endpoint, its configs and the model")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", required=True, help="the S3 bucket models, code and batch data go to")
    parser.add_argument("--out", default="build/api-boto3", help="where the trained models are written")
    parser.add_argument("--data", default=str(HERE.parents[1].parent / "shared" / "data" / "abalone.data"))
    args = parser.parse_args()
    result = run(args.bucket, args.data, args.out)
    return 1 if result["update_failures"] or result["job_status"] != "Completed" else 0


if __name__ == "__main__":
    raise SystemExit(main())
