"""The three engines on the same jobs: byte-identical outputs; the http engine's client behaviour."""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest

from serving.transform import transform

from .helpers import abalone_rows

CSV_JOB = dict(ContentType="text/csv", Accept="text/csv", SplitType="Line", AssembleWith="Line")
JOBS = {
    "single-record": dict(BatchStrategy="SingleRecord", **CSV_JOB),
    "multi-record-small-payloads": dict(BatchStrategy="MultiRecord", MaxPayloadInMB=1, MaxConcurrentTransforms=4, **CSV_JOB),
    "join-and-filters": dict(BatchStrategy="MultiRecord", InputFilter="$[0:7]", JoinSource="Input",
                             OutputFilter="$[0,8:]", **CSV_JOB),
}


@pytest.fixture(scope="module")
def spark():
    """local[2]; Python workers run this interpreter (the venv), which can import serving."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    previous = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    shared = SparkContext._active_spark_context is not None  # another module's session: leave it running
    session = (SparkSession.builder.master("local[2]").appName("transform-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate())
    # A session another test module left running was made with its own Python: use ours.
    session.sparkContext.pythonExec = sys.executable
    yield session
    if not shared:
        session.stop()
    if previous is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = previous


@pytest.fixture(scope="module")
def labelled_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("labelled")
    (root / "a.csv").write_text("\n".join(abalone_rows(0, 700, columns=9)) + "\n")
    (root / "nested").mkdir()
    (root / "nested" / "b.csv").write_text("\n".join(abalone_rows(700, 90, columns=9)) + "\n")
    return root


def outputs(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.out"))}


@pytest.mark.spark
@pytest.mark.parametrize("job", list(JOBS))
def test_http_inprocess_and_spark_write_identical_bytes(job, abalone_spec, abalone_endpoint, abalone_inputs,
                                                        labelled_inputs, spark, tmp_path):
    options = JOBS[job]
    inputs = labelled_inputs if "JoinSource" in options else abalone_inputs
    results = {
        "http": transform(str(inputs), str(tmp_path / "http"), endpoint=abalone_endpoint, engine="http", **options),
        "inprocess": transform(str(inputs), str(tmp_path / "inprocess"), model=str(abalone_spec), engine="inprocess", **options),
        "spark": transform(str(inputs), str(tmp_path / "spark"), model=str(abalone_spec), engine="spark", **options),
    }
    assert all(r.ok and r.written == 2 for r in results.values()), {k: r.failed for k, r in results.items()}
    expected = outputs(tmp_path / "http")
    assert len(expected) == 2 and all(expected.values())
    assert outputs(tmp_path / "inprocess") == expected
    assert outputs(tmp_path / "spark") == expected


@pytest.mark.spark
def test_spark_reports_a_failing_file_like_the_other_engines(abalone_spec, abalone_inputs, spark, tmp_path):
    rows = abalone_rows(0, 5)
    rows[2] = "X,notanumber"
    (abalone_inputs / "bad.csv").write_text("\n".join(rows) + "\n")
    result = transform(str(abalone_inputs), str(tmp_path / "out"), model=str(abalone_spec), engine="spark",
                       BatchStrategy="SingleRecord", **CSV_JOB)
    assert not result.ok and result.written == 2
    assert not (tmp_path / "out" / "bad.csv.out").exists()
    [entry] = result.failed
    assert (entry["records"], entry["container"], entry["status"]) == ("3", "featurizer", 400)


def test_workers_queue_the_next_file_without_mixing_files_or_answers(abalone_spec, tmp_path):
    """With two workers the next file's requests are queued while this file's finish: every
    output is what one thread writes, and a failing file fails alone, at its first bad record."""
    root = tmp_path / "input"
    root.mkdir()
    for i in range(5):
        rows = abalone_rows(i * 60, 60)
        if i == 2:
            rows[25] = "X,notanumber"
        (root / f"part-{i}.csv").write_text("\n".join(rows) + "\n")
    job = dict(model=str(abalone_spec), engine="inprocess", BatchStrategy="SingleRecord", **CSV_JOB)
    one = transform(str(root), str(tmp_path / "one"), MaxConcurrentTransforms=1, **job)
    two = transform(str(root), str(tmp_path / "two"), MaxConcurrentTransforms=2, **job)
    assert (one.written, two.written) == (4, 4)
    assert outputs(tmp_path / "two") == outputs(tmp_path / "one")
    assert sorted(outputs(tmp_path / "two")) == [f"part-{i}.csv.out" for i in (0, 1, 3, 4)]
    assert all(len(body.splitlines()) == 60 for body in outputs(tmp_path / "two").values())
    [entry] = two.failed
    assert (entry["file"], entry["records"], entry["container"], entry["status"]) == (str(root / "part-2.csv"), "26", "featurizer", 400)
    assert entry["message"] == one.failed[0]["message"]


def test_http_failure_names_the_container_behind_the_router(abalone_endpoint, abalone_inputs, tmp_path):
    (abalone_inputs / "bad.csv").write_text("M,0.4,0.3\n")
    result = transform(str(abalone_inputs / "bad.csv"), str(tmp_path / "out"), endpoint=abalone_endpoint, **CSV_JOB)
    [entry] = result.failed
    assert (entry["records"], entry["container"], entry["status"]) == ("1", "featurizer", 400)
    assert entry["message"] == (
        'Received client error (400) from featurizer with message "{"error": "BadRequest", "message": "expected 8 '
        'columns (sex, length, diameter, height, whole_weight, shucked_weight, viscera_weight, shell_weight), got 3"}"')


def test_execution_parameters_fill_unset_values(serve, abalone_dirs, abalone_inputs, tmp_path):
    featurizer, _ = abalone_dirs
    server = serve(featurizer, env={"SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "2",
                                    "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "3"})
    result = transform(str(abalone_inputs), str(tmp_path / "out"), endpoint=server.url, **CSV_JOB)
    assert result.ok
    report = json.loads((tmp_path / "out" / "transform-report.json").read_text())
    assert {k: report["options"][k] for k in ("BatchStrategy", "MaxPayloadInMB", "MaxConcurrentTransforms")} == {
        "BatchStrategy": "SingleRecord", "MaxPayloadInMB": 2, "MaxConcurrentTransforms": 3}


FLAKY_SCRIPT = textwrap.dedent("""
    import time
    calls = []

    def model_fn(model_dir):
        return None

    def predict_fn(data, model):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first call fails")
        if len(calls) == 3:
            time.sleep(3)
        return data
