"""Whole jobs on the abalone pipeline: outputs, naming, compression, filters, failures, resume."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from serving.transform import transform

from .helpers import PYTHON, REPO, abalone_rows, run_cli

FEATURES = ["sex", "length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]
CSV_JOB = dict(ContentType="text/csv", Accept="text/csv", SplitType="Line", AssembleWith="Line")


def sklearn_predictions(dirs, rows: list[str]) -> np.ndarray:
    """What scikit-learn itself predicts for these CSV rows (no serving code involved)."""
    featurizer, regressor = (joblib.load(d / "model.joblib") for d in dirs)
    frame = pd.DataFrame([r.split(",")[:8] for r in rows], columns=FEATURES)
    frame[FEATURES[1:]] = frame[FEATURES[1:]].astype(float)
    return regressor.predict(featurizer.transform(frame))


def read_column(path) -> np.ndarray:
    return np.array([float(line) for line in path.read_text().splitlines()])


@pytest.mark.parametrize("strategy", ["SingleRecord", "MultiRecord"])
def test_outputs_match_scikit_learn_in_input_order(abalone_spec, abalone_dirs, abalone_inputs, tmp_path, strategy):
    out = tmp_path / "out"
    result = transform(str(abalone_inputs), str(out), model=str(abalone_spec), engine="inprocess",
                       BatchStrategy=strategy, **CSV_JOB)
    assert result.ok and result.written == 2 and result.records == 420
    np.testing.assert_allclose(read_column(out / "first.csv.out"), sklearn_predictions(abalone_dirs, abalone_rows(0, 300)), rtol=1e-12)
    np.testing.assert_allclose(read_column(out / "part" / "second.csv.out"),
                               sklearn_predictions(abalone_dirs, abalone_rows(300, 120)), rtol=1e-12)


def test_line_assembly_gives_one_line_per_record_for_both_strategies(abalone_spec, abalone_inputs, tmp_path):
    """No doubled newlines: the container's rows already end in one (SageMaker local mode adds another).

    The values are not compared byte for byte: scikit-learn's arithmetic on a batch of one
    and on a batch of 300 may differ in the last bit."""
    for strategy in ("SingleRecord", "MultiRecord"):
        transform(str(abalone_inputs), str(tmp_path / strategy), model=str(abalone_spec), engine="inprocess",
                  BatchStrategy=strategy, **CSV_JOB)
        text = (tmp_path / strategy / "first.csv.out").read_text()
        assert text.count("\n") == 300 and "\n\n" not in text and text.endswith("\n")


def test_split_none_sends_each_file_whole(abalone_spec, abalone_dirs, abalone_inputs, tmp_path):
    result = transform(str(abalone_inputs / "first.csv"), str(tmp_path / "out"), model=str(abalone_spec),
                       engine="inprocess", ContentType="text/csv", Accept="text/csv")
    assert result.ok
    np.testing.assert_allclose(read_column(tmp_path / "out" / "first.csv.out"),
                               sklearn_predictions(abalone_dirs, abalone_rows(0, 300)), rtol=1e-12)


def test_gzip_input_keeps_its_name_plus_out(abalone_spec, abalone_dirs, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.csv.gz").write_bytes(gzip.compress(("\n".join(abalone_rows(0, 50)) + "\n").encode()))
    result = transform(str(tmp_path / "in"), str(tmp_path / "out"), model=str(abalone_spec), engine="inprocess",
                       CompressionType="Gzip", **CSV_JOB)
    assert result.ok
    np.testing.assert_allclose(read_column(tmp_path / "out" / "rows.csv.gz.out"),
                               sklearn_predictions(abalone_dirs, abalone_rows(0, 50)), rtol=1e-12)


def test_glob_input_keeps_paths_below_the_glob_folder(abalone_spec, abalone_inputs, tmp_path):
    result = transform(str(abalone_inputs / "**" / "*.csv"), str(tmp_path / "out"), model=str(abalone_spec),
                       engine="inprocess", **CSV_JOB)
    assert result.ok
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.out")) == [
        "first.csv.out", "part/second.csv.out"]


def test_input_filter_join_and_output_filter_on_labelled_rows(abalone_spec, abalone_dirs, tmp_path):
    """Rows carry the label (9 columns): send the 8 features, write label and prediction."""
    rows = abalone_rows(0, 40, columns=9)
    (tmp_path / "labelled.csv").write_text("\n".join(rows) + "\n")
    result = transform(str(tmp_path / "labelled.csv"), str(tmp_path / "out"), model=str(abalone_spec),
                       engine="inprocess", InputFilter="$[0:7]", JoinSource="Input", OutputFilter="$[8,-1]", **CSV_JOB)
    assert result.ok
    written = [line.split(",") for line in (tmp_path / "out" / "labelled.csv.out").read_text().splitlines()]
    assert [w[0] for w in written] == [r.split(",")[8] for r in rows]
    np.testing.assert_allclose([float(w[1]) for w in written], sklearn_predictions(abalone_dirs, rows), rtol=1e-12)


def test_a_failing_record_leaves_no_output_and_a_report_entry(abalone_spec, abalone_inputs, tmp_path):
    rows = abalone_rows(0, 10)
    rows[6] = ",".join(rows[6].split(",")[:7])  # a row with 7 of the 8 columns
    (abalone_inputs / "broken.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    proc = run_cli("--model", str(abalone_spec), "--engine", "inprocess", "--input", str(abalone_inputs),
                   "--output", str(out), "--content-type", "text/csv", "--accept", "text/csv", "--split-type", "Line",
                   "--assemble-with", "Line", "--batch-strategy", "SingleRecord")
    assert proc.returncode == 1, proc.stderr
    assert not (out / "broken.csv.out").exists()
    assert (out / "first.csv.out").is_file() and (out / "part" / "second.csv.out").is_file()
    assert not [p for p in out.rglob("*") if p.name.startswith(".transform-tmp-")]
    report = json.loads((out / "transform-report.json").read_text())
    assert report["status"] == "Failed" and report["written"] == 2
    assert report["failed"] == [{
        "file": str(abalone_inputs / "broken.csv"), "output": str(out / "broken.csv.out"), "records": "7",
        "container": "featurizer", "status": 400, "message": 'Received client error (400) from featurizer with message '
        '"{"error": "BadRequest", "message": "expected 8 columns (sex, length, diameter, height, whole_weight, '
        'shucked_weight, viscera_weight, shell_weight), got 7"}". See the log lines prefixed [transform/featurizer] '
        'for more information.',
    }]
    assert proc.stdout.strip() == proc.stdout.strip().splitlines()[0]  # one summary line
    assert "3 file(s): 2 written, 0 skipped, 1 failed; 420 records" in proc.stdout


def test_a_rerun_skips_finished_files_and_redoes_changed_ones(abalone_spec, abalone_inputs, tmp_path):
    out = tmp_path / "out"
    job = dict(model=str(abalone_spec), engine="inprocess", **CSV_JOB)
    assert transform(str(abalone_inputs), str(out), **job).written == 2
    again = transform(str(abalone_inputs), str(out), **job)
    assert (again.written, again.skipped) == (0, 2)
    os.utime(abalone_inputs / "first.csv")  # touched, same bytes: still skipped (hash)
    assert transform(str(abalone_inputs), str(out), **job).skipped == 2
    (abalone_inputs / "first.csv").write_text("\n".join(abalone_rows(0, 5)) + "\n")
    changed = transform(str(abalone_inputs), str(out), **job)
    assert (changed.written, changed.skipped) == (1, 1)
    assert len((out / "first.csv.out").read_text().splitlines()) == 5
    other_options = transform(str(abalone_inputs), str(out), BatchStrategy="SingleRecord", **job)
    assert other_options.written == 2  # a different job does not reuse outputs


SLOW_SCRIPT = textwrap.dedent("""
    import time

    def model_fn(model_dir):
        return None

    def predict_fn(data, model):
        time.sleep(0.25)
        return data
