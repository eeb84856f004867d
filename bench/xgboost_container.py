"""The XGBoost container served, against the in-process booster and against MLServer.

One model, the abalone regressor of ``examples/abalone-xgboost`` (60 trees over the 10
featurized columns), one featurized row per request (what a pipeline's featurizer sends):

- in-process: ``Booster.predict`` on a one-row ``DMatrix`` made from the row (the floor the
  goal is measured from: no HTTP, no parsing), ``Booster.inplace_predict`` on the row (what
  the container calls), and our whole handler chain (``Transformer.invoke``: CSV in, CSV out);
- ours: ``serving serve --framework xgboost``, CSV in and out;
- MLServer 1.7.1 with its ``mlserver-xgboost`` runtime on the same model file, the V2 JSON
  protocol (``parallel_workers: 0``: its default inference pool dies on start on this
  machine, so MLServer runs inference in its one server process).

Both servers are driven by the same load generator, wrk (Debian's), with the same body for
every request: p50 latency at one connection, requests per second at 16. MLServer lives in a
venv of its own (``--mlserver-venv``; made with pip when missing). Run:

    .venv/bin/python bench/xgboost_container.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import xgboost as xgb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serving.frameworks.xgboost.compiled import compile_booster  # noqa: E402
from serving.handlers.transformer import Transformer  # noqa: E402
from serving.settings import Settings  # noqa: E402
from tests.conftest import ABALONE, load_example  # noqa: E402
from timing import median_ms  # noqa: E402  (bench/, the script's own folder)

MLSERVER = ("mlserver==1.7.1", "mlserver-xgboost==1.7.1", "mlserver-sklearn==1.7.1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s")


def wrk(url: str, body: bytes, content_type: str, connections: int, seconds: int, folder: Path) -> dict:
    """Requests per second and the latency percentiles wrk reports, for POSTs of ``body``."""
    script = folder / f"post-{abs(hash((url, body))) % 10**8}.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(body.decode())}\n'
                      f'wrk.headers["Content-Type"] = "{content_type}"\n')
    threads = min(connections, 2)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{url} answered errors under load:\n{out}")
    units = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    latency = {p: float(v) * units[u] for p, v, u in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)$", out, re.M)}
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": latency["50"],
            "p99": latency["99"]}


def in_process(booster: xgb.Booster, model_dir: Path, row: np.ndarray, body: bytes, n: int) -> tuple[float, ...]:
    def p50(fn) -> float:
        return median_ms(fn, n)

    booster.set_param("nthread", 1)
    floor = p50(lambda: booster.predict(xgb.DMatrix(row), validate_features=False))
    inplace = p50(lambda: booster.inplace_predict(row, validate_features=False))
    compiled = compile_booster(booster)
    assert np.array_equal(compiled.predict(row), booster.inplace_predict(row))
    walked = p50(lambda: compiled.predict(row))
    transformer = Transformer.from_settings(Settings.from_env({}, framework="xgboost", model_dir=str(model_dir)))
    chain = p50(lambda: transformer.invoke(body, "text/csv", "text/csv"))
    plain = Transformer.from_settings(Settings.from_env({"SERVING_XGBOOST_COMPILE": "false"}, framework="xgboost",
                                                        model_dir=str(model_dir)))
    assert plain.invoke(body, "text/csv", "text/csv").body == transformer.invoke(body, "text/csv", "text/csv").body
    chain_plain = p50(lambda: plain.invoke(body, "text/csv", "text/csv"))
    return floor, inplace, walked, chain, chain_plain


def mlserver_venv(path: Path) -> Path:
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    if subprocess.run([str(python), "-c", "import mlserver_xgboost, mlserver_sklearn"], capture_output=True).returncode:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *MLSERVER], check=True)
    return path / "bin" / "mlserver"


def start_mlserver(executable: Path, model_file: Path, folder: Path,
                   implementation: str = "mlserver_xgboost.XGBoostModel") -> tuple[subprocess.Popen, int]:
    """MLServer serving ``model_file`` (an XGBoost model, or a joblib file with
    ``mlserver_sklearn.SKLearnModel``) as the model "abalone"."""
    models = folder / "mlserver"
    (models / "abalone").mkdir(parents=True, exist_ok=True)
    file = "model.ubj" if "xgboost" in implementation else "model.joblib"
    shutil.copy(model_file, models / "abalone" / file)
    port = free_port()
    (models / "settings.json").write_text(json.dumps({
        "http_port": port, "grpc_port": free_port(), "metrics_port": free_port(), "parallel_workers": 0,
        "debug": False}))
    (models / "abalone" / "model-settings.json").write_text(json.dumps({
        "name": "abalone", "implementation": implementation, "parameters": {"uri": f"./{file}", "version": "v1"}}))
    process = subprocess.Popen([str(executable), "start", str(models)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    wait_ready(f"http://127.0.0.1:{port}/v2/models/abalone/ready", process)
    return process, port


def start_ours(model_dir: Path, workers: int, code: Path = REPO, framework: str = "xgboost") -> tuple[subprocess.Popen, int]:
    """``serving serve`` of the checkout at ``code`` (this one by default) on a free port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SM_", "SERVING_"))}
    process = subprocess.Popen([sys.executable, "-m", "serving.cli", "serve", "--framework", framework,
                                "--model-dir", str(model_dir), "--host", "127.0.0.1", "--port", str(port),
                                "--workers", str(workers)], env={**env, "PYTHONPATH": str(code)},
                               cwd=str(code),  # python -m puts the working directory first on the path
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_ready(f"http://127.0.0.1:{port}/ping", process)
    return process, port


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)
    process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run")
    parser.add_argument("--mlserver-venv", default=str(REPO / "build" / "peers" / "mlserver"))
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-xgboost-"))
    featurizer_dir, model_dir, _ = load_example("abalone-xgboost/train.py").train(ABALONE, folder / "models")
    import joblib
    import pandas as pd

    abalone = load_example("abalone/train.py")
    frame = pd.read_csv(ABALONE, header=None, names=abalone.FEATURES + [abalone.LABEL]).iloc[:1]
    row = joblib.load(featurizer_dir / "model.joblib").transform(frame[abalone.FEATURES])
    csv_body = (",".join(repr(float(v)) for v in row[0]) + "\n").encode()
    v2_body = json.dumps({"inputs": [{"name": "input-0", "shape": [1, row.shape[1]], "datatype": "FP64",
                                      "data": row[0].tolist()}]}).encode()
    booster = xgb.Booster()
    booster.load_model(str(model_dir / "xgboost-model"))
    expected = booster.predict(xgb.DMatrix(row))[0]

    floor, inplace, walked, chain, chain_plain = in_process(booster, model_dir, row, csv_body, 3000)
    results = {}
    mlserver, port = start_mlserver(mlserver_venv(Path(args.mlserver_venv)), model_dir / "xgboost-model", folder)
    try:
        url = f"http://127.0.0.1:{port}/v2/models/abalone/infer"
        answer = json.loads(urllib.request.urlopen(urllib.request.Request(
            url, v2_body, {"Content-Type": "application/json"})).read())
        assert abs(answer["outputs"][0]["data"][0] - expected) < 1e-6, answer  # the same model answers the same
        results["MLServer 1.7.1 (mlserver-xgboost, V2 JSON, 1 process)"] = (
            wrk(url, v2_body, "application/json", 1, args.seconds, folder),
            wrk(url, v2_body, "application/json", 16, args.seconds, folder))
    finally:
        stop(mlserver)
    for workers in (1, 2):
        ours, port = start_ours(model_dir, workers)
        try:
            url = f"http://127.0.0.1:{port}/invocations"
            got = urllib.request.urlopen(urllib.request.Request(url, csv_body, {"Content-Type": "text/csv"})).read()
            assert float(got) == float(expected), got
            results[f"serving-xgboost (CSV, {workers} worker{'s' if workers > 1 else ''})"] = (
                wrk(url, csv_body, "text/csv", 1, args.seconds, folder),
                wrk(url, csv_body, "text/csv", 16, args.seconds, folder))
        finally:
            stop(ours)

    print(f"in-process Booster.predict (one-row DMatrix): p50 {floor:.3f} ms")
    print(f"in-process Booster.inplace_predict:          p50 {inplace:.3f} ms")
    print(f"in-process compiled booster:                 p50 {walked:.3f} ms")
    print(f"in-process handler chain (CSV in, CSV out):  p50 {chain:.3f} ms compiled, {chain_plain:.3f} ms with "
          "SERVING_XGBOOST_COMPILE=false\n")
    print(f"{'server':<56} {'p50 c=1':>9} {'p99 c=1':>9} {'rps c=1':>8} {'rps c=16':>9} {'p50 c=16':>9}")
    for name, (one, sixteen) in results.items():
        print(f"{name:<56} {one['p50']:>7.3f}ms {one['p99']:>7.3f}ms {one['rps']:>8.0f} {sixteen['rps']:>9.0f} "
              f"{sixteen['p50']:>7.2f}ms")
    mlserver_rps = next(iter(results.values()))[1]["rps"]
    for name, (one, sixteen) in list(results.items())[1:]:
        print(f"{name}: overhead over Booster.predict {one['p50'] - floor:.3f} ms at p50; "
              f"throughput {sixteen['rps'] / mlserver_rps:.2f}x MLServer's")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