""")


@pytest.fixture
def flaky_server(serve, tmp_path):
    model = tmp_path / "flaky"
    (model / "code").mkdir(parents=True)
    (model / "code" / "inference.py").write_text(FLAKY_SCRIPT)
    return serve(model, framework="model", workers=1)


def test_a_failed_request_is_retried(flaky_server, tmp_path):
    (tmp_path / "in.csv").write_text("1,2\n")
    result = transform(str(tmp_path / "in.csv"), str(tmp_path / "out"), endpoint=flaky_server.url,
                       InvocationsMaxRetries=1, **CSV_JOB)
    assert result.ok
    assert (tmp_path / "out" / "in.csv.out").read_text() == "1.0,2.0\n"


def test_without_retries_the_failure_is_reported(flaky_server, tmp_path):
    (tmp_path / "in.csv").write_text("1,2\n")
    result = transform(str(tmp_path / "in.csv"), str(tmp_path / "out"), endpoint=flaky_server.url,
                       InvocationsMaxRetries=0, **CSV_JOB)
    [entry] = result.failed
    assert (entry["status"], entry["message"]) == (500, "predict_fn failed: RuntimeError: first call fails")


def test_a_slow_request_times_out(flaky_server, tmp_path):
    (tmp_path / "in.csv").write_text("1,2\n")
    job = dict(endpoint=flaky_server.url, InvocationsMaxRetries=0, InvocationsTimeoutInSeconds=1, **CSV_JOB)
    calls = [transform(str(tmp_path / "in.csv"), str(tmp_path / f"out{i}"), **job) for i in (1, 2, 3)]
    assert [c.ok for c in calls] == [False, True, False]  # the script fails call 1 and sleeps 3 s in call 3
    [entry] = calls[2].failed
    assert (entry["records"], entry["status"], entry["message"]) == (
        "1", 0, "the invocation timed out after 1 s (InvocationsTimeoutInSeconds)")


def test_model_spec_with_http_brings_the_pipeline_up_and_down(abalone_spec, abalone_inputs, tmp_path):
    import requests

    job = dict(BatchStrategy="MultiRecord", **CSV_JOB)
    http = transform(str(abalone_inputs), str(tmp_path / "http"), model=str(abalone_spec), engine="http", **job)
    inprocess = transform(str(abalone_inputs), str(tmp_path / "inprocess"), model=str(abalone_spec), engine="inprocess", **job)
    assert http.ok and inprocess.ok
    assert outputs(tmp_path / "http") == outputs(tmp_path / "inprocess")
    report = json.loads((tmp_path / "http" / "transform-report.json").read_text())
    assert report["status"] == "Completed"
    with pytest.raises(requests.ConnectionError):  # nothing is left listening where the router was
        requests.get(report["endpoint"] + "/ping", timeout=2)


@pytest.mark.spark
@pytest.mark.parametrize("kind", ["gzip", "crlf-and-blank-lines"])
def test_spark_matches_inprocess_on_gzip_and_on_gaps_between_records(kind, abalone_spec, spark, tmp_path):
    """Gzip input, and batches that are not one slice of the file, take the path that ships bodies."""
    import gzip

    rows = abalone_rows(0, 400)
    inputs = tmp_path / "in"
    inputs.mkdir()
    options = dict(BatchStrategy="MultiRecord", MaxPayloadInMB=1, **CSV_JOB)
    if kind == "gzip":
        (inputs / "a.csv.gz").write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
        options["CompressionType"] = "Gzip"
    else:
        (inputs / "a.csv").write_bytes(("\r\n\r\n".join(rows[:200]) + "\r\n" + "\n".join(rows[200:]) + "\n").encode())
    results = {engine: transform(str(inputs), str(tmp_path / engine), model=str(abalone_spec), engine=engine, **options)
               for engine in ("inprocess", "spark")}
    assert all(r.ok and r.written == 1 for r in results.values()), {k: r.failed for k, r in results.items()}
    expected = outputs(tmp_path / "inprocess")
    assert len(next(iter(expected.values())).splitlines()) == 400
    assert outputs(tmp_path / "spark") == expected
