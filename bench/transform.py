"""Batch transform throughput on the abalone pipeline, against scikit-learn itself.

The abalone features are repeated to ``--rows`` rows (one million by default) in four CSV
files and scored by the featurizer → regressor pipeline:

- scikit-learn: ``featurizer.transform`` + ``regressor.predict`` on the rows already in a
  DataFrame: no parsing, no serialization; the floor every engine is compared with;
- scikit-learn end to end: the same on the same files as a user would score them, pandas'
  ``read_csv`` in and ``to_csv`` out (the in-process job's predictions are checked against
  these, each within four ulps);
- http MultiRecord: the pipeline endpoint (process backend: router + two gunicorn
  containers, brought up once, outside the timing), 1 MB requests, 2 concurrent;
- http SingleRecord: the same endpoint, one record per request, on a subset (``--single-rows``)
  because a million round trips take too long to be worth waiting for;
- inprocess MultiRecord: the handler chain in worker processes forked from this one;
- spark local[1] and local[2]: the in-process chain on Spark executors.

MultiRecord requests are 1 MB: the featurizer's CSV output is about four times its input,
and the regressor container refuses bodies over its 6 MB limit. The job sets
``SAGEMAKER_MAX_PAYLOAD_IN_MB=6`` in its Environment so that the containers keep that limit
(SageMaker passes the job's MaxPayloadInMB to every container otherwise).

    python bench/transform.py [--rows 1000000] [--single-rows 5000] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "abalone.data"
HEADING = "## Batch transform"
# 1 MB requests; the containers keep their 6 MB limit (the job's MaxPayloadInMB would
# otherwise become every container's limit, and the featurizer's output is ~4x its input).
CSV = dict(ContentType="text/csv", Accept="text/csv", SplitType="Line", AssembleWith="Line",
           Environment={"SAGEMAKER_MAX_PAYLOAD_IN_MB": "6"})


def load_train():
    import importlib.util

    spec = importlib.util.spec_from_file_location("abalone_train", REPO / "examples" / "abalone" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_inputs(folder: Path, rows: int, files: int = 4) -> list[str]:
    base = [",".join(line.split(",")[:8]) for line in DATA.read_text().splitlines() if line]
    lines = (base * (rows // len(base) + 1))[:rows]
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-rows // files)
    for i in range(files):
        (folder / f"part-{i}.csv").write_text("\n".join(lines[i * per:(i + 1) * per]) + "\n")
    return lines


def load_models(dirs) -> tuple:
    """The trained featurizer and regressor, as scikit-learn objects."""
    import joblib

    return tuple(joblib.load(Path(d) / "model.joblib") for d in dirs)


def time_sklearn(dirs, lines: list[str]) -> float:
    import pandas as pd

    train = load_train()
    frame = pd.DataFrame([line.split(",") for line in lines], columns=train.FEATURES)
    frame[train.NUMERIC] = frame[train.NUMERIC].astype(float)
    featurizer, regressor = load_models(dirs)
    started = time.perf_counter()
    regressor.predict(featurizer.transform(frame))
    return time.perf_counter() - started


def time_sklearn_files(dirs, inputs: Path, out: Path) -> float:
    """scikit-learn as a user scores CSV files with it: pandas reads each file, the pipeline
    transforms and predicts, pandas writes the predictions (one a line, as the job writes them)."""
    import pandas as pd

    train = load_train()
    featurizer, regressor = load_models(dirs)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for path in sorted(inputs.glob("*.csv")):
        frame = pd.read_csv(path, header=None, names=train.FEATURES)
        predictions = regressor.predict(featurizer.transform(frame))
        pd.DataFrame(predictions).to_csv(out / f"{path.name}.out", header=False, index=False)
    return time.perf_counter() - started


def check_same(expected: Path, got: Path) -> None:
    """The job's predictions are scikit-learn's, file by file, each within four ulps: the
    Ridge's dot product may sum in another order on 20,000 rows than on 250,000 (on the
    1,000,000 rows, 8 differ, by at most two)."""
    import numpy as np

    for path in sorted(expected.glob("*.out")):
        want, have = np.loadtxt(path), np.loadtxt(got / path.name)
        if want.shape != have.shape or not np.all(np.abs(want - have) <= 4 * np.spacing(np.abs(want))):
            raise SystemExit(f"the in-process job's {path.name} differs from scikit-learn's predictions")


def time_job(inputs: Path, out: Path, **job) -> float:
    from serving.transform import transform

    started = time.perf_counter()
    result = transform(str(inputs), str(out), progress=False, **job)
    if not result.ok:
        raise SystemExit(f"the job failed: {result.failed[0]}")
    return time.perf_counter() - started


def time_spark(inputs: Path, out: Path, spec: Path, master: str) -> float:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master(master).appName("bench-transform").config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    try:
        # warm the Python workers (each loads the chain once) on a small job, then measure
        time_job(inputs.parent / "warm", out.parent / f"warm-{out.name}", model=str(spec), engine="spark",
                 MaxPayloadInMB=1, **CSV)
        return time_job(inputs, out, model=str(spec), engine="spark", MaxPayloadInMB=1, **CSV)
    finally:
        session.stop()


SPARK_ROUNDS = 3
ROUNDS = 5
HOPS = {"npy": "application/x-npy", "csv": "text/csv"}
NOTE = ('Spark `local[2]` against `local[1]`: executors read their own slices of the input files (the driver sends path and byte range, not the bodies) and each core gets one partition; the ratio was 1.28× to 1.44× before that change. One run of each is noisy on this shared machine (single runs gave 1.36× to 1.65× on the same code), so the bench times three interleaved rounds of each and compares medians. What moved in-process from 5% to about 50% of scikit-learn: CSV written and parsed in C (orjson for small bodies, Arrow for large ones), the binary npy between the two containers, and `MaxConcurrentTransforms` workers in the in-process engine (threads at first; forked processes since, which answered 1.7 to 2 times what one does where two threads answered 1.1 to 1.25 times, and the requests of the next file queued while those of the last finish). SingleRecord is one request per row: its cost is the per-request cost of the pipeline with two requests in flight, about 3 ms here (4.6 ms before the router and the containers moved to their own HTTP layer). The end-to-end row is scikit-learn as a user scores the same files with it, pandas reading them and writing the predictions; the bench stops if the in-process job\'s predictions are not these, each within four ulps.')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--single-rows", type=int, default=5_000)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-transform-"))
    dirs = load_train().train(DATA, work / "models")
    # CSV in and out at the edges; between the two containers either CSV or the binary npy
    # (SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT of the featurizer), which costs no text formatting.
    specs = {}
    for hop in ("npy", "csv"):
        specs[hop] = work / f"pipeline-{hop}.yaml"
        specs[hop].write_text(
            "Containers:\n"
            f"  - {{ContainerHostname: featurizer, Framework: sklearn, ModelDataUrl: {dirs[0]},\n"
            f"     Environment: {{SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT: {HOPS[hop]}}}}}\n"
            f"  - {{ContainerHostname: regressor, Framework: sklearn, ModelDataUrl: {dirs[1]}}}\n"
        )
    spec = specs["npy"]
    lines = write_inputs(work / "rows", args.rows)
    write_inputs(work / "single", args.single_rows, files=1)
    write_inputs(work / "warm", 100_000, files=4)  # 1 MB requests: every worker warms on full-size bodies

    results = []  # (name, rows, seconds)
    # the floor, the in-process npy run (the goal's two numbers) and scikit-learn end to end, in
    # interleaved rounds (medians): one run of any of them varies by ±25% on this machine
    def inprocess(hop: str, out: str) -> float:
        return time_job(work / "rows", work / out, model=str(specs[hop]), engine="inprocess",
                        BatchStrategy="MultiRecord", MaxPayloadInMB=1, **CSV)

    floor, npy, files = [], [], []
    for round_ in range(ROUNDS):
        floor.append(time_sklearn(dirs, lines))
        npy.append(inprocess("npy", f"out-inprocess-npy-{round_}"))
        files.append(time_sklearn_files(dirs, work / "rows", work / f"out-sklearn-{round_}"))
    check_same(work / "out-sklearn-0", work / "out-inprocess-npy-0")
    results.append((f"scikit-learn transform+predict (floor, median of {ROUNDS})", args.rows, statistics.median(floor)))
    results.append((f"scikit-learn end to end (pandas read_csv, to_csv; median of {ROUNDS})", args.rows,
                    statistics.median(files)))
    # the endpoint is brought up once, outside the timings (start-up is not throughput)
    from serving.pipeline.spec import load
    from serving.transform.options import TransformOptions
    from serving.transform.runner import running_pipeline

    env = TransformOptions.build(MaxPayloadInMB=1, **CSV).container_environment()
    for hop in ("npy", "csv"):
        with running_pipeline(load(specs[hop]), env, "process") as endpoint:
            url = endpoint.url
            results.append((f"http MultiRecord (1 MB, 2 concurrent, {hop} between)", args.rows,
                            time_job(work / "rows", work / f"out-multi-{hop}", endpoint=url, BatchStrategy="MultiRecord",
                                     MaxPayloadInMB=1, MaxConcurrentTransforms=2, **CSV)))
            if hop == "npy":
                results.append(("http SingleRecord (subset, 2 concurrent)", args.single_rows,
                                time_job(work / "single", work / "out-single", endpoint=url, BatchStrategy="SingleRecord",
                                         MaxConcurrentTransforms=2, **CSV)))
        if hop == "npy":
            results.append((f"inprocess MultiRecord (1 MB, npy between, median of {ROUNDS})", args.rows, statistics.median(npy)))
        else:
            results.append((f"inprocess MultiRecord (1 MB, {hop} between)", args.rows, inprocess(hop, f"out-inprocess-{hop}")))
    # Spark: three interleaved rounds, medians; one run of either varies by ±20% here
    spark = {master: [] for master in ("local[1]", "local[2]")}
    for round_ in range(SPARK_ROUNDS):
        for master, times in spark.items():
            times.append(time_spark(work / "rows", work / f"out-{master}-{round_}", spec, master))
    for master, times in spark.items():
        results.append((f"spark {master} (1 MB, median of {SPARK_ROUNDS})", args.rows, statistics.median(times)))

    table = render(results, args)
    print(table)
    if not args.no_write:
        write_section(REPO / "docs" / "performance.md", table)


def render(results, args) -> str:
    floor = results[0][1] / results[0][2]
    rate = {name: rows / seconds for name, rows, seconds in results}
    lines = [
        "| run | rows | seconds | rows/s | vs scikit-learn |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, rows, seconds in results:
        lines.append(f"| {name} | {rows:,} | {seconds:.2f} | {rows / seconds:,.0f} | {rows / seconds / floor:.1%} |")
    spark1, spark2 = rate[f"spark local[1] (1 MB, median of {SPARK_ROUNDS})"], rate[f"spark local[2] (1 MB, median of {SPARK_ROUNDS})"]
    multi, inproc = rate["http MultiRecord (1 MB, 2 concurrent, npy between)"], rate[f"inprocess MultiRecord (1 MB, npy between, median of {ROUNDS})"]
    files = rate[f"scikit-learn end to end (pandas read_csv, to_csv; median of {ROUNDS})"]
    goals = [
        f"- MultiRecord ≥ 25% of scikit-learn: {multi / floor:.1%} — {'met' if multi >= 0.25 * floor else 'NOT met'}",
        f"- in-process ≥ 50% of scikit-learn: {inproc / floor:.1%} — {'met' if inproc >= 0.5 * floor else 'NOT met'}",
        f"- in-process ≥ 100% of scikit-learn (the compiled scikit-learn issue): {inproc / floor:.1%} — "
        f"{'met' if inproc >= floor else 'NOT met'}",
        f"- in-process against scikit-learn end to end (no goal): {inproc / files:.2f}×",
        f"- Spark local[2] ≥ 1.6 × local[1]: {spark2 / spark1:.2f}× — {'met' if spark2 >= 1.6 * spark1 else 'NOT met'}",
    ]
    machine = f"{os.cpu_count()} CPU(s), Python {sys.version.split()[0]}"
    return "\n".join(lines + ["", *goals, "", f"Measured by `python bench/transform.py` on {machine}; "
                                               f"SingleRecord on {args.single_rows:,} rows only.", "", NOTE])


def write_section(path: Path, table: str) -> None:
    """Replace (or add) the "## Batch transform" section, leaving other sections alone."""
    text = path.read_text() if path.exists() else "# Performance\n"
    section = (f"{HEADING}\n\nThe abalone pipeline (featurizer → regressor) over repeated abalone rows: CSV in and "
               "out, and between the two containers either `application/x-npy` (set by the featurizer's "
               "`SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`) or CSV. The goals are read on the npy rows; the CSV rows "
               f"show what formatting and parsing ten floats a row as text costs.\n\n{table}\n")
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


if __name__ == "__main__":
    main()
