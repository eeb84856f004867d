"""`make demo`: train the abalone models, serve them as real containers, query them.

1. trains the featurizer and the regressor of the public SageMaker pipeline example;
2. starts each as its own `serving serve` container on a loopback port;
3. sends real abalone rows (CSV) through the featurizer, its JSON output to the regressor,
   and prints the predicted rings next to the true ones;
4. shows a bad request and the clear 4xx it gets; stops everything.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent


def load_train():
    spec = importlib.util.spec_from_file_location("abalone_train", HERE / "abalone" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Container:
    def __init__(self, name: str, model_dir: Path, env: dict | None = None):
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "serving.cli", "serve", "--framework", "sklearn", "--model-dir", str(model_dir),
             "--port", str(self.port), "--host", "127.0.0.1", "--workers", "1"],
            env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/ping", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{self.name} did not become healthy in {timeout}s")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data" / "abalone.data"))
    parser.add_argument("--build", default="build")
    parser.add_argument("--rows", type=int, default=8)
    args = parser.parse_args()

    featurizer_dir, regressor_dir = load_train().train(args.data, Path(args.build) / "abalone")
    print(f"trained {featurizer_dir} and {regressor_dir}")

    containers = [Container("featurizer", featurizer_dir), Container("regressor", regressor_dir)]
    try:
        for c in containers:
            c.wait()
            print(f"{c.name} is serving on {c.url}")
        lines = Path(args.data).read_text().splitlines()[: args.rows]
        body = "\n".join(",".join(line.split(",")[:8]) for line in lines)
        features = requests.post(containers[0].url + "/invocations", data=body, headers={"Content-Type": "text/csv"})
        features.raise_for_status()
        rings = requests.post(containers[1].url + "/invocations", data=features.content,
                              headers={"Content-Type": features.headers["Content-Type"], "Accept": "text/csv"})
        rings.raise_for_status()
        print(f"\n{'input row':<55} {'true':>5} {'predicted':>9}")
        for line, predicted in zip(lines, rings.text.splitlines()):
            print(f"{','.join(line.split(',')[:8]):<55} {line.split(',')[8]:>5} {float(predicted):>9.2f}")
        bad = requests.post(containers[0].url + "/invocations", data="0.455,0.365", headers={"Content-Type": "text/csv"})
        print(f"\na bad request (2 columns) gets {bad.status_code}: {bad.json()['message']}")
    finally:
        for c in containers:
            c.stop()
    print("stopped")


if __name__ == "__main__":
    main()
