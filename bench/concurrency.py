"""Throughput as clients are added: one worker and two, at 1, 4 and 16 connections, against MLServer.

Two models, one featurized abalone row a request (CSV for ours, the same row as V2 JSON for
MLServer 1.7.1): ``--model xgboost``, the XGBoost regressor of ``bench/xgboost_container.py``
(its ``inplace_predict`` alone costs 0.3 ms of CPU, most of a request), or ``--model ridge``,
the scikit-learn Ridge regressor of the abalone example (17 µs compiled: what is measured is
the server). The load generator is wrk, as there. Each configuration is run ``--rounds`` times, interleaved,
and the median reported. ``--baseline DIR`` also serves the same model from another checkout
of this project (an earlier commit: ``git worktree add DIR COMMIT``) in the same rounds, so
that a change to the server is measured against what it replaces on the same machine at the
same time. Goals: per-worker throughput at 16 connections at least that at 1; p99 at 16 no
worse than the baseline's; at least 2.5x MLServer's throughput at 16. Run:

    .venv/bin/python bench/concurrency.py [--model ridge|xgboost] [--workers 1,2] [--seconds 5] [--rounds 3] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import xgboost_container as xc  # noqa: E402

CONNECTIONS = (1, 4, 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="each wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", help="another checkout of this project, served in the same rounds")
    parser.add_argument("--model", choices=("xgboost", "ridge"), default="ridge")
    parser.add_argument("--workers", default="1,2", help="worker counts of ours to run, comma-separated")
    parser.add_argument("--mlserver-venv", default=str(xc.REPO / "build" / "peers" / "mlserver"))
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-concurrency-"))
    featurizer_dir, model_dir, _ = xc.load_example("abalone-xgboost/train.py").train(xc.ABALONE, folder / "models")
    import joblib
    import pandas as pd

    abalone = xc.load_example("abalone/train.py")
    frame = pd.read_csv(xc.ABALONE, header=None, names=abalone.FEATURES + [abalone.LABEL]).iloc[:1]
    row = joblib.load(featurizer_dir / "model.joblib").transform(frame[abalone.FEATURES])
    csv_body = (",".join(repr(float(v)) for v in row[0]) + "\n").encode()
    v2_body = json.dumps({"inputs": [{"name": "input-0", "shape": [1, row.shape[1]], "datatype": "FP64",
                                      "data": row[0].tolist()}]}).encode()
    mlserver = xc.mlserver_venv(Path(args.mlserver_venv))

    framework, served = ("xgboost", model_dir) if args.model == "xgboost" else ("sklearn", folder / "models" / "regressor")
    implementation, model_file = (("mlserver_xgboost.XGBoostModel", model_dir / "xgboost-model") if args.model == "xgboost"
                                  else ("mlserver_sklearn.SKLearnModel", served / "model.joblib"))

    def ours(code: Path, workers: int):
        def start():
            process, port = xc.start_ours(served, workers, code, framework)
            return process, f"http://127.0.0.1:{port}/invocations", csv_body, "text/csv"
        return start

    def peer():
        process, port = xc.start_mlserver(mlserver, model_file, folder, implementation)
        return process, f"http://127.0.0.1:{port}/v2/models/abalone/infer", v2_body, "application/json"

    servers = {"MLServer 1.7.1 (1 process)": peer}
    for label, code in (("ours", xc.REPO), ("baseline", args.baseline)):
        if code is None:
            continue
        for workers in map(int, args.workers.split(",")):
            servers[f"{label}, {workers} worker{'s' * (workers > 1)}"] = ours(Path(code), workers)
    runs: dict[str, dict[int, list[dict]]] = {name: {c: [] for c in CONNECTIONS} for name in servers}
    for _ in range(args.rounds):
        for name, start in servers.items():
            process, url, body, content_type = start()
            try:
                urllib.request.urlopen(urllib.request.Request(url, body, {"Content-Type": content_type})).read()
                for connections in CONNECTIONS:
                    runs[name][connections].append(xc.wrk(url, body, content_type, connections, args.seconds, folder))
            finally:
                xc.stop(process)
            shutil.rmtree(folder / "mlserver", ignore_errors=True)

    def median(name: str, connections: int, key: str) -> float:
        return statistics.median(run[key] for run in runs[name][connections])

    print(f"model {args.model}; median of {args.rounds} rounds of {args.seconds} s, wrk\n")
    print(f"{'server':<30}" + "".join(f" {'rps c=' + str(c):>10}" for c in CONNECTIONS)
          + f" {'p50 c=1':>9} {'p99 c=16':>9}  rps c=16 per round")
    for name in servers:
        rps = [median(name, c, "rps") for c in CONNECTIONS]
        print(f"{name:<30}" + "".join(f" {r:>10.0f}" for r in rps)
              + f" {median(name, 1, 'p50'):>7.3f}ms {median(name, 16, 'p99'):>7.2f}ms  "
              + ", ".join(f"{run['rps']:.0f}" for run in runs[name][16]))
    peer_rps = median("MLServer 1.7.1 (1 process)", 16, "rps")
    for name in list(servers)[1:]:
        print(f"{name}: c=16 / c=1 {median(name, 16, 'rps') / median(name, 1, 'rps'):.2f}; "
              f"{median(name, 16, 'rps') / peer_rps:.2f}x MLServer's throughput at 16")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
