"""``serving api`` against the plain router: start time, invoke latency and throughput, in one run.

The abalone pipeline as ``examples/from-sagemaker/api_boto3.py`` deploys it (SageMaker's
scikit-learn featurizer with its ``sourcedir.tar.gz`` script, then XGBoost), its artifacts
uploaded by that example's own functions to moto's S3 server on loopback. ``serving api``
runs in this process (``ApiServer``, one gunicorn worker per container), spoken to with boto3:

- CreateEndpoint to InService, DescribeEndpoint polled every 0.05 s, one instance, over
  ``--rounds`` create/delete cycles (a new endpoint name each; the next round starts once
  boto3's ``endpoint_deleted`` waiter returns), against ``Endpoint.start()`` of the same spec
  in the same rounds; the S3 cache is warm for both (the artifacts are fetched once first);
- InvokeEndpoint (``POST /endpoints/<name>/invocations``) at concurrency 1 against
  ``POST /invocations`` on the router of ``Endpoint.up(spec, port=0, workers=1,
  register=False)``, the same spec from the same ``Containers`` list, also in this process;
- throughput at concurrency 16 of an endpoint with ``InitialInstanceCount`` 2 against one
  with 1 (and the plain router's, for reference).

Every endpoint is up for the whole of the invoke measurements, so idle ones cost every row
alike. The load generator is wrk (Debian's), one abalone CSV row a request, ``--seconds``
each, after a one-second warm-up; it shares the machine's cores with everything measured.

    .venv/bin/python bench/api.py [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO / "examples" / "from-sagemaker"))  # api_boto3 imports sdk_pipeline

from s3_start import timed  # noqa: E402
from serving.api.app import ApiServer  # noqa: E402
from serving.pipeline import spec as specs  # noqa: E402
from serving.pipeline.endpoint import Endpoint  # noqa: E402
from tests.api.conftest import client  # noqa: E402
from tests.conftest import ABALONE, S3Server, load_example  # noqa: E402
from xgboost_container import wrk  # noqa: E402

POLL = 0.05


def in_service(sm, name: str, timeout: float = 240.0) -> None:
    """Poll DescribeEndpoint every POLL s until InService; raise on Failed or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sm.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] == "InService":
            return
        if described["EndpointStatus"] == "Failed":
            raise RuntimeError(f"endpoint {name} failed: {described.get('FailureReason')}")
        time.sleep(POLL)
    raise RuntimeError(f"endpoint {name} was not InService within {timeout:g} s")


def deleted(sm, name: str) -> None:
    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})


def post(url: str, body: bytes) -> bytes:
    request = urllib.request.Request(url, body, {"Content-Type": "text/csv"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="create/delete cycles; the median is reported")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    os.environ["SERVING_HOME"] = str(work / "home")
    s3 = S3Server()
    api = plain = None
    try:
        example = load_example("from-sagemaker/api_boto3.py")
        bucket = s3.bucket()
        uris = example.upload(bucket, work, ABALONE)
        containers = example.containers(uris, example.upload_code(s3.client, bucket))
        spec = specs.from_dict({"Containers": containers})
        spec.fetched()  # the S3 cache is warm for every start below
        body = (example.ROWS[0] + "\n").encode()

        api = ApiServer(port=0, home=str(work / "home"), workers=1)
        api.start()
        sm = client("sagemaker", api.url)
        sm.create_model(ModelName=example.NAME, Containers=containers, ExecutionRoleArn=example.ROLE)
        for count in (1, 2):
            sm.create_endpoint_config(EndpointConfigName=f"bench-{count}", ProductionVariants=example.variant(count))

        starts: dict[str, list[float]] = {"api": [], "plain": []}
        for n in range(args.rounds):  # interleaved, so a slow stretch of the machine hits both
            name = f"bench-start-{n}"
            started = time.perf_counter()
            sm.create_endpoint(EndpointName=name, EndpointConfigName="bench-1")
            in_service(sm, name)
            starts["api"].append((time.perf_counter() - started) * 1e3)
            deleted(sm, name)
            endpoint = Endpoint(spec, name="bench-plain", port=0, workers=1, register=False)
            try:
                starts["plain"].append(timed(endpoint.start))
            finally:
                endpoint.down()

        for count in (1, 2):
            sm.create_endpoint(EndpointName=f"bench-x{count}", EndpointConfigName=f"bench-{count}")
        plain = Endpoint.up(spec, port=0, workers=1, register=False)
        for count in (1, 2):
            in_service(sm, f"bench-x{count}")
        urls = {"plain": f"{plain.url}/invocations",
                **{f"api x{count}": f"{api.url}/endpoints/bench-x{count}/invocations" for count in (1, 2)}}
        answers = {label: post(url, body) for label, url in urls.items()}
        if len(set(answers.values())) != 1:
            raise RuntimeError(f"the endpoints answer differently: {answers}")

        runs = [("api x1", 1), ("plain", 1), ("api x1", 16), ("api x2", 16), ("plain", 16)]
        results = {}
        for label, connections in runs:
            wrk(urls[label], body, "text/csv", connections, 1, work)  # warm-up: every worker, pool and instance
            results[label, connections] = wrk(urls[label], body, "text/csv", connections, args.seconds, work)
    finally:
        try:
            if plain is not None:
                plain.down()
        finally:
            try:
                if api is not None:
                    api.stop()
            finally:
                s3.stop()
                shutil.rmtree(work, ignore_errors=True)

    api_start, plain_start = statistics.median(starts["api"]), statistics.median(starts["plain"])
    api1, plain1 = results["api x1", 1], results["plain", 1]
    one, two = results["api x1", 16], results["api x2", 16]

    def rounds(samples: list[float]) -> str:
        return f"{statistics.median(samples):.0f} ({', '.join(f'{s:.0f}' for s in samples)})"

    def load(r: dict) -> str:
        return f"{r['p50']:.2f} | {r['p99']:.2f} | {r['rps']:.0f}"

    print(f"abalone pipeline (sklearn featurizer + XGBoost), 1 worker per container; {args.rounds} start rounds, "
          f"wrk {args.seconds} s per row\n")
    print("| measurement | setup | median ms (per round) / p50 ms | p99 ms | req/s | ratio |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    print(f"| start to healthy, warm S3 cache | serving api: CreateEndpoint → InService (polled every {POLL} s) "
          f"| {rounds(starts['api'])} | — | — | {api_start / plain_start:.2f}× plain |")
    print(f"| start to healthy, warm S3 cache | plain: `Endpoint.start()` | {rounds(starts['plain'])} | — | — | |")
    print(f"| invoke, concurrency 1 | serving api, 1 instance | {load(api1)} | "
          f"p50 {api1['p50'] / plain1['p50']:.2f}×, req/s {api1['rps'] / plain1['rps']:.2f}× plain |")
    print(f"| invoke, concurrency 1 | plain router | {load(plain1)} | |")
    print(f"| invoke, concurrency 16 | serving api, 1 instance | {load(one)} | |")
    print(f"| invoke, concurrency 16 | serving api, 2 instances | {load(two)} | req/s {two['rps'] / one['rps']:.2f}× "
          "1 instance |")
    print(f"| invoke, concurrency 16 | plain router | {load(results['plain', 16])} | api 1 instance req/s "
          f"{one['rps'] / results['plain', 16]['rps']:.2f}× plain |")


if __name__ == "__main__":
    main()
