"""`make demo`: train the abalone models and serve them as a real serial inference pipeline.

1. trains the featurizer and the regressor of the public SageMaker pipeline example into
   ``build/abalone`` (where ``examples/abalone/pipeline.yaml`` expects them);
2. brings the pipeline up with the process backend: featurizer -> regressor ->
   post-processor, three real containers behind one router;
3. sends real abalone rows through it (CSV in, JSON out) and prints the predicted rings and
   age next to the true rings;
4. sends one deliberately bad request and prints the 424 the pipeline answers;
5. prints the endpoint's metrics, and stops everything.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import requests

from serving.pipeline import spec as specs
from serving.pipeline.endpoint import Endpoint

HERE = Path(__file__).resolve().parent


def load_train():
    spec = importlib.util.spec_from_file_location("abalone_train", HERE / "abalone" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pipeline_spec(build: Path) -> specs.PipelineSpec:
    """examples/abalone/pipeline.yaml, with the models taken from ``build``."""
    import yaml

    raw = yaml.safe_load((HERE / "abalone" / "pipeline.yaml").read_text())
    raw["Containers"][0]["ModelDataUrl"] = str(build / "featurizer")
    raw["Containers"][1]["ModelDataUrl"] = str(build / "regressor")
    return specs.from_dict(raw, base_dir=HERE / "abalone", source="examples/abalone/pipeline.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data" / "abalone.data"))
    parser.add_argument("--build", default="build")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--port", type=int, default=0, help="router port (0: any free port)")
    args = parser.parse_args()

    build = Path(args.build).resolve() / "abalone"
    for path in load_train().train(args.data, build):
        print(f"trained {path}")

    with Endpoint.up(pipeline_spec(build), name="abalone-demo", port=args.port, workers=1, register=False) as ep:
        print(f"\npipeline featurizer -> regressor -> postprocessor is serving at {ep.url}/invocations")
        lines = Path(args.data).read_text().splitlines()[: args.rows]
        body = "\n".join(",".join(line.split(",")[:8]) for line in lines)
        r = requests.post(ep.url + "/invocations", data=body,
                          headers={"Content-Type": "text/csv", "Accept": "application/json"})
        r.raise_for_status()
        print(f"POST {len(lines)} CSV rows -> {r.status_code} {r.headers['Content-Type']}\n")
        print(f"{'input row':<48} {'true rings':>10} {'predicted':>9} {'age (y)':>8}")
        for line, p in zip(lines, r.json()["predictions"]):
            print(f"{','.join(line.split(',')[:8]):<48} {line.split(',')[8]:>10} {p['rings']:>9.2f} {p['age']:>8.2f}")

        bad = requests.post(ep.url + "/invocations", data="M,0.455,0.365", headers={"Content-Type": "text/csv"})
        print(f"\na bad request (3 columns) gets {bad.status_code} {bad.headers.get('x-amzn-ErrorType', '')}:")
        print(json.dumps(bad.json(), indent=2))

        metrics = requests.get(ep.url + "/metrics").text
        print("\nmetrics (excerpt):")
        for line in metrics.splitlines():
            if line.startswith(("sagemaker_invocations_total", "sagemaker_invocation_4xx", "sagemaker_invocation_model_errors",
                                "sagemaker_model_latency_seconds_sum", "sagemaker_container_latency_seconds_count")):
                print("  " + line)
    print("\nstopped: every container and the router are down")


if __name__ == "__main__":
    main()
