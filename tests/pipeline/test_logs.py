"""Container log lines in the endpoint's output: labelled by container, carrying the request id."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import requests

from tests.conftest import REPO

from .test_cli import wait_registered

SCRIPT = """
    import logging

    def model_fn(model_dir):
        return None

    def transform_fn(model, body, content_type, accept):
        logging.getLogger("serving.user").info("handled %d bytes", len(body))
        return body, content_type
"""


def spec_of_two(tmp_path) -> dict:
    containers = []
    for name in ("first", "second"):
        code = tmp_path / name / "code"
        code.mkdir(parents=True)
        (code / "inference.py").write_text(textwrap.dedent(SCRIPT))
        containers.append({"ContainerHostname": name, "Framework": "model", "ModelDataUrl": str(tmp_path / name)})
    return {"Containers": containers}


def test_each_containers_lines_are_labelled_and_carry_the_request_id(tmp_path):
    spec = tmp_path / "pipeline.json"
    spec.write_text(json.dumps(spec_of_two(tmp_path)))
    output = tmp_path / "endpoint.log"
    with open(output, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "serving.cli", "endpoint", "up", str(spec), "--name", "logs",
                                    "--port", "0", "--workers", "1"], cwd=REPO, stdout=out, stderr=subprocess.PIPE)
    try:
        entry = wait_registered("logs", process)
        response = requests.post(entry["url"] + "/invocations", data=b"abc", timeout=10,
                                 headers={"Content-Type": "application/octet-stream",
                                          "X-Amzn-SageMaker-Inference-Id": "trace-77"})
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    lines = output.read_text().splitlines()
    for name in ("first", "second"):
        mine = [line for line in lines if line.startswith(f"[logs/{name}] ")]
        assert any("serving.user: handled 3 bytes" in line for line in mine), lines
        access = [line for line in mine if "serving.access: POST /invocations 200 " in line]
        assert len(access) == 1 and "id=trace-77" in access[0], lines
