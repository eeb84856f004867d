"""`make demo`: train the abalone models and serve them as a real serial inference pipeline.

1. trains the featurizer and the regressor of the public SageMaker pipeline example into
   ``build/abalone`` (where ``examples/abalone/pipeline.yaml`` expects them);
2. brings the pipeline up with the process backend: featurizer -> regressor ->
   post-processor, three real containers behind one router;
3. sends real abalone rows through it (CSV in, JSON out) and prints the predicted rings and
   age next to the true rings;
4. sends one deliberately bad request and prints the 424 the pipeline answers;
5. prints the endpoint's metrics, and stops everything;
6. then the SageMaker guide's pipelines with a built-in algorithm behind a featurizer, each
   trained here and served the same way: the scikit-learn featurizer feeding XGBoost in
   RecordIO-protobuf (a regressor, and a classifier of age groups with selectable output),
   Spark ML feeding XGBoost, and a Spark ML tokenizer feeding a BlazingText classifier
   (``--skip-builtin`` leaves them out).
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


def load_example(relpath: str):
    path = HERE / relpath
    spec = importlib.util.spec_from_file_location(f"{path.parent.name.replace('-', '_')}_train", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_train():
    return load_example("abalone/train.py")


def example_spec(example: str, yaml_name: str, dirs) -> specs.PipelineSpec:
    """examples/<example>/<yaml_name>, with its containers' models taken from ``dirs``."""
    import yaml

    raw = yaml.safe_load((HERE / example / yaml_name).read_text())
    for container, path in zip(raw["Containers"], dirs):
        container["ModelDataUrl"] = str(path)
    return specs.from_dict(raw, base_dir=HERE / example, source=f"examples/{example}/{yaml_name}")


def post(url: str, body: str, content_type: str = "text/csv", accept: str | None = None) -> requests.Response:
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    r = requests.post(url + "/invocations", data=body, headers=headers, timeout=60)
    r.raise_for_status()
    return r


def builtin(data: str, build: Path, rows: int) -> None:
    lines = Path(data).read_text().splitlines()[:rows]
    body = "\n".join(",".join(line.split(",")[:8]) for line in lines)
    truth = [line.split(",")[8] for line in lines]

    dirs = load_example("abalone-xgboost/train.py").train(data, build / "abalone-xgboost")
    print("\n== scikit-learn featurizer -> XGBoost (RecordIO-protobuf between them) ==")
    with Endpoint.up(example_spec("abalone-xgboost", "pipeline.yaml", dirs[:2]), name="abalone-xgboost",
                     port=0, workers=1, register=False) as ep:
        r = post(ep.url, body)
        print(f"POST {len(lines)} CSV rows -> {r.status_code} {r.headers['Content-Type']}")
        for true, predicted in zip(truth, r.text.split()):
            print(f"  true rings {true:>3}  predicted {float(predicted):6.2f}")
    with Endpoint.up(example_spec("abalone-xgboost", "pipeline-classifier.yaml", (dirs[0], dirs[2])),
                     name="abalone-age-group", port=0, workers=1, register=False) as ep:
        r = post(ep.url, body, accept="application/json")
        print("age group (0 young, 1 adult, 2 old), SAGEMAKER_INFERENCE_OUTPUT=predicted_label,probabilities:")
        for true, p in zip(truth, r.json()["predictions"]):
            print(f"  true rings {true:>3}  group {p['predicted_label']}  "
                  f"probabilities {', '.join(f'{v:.3f}' for v in p['probabilities'])}")

    spark = load_example("sparkml-abalone/train.py").spark_session()
    dirs = load_example("sparkml-xgboost/train.py").train(data, build / "sparkml-xgboost", spark=spark)
    print("\n== Spark ML featurizer -> XGBoost (the guide's abalone pipeline) ==")
    with Endpoint.up(example_spec("sparkml-xgboost", "pipeline.yaml", dirs), name="sparkml-xgboost",
                     port=0, workers=1, register=False) as ep:
        r = post(ep.url, body)
        print(f"POST {len(lines)} CSV rows -> {r.status_code} {r.headers['Content-Type']}")
        for true, predicted in zip(truth, r.text.split()):
            print(f"  true rings {true:>3}  predicted {float(predicted):6.2f}")

    dirs = load_example("sparkml-blazingtext/train.py").train(build / "sparkml-blazingtext", spark=spark)
    print("\n== Spark ML tokenizer -> BlazingText (the guide's DBpedia pipeline, on a text set made here) ==")
    texts = ["Convair was an American aircraft manufacturer which later expanded into rockets.",
             "Berwick Secondary College is situated in the outer Melbourne suburb of Berwick.",
             "Kepler is a singer and songwriter whose debut album was released in 2004.",
             "Vasquez is a professional footballer who played for the club in the league."]
    with Endpoint.up(example_spec("sparkml-blazingtext", "pipeline.yaml", dirs), name="sparkml-blazingtext",
                     port=0, workers=1, register=False) as ep:
        r = post(ep.url, "\n".join(texts))
        print(f"POST {len(texts)} abstracts as CSV -> {r.status_code} {r.headers['Content-Type']}")
        names = load_example("sparkml-blazingtext/train.py").CLASSES
        for text, line in zip(texts, r.text.splitlines()):
            answer = json.loads(line)
            label = answer["label"][0]
            print(f"  {label} ({names[int(label.removeprefix('__label__'))][0]}, p={answer['prob'][0]:.3f})  {text[:60]}")
    print("\nstopped: the built-in algorithm pipelines are down")


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
    parser.add_argument("--skip-builtin", action="store_true", help="leave out the built-in algorithm pipelines")
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
    if not args.skip_builtin:
        builtin(args.data, Path(args.build).resolve(), min(args.rows, 5))


if __name__ == "__main__":
    main()