""")


def script_job(tmp_path, script: str, files: dict[str, str]) -> tuple:
    """A one-container spec running ``script`` and an input folder of ``files``: (spec, inputs)."""
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    (model / "code" / "inference.py").write_text(script)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"Containers": [{"Framework": "model", "ModelDataUrl": str(model)}]}))
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name, text in files.items():
        (inputs / name).write_text(text)
    return spec, inputs


def test_a_job_killed_halfway_and_rerun_writes_every_output_once(tmp_path):
    spec, inputs = script_job(tmp_path, SLOW_SCRIPT, {f"part-{i}.csv": "".join(f"{i},{k}\n" for k in range(3))
                                                      for i in range(8)})
    out = tmp_path / "out"
    args = ["--model", str(spec), "--engine", "inprocess", "--input", str(inputs), "--output", str(out),
            "--content-type", "text/csv", "--accept", "text/csv", "--split-type", "Line",
            "--batch-strategy", "SingleRecord", "--assemble-with", "Line"]
    proc = subprocess.Popen([PYTHON, "-m", "serving.cli", "transform", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(list(out.glob("*.out"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    first = sorted(p.name for p in out.glob("*.out"))
    assert 2 <= len(first) < 8, "the job was not killed halfway"
    rerun = run_cli(*args)
    assert rerun.returncode == 0, rerun.stderr
    written, skipped = map(int, re.search(r"(\d+) written, (\d+) skipped", rerun.stdout).groups())
    assert written + skipped == 8 and skipped >= len(first) - 1  # finished files are not redone
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        [f"part-{i}.csv.out" for i in range(8)] + ["transform-report.json"])
    for i in range(8):
        assert (out / f"part-{i}.csv.out").read_text() == "".join(f"{float(i)},{float(k)}\n" for k in range(3))


DYING_SCRIPT = textwrap.dedent("""
    import os

    def model_fn(model_dir):
        return None

    def predict_fn(data, model):
        if (data == 13).any():
            os._exit(3)  # a worker that dies in C, or is killed for its memory
        return data
