"""Starting the SageMaker SDK's abalone pipeline from S3: first start against a warm cache.

The spec is what ``examples/from-sagemaker/sdk_pipeline.py`` writes (AWS image URIs; the two
``model.tar.gz`` files and the ``sourcedir.tar.gz`` in S3). S3 is moto's server on loopback,
so what is timed is our side of it: the HEADs, the download, the checks and the extraction
(cold), or the HEADs alone (warm), and the time until every container answers ``/ping``.
The baseline in the same run is the same pipeline from local folders (no S3 at all).

    .venv/bin/python bench/s3_start.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serving.pipeline import spec as specs  # noqa: E402
from serving.pipeline.endpoint import Endpoint  # noqa: E402
from tests.conftest import ABALONE, S3Server, load_example  # noqa: E402


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    server = S3Server()
    work = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    try:
        path = load_example("from-sagemaker/sdk_pipeline.py").build(server.bucket(), work, ABALONE)
        spec = specs.load(path)
        raw = json.loads(path.read_text())
        local = raw | {"Containers": [dict(raw["Containers"][0], ModelDataUrl=str(work / "models" / "featurizer")),
                                      dict(raw["Containers"][1], ModelDataUrl=str(work / "models" / "xgboost-regressor"))]}
        code = work / "code"
        shutil.copytree(REPO / "examples" / "from-sagemaker" / "code", code)
        local["Containers"][0]["Environment"] = dict(local["Containers"][0]["Environment"],
                                                     SAGEMAKER_SUBMIT_DIRECTORY=str(code))
        local_spec = specs.from_dict(local)
        cache = work / "home" / "cache"
        os.environ["SERVING_HOME"] = str(work / "home")
        rows = {"fetch, cold cache": [], "fetch, warm cache": [], "up, local folders": [], "up, S3, warm cache": []}
        for _ in range(args.rounds):  # interleaved, so a slow stretch of the machine hits every row
            shutil.rmtree(cache, ignore_errors=True)
            rows["fetch, cold cache"].append(timed(spec.fetched))
            rows["fetch, warm cache"].append(timed(spec.fetched))
            for name, which in (("up, local folders", local_spec), ("up, S3, warm cache", spec)):
                endpoint = Endpoint(which, name="bench-s3", port=0, register=False, workers=1, stop_grace=5)
                rows[name].append(timed(endpoint.start))
                endpoint.down()
        print(f"{'':24} {'median ms':>10} {'min':>8} {'max':>8}  ({args.rounds} rounds)")
        for name, samples in rows.items():
            print(f"{name:24} {statistics.median(samples):10.1f} {min(samples):8.1f} {max(samples):8.1f}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
