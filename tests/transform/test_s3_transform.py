"""Batch transform over S3 (moto's S3 server on loopback, spoken to over HTTP): S3Prefix and
ManifestFile inputs, s3:// outputs, resuming, and what a user sees when something is wrong.

Outputs are compared byte for byte with the same job on local files, which test_job.py
checks against scikit-learn itself.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from serving.cli import main
from serving.errors import ConfigurationError
from serving.transform import files, transform
from serving.transform.job import Job
from serving.transform.options import TransformOptions
from serving.transform.runner import engine_for

from .helpers import REPO, abalone_rows, write_spec
from .test_engines import spark  # noqa: F401  (the module's Spark session, shared)

CSV_JOB = dict(ContentType="text/csv", Accept="text/csv", SplitType="Line", AssembleWith="Line")
INPUTS = {"first.csv": abalone_rows(0, 300), "part/second.csv": abalone_rows(300, 120)}
CHANGED = "changed while it was being read (its ETag is no longer the one listed); run again once it stays unchanged"


def csv(rows: list[str]) -> bytes:
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture(scope="module")
def local_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("local-input")
    for name, rows in INPUTS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(csv(rows))
    return root


@pytest.fixture(scope="module")
def expected(abalone_spec, local_inputs, tmp_path_factory) -> dict[str, bytes]:
    """The same job on local files: ``{input name: .out bytes}``."""
    out = tmp_path_factory.mktemp("local-output")
    assert transform(str(local_inputs), str(out), model=str(abalone_spec), engine="inprocess", **CSV_JOB).ok
    return {name: (out / f"{name}.out").read_bytes() for name in INPUTS}


@pytest.fixture
def bucket(s3):
    """A fresh bucket holding the inputs under ``input/``."""
    for name, rows in INPUTS.items():
        s3.put(f"s3://{s3.name}/input/{name}", csv(rows))
    return s3.name


def outputs(s3, bucket: str, prefix: str = "output/") -> dict[str, bytes]:
    return {key[len(prefix):]: s3.get(f"s3://{bucket}/{key}") for key in s3.keys(bucket, prefix) if key.endswith(".out")}


def run(input: str, output: str, spec, **options):
    return transform(input, output, model=str(spec), engine="inprocess", **{**CSV_JOB, **options})


# -- inputs and outputs -----------------------------------------------------------------------

def test_an_s3_prefix_to_an_s3_output_writes_the_local_jobs_bytes_under_the_keys_sagemaker_writes(
        s3, bucket, abalone_spec, expected):
    result = run(f"s3://{bucket}/input/", f"s3://{bucket}/output/", abalone_spec)
    assert (result.ok, result.files, result.written, result.records) == (True, 2, 2, 420)
    assert s3.keys(bucket, "output/") == ["output/.transform-manifest.json", "output/first.csv.out",
                                          "output/part/second.csv.out", "output/transform-report.json"]
    assert outputs(s3, bucket) == {"first.csv.out": expected["first.csv"], "part/second.csv.out": expected["part/second.csv"]}
    head = s3.client.head_object(Bucket=bucket, Key="output/first.csv.out")
    assert head["ContentType"] == "text/csv"  # the pipeline answered with it
    assert result.report_path == f"s3://{bucket}/output/transform-report.json"
    report = json.loads(s3.get(result.report_path))
    assert (report["status"], report["written"], report["options"]["S3DataType"]) == ("Completed", 2, "S3Prefix")


def test_local_input_to_an_s3_output(s3, local_inputs, abalone_spec, expected):
    assert run(str(local_inputs), f"s3://{s3.name}/output", abalone_spec).ok  # no trailing '/': still a folder
    assert outputs(s3, s3.name) == {f"{name}.out": body for name, body in expected.items()}


def test_an_s3_input_to_a_local_output(s3, bucket, abalone_spec, expected, tmp_path):
    assert run(f"s3://{bucket}/input/", str(tmp_path / "out"), abalone_spec).ok
    assert {p.relative_to(tmp_path / "out").as_posix(): p.read_bytes() for p in (tmp_path / "out").rglob("*.out")} == {
        f"{name}.out": body for name, body in expected.items()}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".transform-manifest.json", "first.csv.out", "part",
                                                                   "transform-report.json"]


def test_a_partial_key_prefix_keeps_each_objects_whole_name(s3, abalone_spec, expected):
    """``data/part`` matches ``data/part-1.csv`` and ``data/part-2.csv`` (not ``data/other.csv``);
    outputs are named below the prefix's folder, ``data/``."""
    for key in ("data/part-1.csv", "data/part-2.csv", "data/other.csv"):
        s3.put(f"s3://{s3.name}/{key}", csv(INPUTS["first.csv"]))
    assert run(f"s3://{s3.name}/data/part", f"s3://{s3.name}/output/", abalone_spec).written == 2
    assert outputs(s3, s3.name) == {"part-1.csv.out": expected["first.csv"], "part-2.csv.out": expected["first.csv"]}


