"""The README's commands and `make demo`, run as a user would run them."""

import subprocess
import sys

import pytest

from tests.conftest import ABALONE, REPO, ServerProcess


def test_readme_quickstart(tmp_path):
    out = tmp_path / "build" / "abalone"
    r = subprocess.run([sys.executable, "examples/abalone/train.py", "--out", str(out)], cwd=REPO,
                       capture_output=True, text=True, check=True)
    assert r.stdout.splitlines() == [f"saved {out / 'featurizer' / 'model.joblib'}", f"saved {out / 'regressor' / 'model.joblib'}"]
    server = ServerProcess(out / "featurizer", framework="sklearn")
    try:
        body = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\nF,0.53,0.42,0.135,0.677,0.2565,0.1415,0.21"
        curl = subprocess.run(["curl", "-s", "-H", "Content-Type: text/csv", "--data-binary", body,
                               f"localhost:{server.port}/invocations"], capture_output=True, text=True, check=True)
        rows = __import__("json").loads(curl.stdout)
        assert len(rows) == 2 and len(rows[0]) == 10
    finally:
        server.stop()


def test_make_demo_runs_end_to_end(tmp_path):
    r = subprocess.run([sys.executable, "examples/demo.py", "--data", str(ABALONE), "--build", str(tmp_path)],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "POST 8 CSV rows -> 200 application/json" in out
    first = next(line for line in out.splitlines() if line.startswith("M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"))
    true_rings, predicted, age = first.split()[1:]
    assert true_rings == "15" and abs(float(age) - float(predicted) - 1.5) < 0.011
    assert "a bad request (3 columns) gets 424 ModelError:" in out
    assert '"OriginalStatusCode": 400' in out
    assert 'sagemaker_invocations_total{endpoint="abalone-demo"} 2.0' in out
    assert 'sagemaker_container_latency_seconds_count{container="featurizer",endpoint="abalone-demo"} 2.0' in out
    assert "stopped: every container and the router are down" in out
    # the built-in algorithm pipelines (their answers are checked against the libraries in
    # tests/pipeline/test_abalone_xgboost.py and tests/sparkml/test_example_builtin.py)
    assert out.count("POST 5 CSV rows -> 200 text/csv") == 2
    assert "SAGEMAKER_INFERENCE_OUTPUT=predicted_label,probabilities:" in out
    assert "POST 4 abstracts as CSV -> 200 application/jsonlines" in out
    labels = [line.split()[0] for line in out.splitlines() if line.startswith("  __label__")]
    assert labels == ["__label__1", "__label__2", "__label__3", "__label__4"]
    assert out.rstrip().endswith("stopped: the built-in algorithm pipelines are down")


def test_docs_xgboost_commands(tmp_path):
    """docs/xgboost.md: train the example, serve its regressor with the command shown."""
    out = tmp_path / "build" / "abalone-xgboost"
    subprocess.run([sys.executable, "examples/abalone-xgboost/train.py", "--data", str(ABALONE), "--out", str(out)],
                   cwd=REPO, capture_output=True, text=True, check=True)
    server = ServerProcess(out / "xgboost-regressor", framework="xgboost")
    try:
        features = ServerProcess(out / "featurizer", framework="sklearn")
        try:
            rows = features.invoke("M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15", accept="text/csv").text
        finally:
            features.stop()
        r = server.invoke(rows)
        assert r.status_code == 200 and 3 < float(r.text) < 30, r.text
    finally:
        server.stop()


@pytest.mark.spark
def test_docs_blazingtext_commands(tmp_path):
    """docs/blazingtext.md: train the example, serve its classifier with the command shown."""
    out = tmp_path / "build" / "sparkml-blazingtext"
    subprocess.run([sys.executable, "examples/sparkml-blazingtext/train.py", "--out", str(out)],
                   cwd=REPO, capture_output=True, text=True, check=True, timeout=300)
    server = ServerProcess(out / "blazingtext", framework="blazingtext")
    try:
        r = server.invoke('{"instances": ["the university campus and its students"], "configuration": {"k": 2}}',
                          content_type="application/json")
        assert r.status_code == 200, r.text
        assert r.json()[0]["label"][0] == "__label__2" and len(r.json()[0]["prob"]) == 2
    finally:
        server.stop()
