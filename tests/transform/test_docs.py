"""Every command and the Python example in docs/transform.md, run in a folder laid out as the
page describes (pipeline.yaml, data/, labelled.csv, gz/)."""

from __future__ import annotations

import gzip
import os
import re
import shlex
import subprocess
import sys

import pytest

from .helpers import REPO, abalone_rows, write_spec

PAGE = REPO / "docs" / "transform.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), re.S)


COMMANDS = [line[2:] for block in blocks("console") for line in block.splitlines() if line.startswith("$ ")]


@pytest.fixture(scope="module")
def workdir(abalone_dirs, tmp_path_factory):
    root = tmp_path_factory.mktemp("docs")
    write_spec(root / "pipeline.yaml", *abalone_dirs)  # JSON is valid YAML
    (root / "data").mkdir()
    (root / "data" / "a.csv").write_text("\n".join(abalone_rows(0, 200)) + "\n")
    (root / "data" / "b.csv").write_text("\n".join(abalone_rows(200, 50)) + "\n")
    (root / "labelled.csv").write_text("\n".join(abalone_rows(0, 30, columns=9)) + "\n")
    (root / "gz").mkdir()
    (root / "gz" / "part.csv.gz").write_bytes(gzip.compress(("\n".join(abalone_rows(0, 40)) + "\n").encode()))
    return root


def test_the_page_shows_commands():
    assert len(COMMANDS) == 5 and all(c.startswith("serving transform ") for c in COMMANDS)


@pytest.mark.spark
@pytest.mark.parametrize("command", COMMANDS, ids=[f"command-{i + 1}" for i in range(len(COMMANDS))])
def test_documented_command_runs(command, workdir):
    args = shlex.split(command)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    proc = subprocess.run([sys.executable, "-m", "serving.cli", *args[1:]], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.fullmatch(r"transform: \d+ file\(s\): \d+ written, \d+ skipped, 0 failed; \d+ records in .*\n", proc.stdout)


def test_documented_python_example_runs(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    [code] = blocks("python")
    exec(compile(code, str(PAGE), "exec"), {})
    assert len((workdir / "out-api" / "a.csv.out").read_text().splitlines()) == 200


def test_documented_outputs_agree(workdir):
    """The first three commands wrote the same bytes (http, inprocess, spark)."""
    for name in ("a.csv.out", "b.csv.out"):
        expected = (workdir / "out" / name).read_bytes()
        assert (workdir / "out-inprocess" / name).read_bytes() == expected
        assert (workdir / "out-spark" / name).read_bytes() == expected
    scored = (workdir / "scored" / "labelled.csv.out").read_text().splitlines()
    assert [line.split(",")[0] for line in scored] == [r.split(",")[8] for r in abalone_rows(0, 30, columns=9)]