def test_an_object_given_by_its_whole_key_is_named_by_its_own_name(s3, bucket, abalone_spec, expected):
    assert run(f"s3://{bucket}/input/part/second.csv", f"s3://{bucket}/output/", abalone_spec).written == 1
    assert outputs(s3, bucket) == {"second.csv.out": expected["part/second.csv"]}


def test_a_manifest_file_names_its_objects_below_its_prefix(s3, bucket, abalone_spec, expected):
    manifest = f"s3://{bucket}/jobs/input.manifest"
    s3.put(manifest, json.dumps([{"prefix": f"s3://{bucket}/input/"}, "part/second.csv", "first.csv"]).encode())
    s3.put(f"s3://{bucket}/input/not-listed.csv", b"not,a,row\n")
    result = run(manifest, f"s3://{bucket}/output/", abalone_spec, S3DataType="ManifestFile")
    assert (result.ok, result.written) == (True, 2)
    assert outputs(s3, bucket) == {"first.csv.out": expected["first.csv"], "part/second.csv.out": expected["part/second.csv"]}


def test_the_output_prefix_is_never_read_as_input(s3, bucket, abalone_spec):
    """Outputs written inside the input prefix are not inputs of the rerun."""
    job = (f"s3://{bucket}/input/", f"s3://{bucket}/input/scored/", abalone_spec)
    assert run(*job).written == 2
    again = run(*job)
    assert (again.files, again.skipped) == (2, 2)


def test_a_jobs_manifest_and_report_are_never_read_as_input(s3):
    """So one job's output prefix can be the next one's input."""
    for key in ("previous/.transform-manifest.json", "previous/transform-report.json", "previous/a.csv.out"):
        s3.put(f"s3://{s3.name}/{key}", b"{}")
    found = files.discover(f"s3://{s3.name}/previous/", files.output_for(f"s3://{s3.name}/next/"))
    assert [(item.name, item.relative) for item in found] == [(f"s3://{s3.name}/previous/a.csv.out", "a.csv.out")]


def test_a_local_manifest_may_list_local_files(local_inputs, abalone_spec, expected, tmp_path):
    manifest = tmp_path / "input.manifest"
    manifest.write_text(json.dumps([{"prefix": f"{local_inputs}/"}, "part/second.csv"]))
    assert run(str(manifest), str(tmp_path / "out"), abalone_spec, S3DataType="ManifestFile").written == 1
    assert (tmp_path / "out" / "part" / "second.csv.out").read_bytes() == expected["part/second.csv"]


def test_a_key_that_is_no_path_is_refused_for_a_local_output(s3, abalone_spec, tmp_path):
    s3.put(f"s3://{s3.name}/input//a.csv", csv(INPUTS["first.csv"]))  # below input/: '/a.csv'
    with pytest.raises(ConfigurationError) as caught:
        run(f"s3://{s3.name}/input/", str(tmp_path / "out"), abalone_spec)
    assert str(caught.value) == (f"s3://{s3.name}/input//a.csv: its name below the input prefix, '/a.csv', has an "
                                 f"empty, '.' or '..' part and cannot be written under the folder {tmp_path / 'out'}; "
                                 "write to an s3:// output, which keeps any key")