""")


def test_a_worker_process_that_dies_fails_the_files_in_flight_and_the_job_ends(tmp_path):
    spec, inputs = script_job(tmp_path, DYING_SCRIPT, {f"part-{i}.csv": "".join(f"{i * 10 + k},1\n" for k in range(4))
                                                       for i in range(5)})
    out = tmp_path / "out"
    result = transform(str(inputs), str(out), model=str(spec), engine="inprocess", BatchStrategy="SingleRecord",
                       MaxConcurrentTransforms=2, **CSV_JOB)
    assert not result.ok
    failed = {Path(entry["file"]).name: entry for entry in result.failed}
    assert "part-1.csv" in failed  # 13 is in it
    assert (failed["part-1.csv"]["status"], failed["part-1.csv"]["message"]) == (
        500, "a worker process of the inprocess engine died (out of memory, or killed); "
             "run with MaxConcurrentTransforms=1 to see the failure in this process")
    assert set(failed) | {p.name.removesuffix(".out") for p in out.glob("*.out")} == {f"part-{i}.csv" for i in range(5)}
    assert (out / "part-0.csv.out").read_text() == "".join(f"{float(k)},1.0\n" for k in range(4))
    assert not (out / "part-1.csv.out").exists()


def test_configuration_errors_exit_2_with_the_message(abalone_spec, abalone_inputs, tmp_path):
    proc = run_cli("--model", str(abalone_spec), "--engine", "inprocess", "--input", str(abalone_inputs),
                   "--output", str(tmp_path / "out"), "--max-payload-mb", "101")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("serving: 1 validation error detected: Value '101' at 'maxPayloadInMB' failed to "
                                   "satisfy constraint: Member must have value less than or equal to 100")


def test_inprocess_engine_needs_a_spec(abalone_inputs, tmp_path):
    proc = run_cli("--endpoint", "http://127.0.0.1:9", "--engine", "inprocess", "--input", str(abalone_inputs),
                   "--output", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "--engine inprocess runs the containers itself and needs --model SPEC" in proc.stderr


def test_a_file_whose_rerun_fails_keeps_no_output_from_the_earlier_run(abalone_spec, abalone_inputs, tmp_path):
    out = tmp_path / "out"
    job = dict(model=str(abalone_spec), engine="inprocess", BatchStrategy="MultiRecord", **CSV_JOB)
    assert transform(str(abalone_inputs), str(out), **job).written == 2
    assert (out / "first.csv.out").is_file()
    (abalone_inputs / "first.csv").write_text("M,0.4,0.3\n")  # now a record the featurizer refuses
    result = transform(str(abalone_inputs), str(out), **job)
    assert [f["file"] for f in result.failed] == [str(abalone_inputs / "first.csv")]
    assert not (out / "first.csv.out").exists()  # no stale predictions under a glob of *.out
    manifest = json.loads((out / ".transform-manifest.json").read_text())["files"]
    assert manifest["first.csv"]["status"] == "Failed"
    assert manifest["part/second.csv"]["status"] == "Completed"
    again = transform(str(abalone_inputs), str(out), **job)  # still failing: done again, not skipped
    assert (again.skipped, len(again.failed)) == (1, 1)


def test_an_output_location_that_cannot_be_written_fails_before_any_record_is_scored(abalone_spec, abalone_inputs,
                                                                                      tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    report = tmp_path / "report.json"
    proc = run_cli("--model", str(abalone_spec), "--engine", "http", "--input", str(abalone_inputs),
                   "--output", str(tmp_path / "a-file" / "out"), "--content-type", "text/csv",
                   "--report", str(report))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"serving: cannot write to the output location {tmp_path / 'a-file' / 'out'}: "
                                   "Not a directory; give an --output folder this user can write")
    assert "Traceback" not in proc.stderr and "started" not in proc.stderr  # no pipeline was brought up
    doc = json.loads(report.read_text())
    assert (doc["status"], doc["files"], doc["error"]) == ("Failed", 0, proc.stderr.strip().removeprefix("serving: "))