# -- resuming and failures --------------------------------------------------------------------

def test_a_rerun_skips_unchanged_objects_and_redoes_replaced_ones(s3, bucket, abalone_spec):
    job = (f"s3://{bucket}/input/", f"s3://{bucket}/output/", abalone_spec)
    assert run(*job).written == 2
    again = run(*job)
    assert (again.written, again.skipped) == (0, 2)
    s3.put(f"s3://{bucket}/input/first.csv", csv(abalone_rows(0, 5)))  # a new version: a new ETag
    changed = run(*job)
    assert (changed.written, changed.skipped) == (1, 1)
    assert len(s3.get(f"s3://{bucket}/output/first.csv.out").splitlines()) == 5
    assert run(*job, BatchStrategy="SingleRecord").written == 2  # other options: nothing is reused


def test_a_failed_file_leaves_no_object_not_even_an_earlier_runs(s3, bucket, abalone_spec):
    job = (f"s3://{bucket}/input/", f"s3://{bucket}/output/", abalone_spec)
    assert run(*job).written == 2
    s3.put(f"s3://{bucket}/input/first.csv", b"M,0.4,0.3\n")  # now a record the featurizer refuses
    result = run(*job)
    assert (result.written, result.skipped, len(result.failed)) == (0, 1, 1)
    assert s3.keys(bucket, "output/") == ["output/.transform-manifest.json", "output/part/second.csv.out",
                                          "output/transform-report.json"]
    assert s3.uploads(bucket) == []  # no multipart upload left behind either
    [entry] = json.loads(s3.get(f"s3://{bucket}/output/transform-report.json"))["failed"]
    assert {k: entry[k] for k in ("file", "output", "records", "container", "status")} == {
        "file": f"s3://{bucket}/input/first.csv", "output": f"s3://{bucket}/output/first.csv.out", "records": "1",
        "container": "featurizer", "status": 400}
    manifest = json.loads(s3.get(f"s3://{bucket}/output/.transform-manifest.json"))["files"]
    assert (manifest["first.csv"]["status"], manifest["part/second.csv"]["status"]) == ("Failed", "Completed")


class ReplacedDuringTheJob(Job):
    """A job during which another writer replaces one input object, through S3 itself: just
    before the job reads it, or just after (between the driver's read and the executors')."""

    def __init__(self, *args, s3, uri: str, after_read: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.s3, self.uri, self.after_read = s3, uri, after_read

    def prepare(self, item):
        if item.name == self.uri and not self.after_read:
            self.s3.put(self.uri, csv(abalone_rows(0, 3)))
        prepared = super().prepare(item)
        if item.name == self.uri and self.after_read:
            self.s3.put(self.uri, csv(abalone_rows(0, 3)))
        return prepared


def replaced_during_the_job(s3, bucket, spec, engine: str, after_read: bool, **options):
    options = TransformOptions.build(**CSV_JOB, **options)
    uri = f"s3://{bucket}/input/first.csv"
    with engine_for(engine, model=str(spec), endpoint=None, master=None, options=options) as (built, model_id):
        job = ReplacedDuringTheJob(f"s3://{bucket}/input/", f"s3://{bucket}/output/", options, built, model_id,
                                   s3=s3, uri=uri, after_read=after_read)
        return uri, job.run()


def test_an_object_replaced_during_the_job_fails_that_file_and_the_job_goes_on(s3, bucket, abalone_spec, expected):
    uri, result = replaced_during_the_job(s3, bucket, abalone_spec, "inprocess", after_read=False)
    assert result.failed == [{"file": uri, "output": f"s3://{bucket}/output/first.csv.out", "records": "",
                              "container": None, "status": 500, "message": f"{uri} {CHANGED}"}]
    assert outputs(s3, bucket) == {"part/second.csv.out": expected["part/second.csv"]}


@pytest.mark.spark
@pytest.mark.slow
def test_spark_executors_read_their_byte_ranges_from_s3(s3, bucket, abalone_spec, expected, spark):  # noqa: F811
    spark.sparkContext.environment.update(executor_s3_environment(s3))
    result = transform(f"s3://{bucket}/input/", f"s3://{bucket}/output/", model=str(abalone_spec), engine="spark",
                       **CSV_JOB)
    assert (result.ok, result.written) == (True, 2), result.failed
    assert outputs(s3, bucket) == {f"{name}.out": body for name, body in expected.items()}


@pytest.mark.spark
@pytest.mark.slow
def test_spark_executors_reads_are_pinned_to_the_version_the_driver_split(s3, bucket, abalone_spec, expected,
                                                                          spark):  # noqa: F811
    """The object is replaced after the driver read and split it: the executors' ranged GETs
    carry If-Match with the ETag the driver saw, so the file fails instead of mixing versions."""
    spark.sparkContext.environment.update(executor_s3_environment(s3))
    uri, result = replaced_during_the_job(s3, bucket, abalone_spec, "spark", after_read=True)
    assert [(e["file"], e["records"], e["container"], e["status"], e["message"]) for e in result.failed] == [
        (uri, "1-300", None, 500, f"{uri} {CHANGED}")]
    assert outputs(s3, bucket) == {"part/second.csv.out": expected["part/second.csv"]}


def executor_s3_environment(s3) -> dict[str, str]:
    """Where the executors' boto3 finds the S3 server (a JVM another module started may predate it)."""
    return {**s3.VARIABLES, "AWS_ENDPOINT_URL_S3": s3.url}


# -- what is wrong, in one line ---------------------------------------------------------------

@pytest.mark.parametrize("input, output, message", [
    ("gs://bucket/data/", "out", "input gs://bucket/data/: the scheme is not one batch transform can read; give an "
                                 "s3:// URI, a file:// URL or a local path"),
    ("data/", "http://host/out/", "output http://host/out/: the scheme is not one batch transform can write; give an "
                                  "s3:// URI, a file:// URL or a local path"),
    ("s3:///data/", "out", "s3:///data/ names no bucket; S3 locations are written s3://bucket/key"),
], ids=["input-scheme", "output-scheme", "no-bucket"])
def test_a_location_that_is_not_one_is_named(input, output, message, abalone_spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError) as caught:
        run(input, output, abalone_spec)
    assert str(caught.value) == message


def test_a_missing_input_bucket_is_named(s3, abalone_spec, tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        run("s3://no-such-bucket-here/data/", str(tmp_path / "out"), abalone_spec)
    assert str(caught.value) == ("cannot list s3://no-such-bucket-here/data/: S3 said NoSuchBucket (The specified "
                                 "bucket does not exist), HTTP 404")


def test_a_missing_output_bucket_stops_the_job_before_it_starts(s3, bucket, abalone_spec, tmp_path):
    report = tmp_path / "report.json"
    with pytest.raises(ConfigurationError) as caught:
        transform(f"s3://{bucket}/input/", "s3://no-such-bucket-here/out/", model=str(abalone_spec), engine="http",
                  report=str(report), **CSV_JOB)
    message = ("cannot write s3://no-such-bucket-here/out/.transform-manifest.json: S3 said NoSuchBucket (The "
               "specified bucket does not exist), HTTP 404")
    assert str(caught.value) == message
    assert json.loads(report.read_text())["error"] == message


def test_a_prefix_with_no_objects_is_named(s3, bucket, abalone_spec):
    with pytest.raises(ConfigurationError) as caught:
        run(f"s3://{bucket}/inputs/", f"s3://{bucket}/output/", abalone_spec)
    assert str(caught.value) == (f"no objects under s3://{bucket}/inputs/: S3Prefix reads every object whose key "
                                 "starts with 'inputs/'; check the bucket and the prefix, or upload the input there")
    assert s3.keys(bucket, "output/") == []  # nothing was written


@pytest.mark.parametrize("body, message", [
    (b"not json", "manifest {m} is not JSON (Expecting value: line 1 column 1 (char 0)); a manifest is a JSON array: "
                  '[{{"prefix": "s3://bucket/prefix/"}}, "relative/key-1", "relative/key-2", ...]'),
    (b'["first.csv"]', 'manifest {m} must be a JSON array whose first element is {{"prefix": ...}}, as in '
                       '[{{"prefix": "s3://bucket/prefix/"}}, "relative/key-1", "relative/key-2", ...]'),
    (b'[{"prefix": "s3://{b}/input/"}, "first.csv", "gone.csv"]',
     "cannot read s3://{b}/input/gone.csv: S3 said NoSuchKey (the object does not exist), HTTP 404"),
], ids=["not-json", "no-prefix", "missing-object"])
def test_a_manifest_that_is_wrong_is_named(body, message, s3, bucket, abalone_spec):
    manifest = f"s3://{bucket}/input.manifest"
    s3.put(manifest, body.replace(b"{b}", bucket.encode()))
    with pytest.raises(ConfigurationError) as caught:
        run(manifest, f"s3://{bucket}/output/", abalone_spec, S3DataType="ManifestFile")
    assert str(caught.value) == message.format(m=manifest, b=bucket)


def test_an_unknown_data_type_is_refused_with_sagemakers_message(abalone_spec, tmp_path, capsys):
    assert main(["transform", "--model", str(abalone_spec), "--engine", "inprocess", "--input", "s3://bucket/data/",
                 "--output", str(tmp_path / "out"), "--data-type", "S3Object"]) == 2
    assert capsys.readouterr().err == (
        "serving: 1 validation error detected: Value 'S3Object' at 'transformInput.dataSource.s3DataSource.s3DataType' "
        "failed to satisfy constraint: Member must satisfy enum value set: [ManifestFile, S3Prefix] (S3DataType)\n")


def test_missing_credentials_are_one_line_and_no_traceback(s3, bucket, abalone_spec, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL_S3=s3.url, AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true")
    proc = subprocess.run([sys.executable, "-m", "serving.cli", "transform", "--model", str(abalone_spec),
                           "--engine", "inprocess", "--input", f"s3://{bucket}/input/", "--output", str(tmp_path / "out"),
                           "--content-type", "text/csv"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (f"serving: cannot list s3://{bucket}/input/: no AWS credentials were found (set "
                           "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where an instance role "
                           "provides them)\n")


# -- the documented commands ------------------------------------------------------------------

PAGE = REPO / "docs" / "transform.md"


def s3_section_commands() -> list[str]:
    section = PAGE.read_text().split("## S3 input and output", 1)[1].split("\n## ", 1)[0]
    return [line for block in re.findall(r"```sh\n(.*?)```", section, re.S) for line in block.splitlines()
            if line.startswith("serving transform ")]


def test_the_documented_s3_commands_run(s3, abalone_dirs, expected, tmp_path, monkeypatch, capsys):
    """The page's bucket is made on the test server; the commands go through the ``serving``
    command's own parser and entry point (in this process: the subprocess path is the one
    test_missing_credentials takes)."""
    commands = s3_section_commands()
    assert len(commands) == 2
    bucket = "amzn-s3-demo-bucket"
    if bucket not in [b["Name"] for b in s3.client.list_buckets()["Buckets"]]:
        s3.client.create_bucket(Bucket=bucket)
    for name, rows in INPUTS.items():
        s3.put(f"s3://{bucket}/abalone/input/{name}", csv(rows))
    s3.put(f"s3://{bucket}/abalone/input.manifest",
           json.dumps([{"prefix": f"s3://{bucket}/abalone/input/"}, "first.csv"]).encode())
    write_spec(tmp_path / "pipeline.yaml", *abalone_dirs)
    monkeypatch.chdir(tmp_path)
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0
        assert re.fullmatch(r"transform: \d file\(s\): \d written, 0 skipped, 0 failed; \d+ records in .*\n",
                            capsys.readouterr().out)
    assert outputs(s3, bucket, "abalone/output/") == {f"{name}.out": body for name, body in expected.items()}
    assert (tmp_path / "scored" / "first.csv.out").read_bytes() == expected["first.csv"]
