"""Benchmark: the 3-container abalone pipeline through the router, each container alone, and
the same three steps in-process, in one run.

    python bench/pipeline.py [--requests 600] [--workers 2] [--no-write]

Goals (issue 4): at most 0.5 ms p50 added per hop (router plus HTTP), and throughput at
concurrency 16 at least 80% of the slowest container's alone. Prints a table and writes it
to docs/performance.md under "## Pipeline endpoint". The load generator is Python threads
with keep-alive connections on the same machine, so it competes for the same cores.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serving.frameworks import framework_class  # noqa: E402
from serving.handlers.transformer import Transformer  # noqa: E402
from serving.pipeline.endpoint import Endpoint  # noqa: E402
from serving.pipeline.process import allocate_block, release_block  # noqa: E402
from serving.server.settings import Settings  # noqa: E402

ROW = b"M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\n"
CONCURRENCY = 16


def load(port: int, path: str, body: bytes, ctype: str, concurrency: int, total: int) -> tuple[float, float]:
    """(p50 seconds, requests per second) for ``total`` requests over ``concurrency`` keep-alive clients."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        mine = []
        for _ in range(n):
            t = time.perf_counter()
            conn.request("POST", path, body=body, headers={"Content-Type": ctype})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - t)
            if response.status != 200:
                raise RuntimeError(f"{path} on port {port} answered {response.status}")
        with lock:
            latencies.extend(mine)

    client(300)  # warm every worker, its caches and the connection pools
    latencies.clear()
    threads = [threading.Thread(target=client, args=(total // concurrency,)) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statistics.median(latencies), len(latencies) / (time.perf_counter() - started)


def serve_alone(framework: str, model_dir: Path, env: dict, workers: int):
    base = allocate_block()
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SM_"))}
    full.update(env, SAGEMAKER_BIND_TO_PORT=str(base), SAGEMAKER_MODEL_SERVER_WORKERS=str(workers),
                PYTHONPATH=str(REPO))
    process = subprocess.Popen([sys.executable, "-m", "serving.cli", "serve", "--framework", framework,
                                "--model-dir", str(model_dir), "--host", "127.0.0.1"], env=full,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", base, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return process, base
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{framework} container on {base} did not become healthy")


def in_process(steps, total: int) -> float:
    transformers = []
    for framework, model_dir, env in steps:
        settings = Settings.from_env(env, framework=framework, model_dir=str(model_dir))
        transformer = Transformer.from_settings(framework_class(framework)(settings), str(model_dir))
        transformer.load(str(model_dir))
        transformers.append(transformer)

    def run():
        body, ctype = ROW, "text/csv"
        for k, t in enumerate(transformers):
            result = t.invoke(body, ctype, "application/json" if k == len(transformers) - 1 else None)
            body, ctype = result.body, result.content_type
        return body

    for _ in range(30):
        run()
    latencies = []
    for _ in range(total):
        t = time.perf_counter()
        run()
        latencies.append(time.perf_counter() - t)
    return statistics.median(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per container")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "abalone.data"))
    parser.add_argument("--no-write", action="store_true", help="do not update docs/performance.md")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO / "examples" / "abalone"))
    import train

    build = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    featurizer, regressor = train.train(args.data, build)
    post = REPO / "examples" / "abalone" / "postprocessor"
    steps = [("sklearn", featurizer, {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/json"}),
             ("sklearn", regressor, {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}),
             ("model", post, {})]
    names = ["featurizer", "regressor", "postprocessor"]

    rows = []
    alone_p50, alone_rps = [], []
    body, ctype = ROW, "text/csv"
    for name, (framework, model_dir, env) in zip(names, steps):
        process, port = serve_alone(framework, model_dir, env, args.workers)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port)
            conn.request("POST", "/invocations", body=body, headers={"Content-Type": ctype})
            response = conn.getresponse()
            next_body, next_ctype = response.read(), response.getheader("Content-Type")
            p50, _ = load(port, "/invocations", body, ctype, 1, args.requests)
            _, rps = load(port, "/invocations", body, ctype, CONCURRENCY, args.requests * 2)
        finally:
            process.terminate()
            process.wait()
            release_block(port)
        rows.append((f"{name} alone", p50, rps))
        alone_p50.append(p50)
        alone_rps.append(rps)
        body, ctype = next_body, next_ctype

    spec = {"Containers": [{"ContainerHostname": n, "Framework": f, "ModelDataUrl": str(d), "Environment": e}
                           for n, (f, d, e) in zip(names, steps)]}
    with Endpoint.up(spec, name="bench", port=0, register=False, workers=args.workers, stop_grace=10) as endpoint:
        p50, _ = load(endpoint.port, "/invocations", ROW, "text/csv", 1, args.requests)
        _, rps = load(endpoint.port, "/invocations", ROW, "text/csv", CONCURRENCY, args.requests * 2)
    rows.append(("pipeline through the router", p50, rps))
    pipeline_p50, pipeline_rps = p50, rps
    local_p50 = in_process(steps, args.requests)
    rows.append(("same 3 steps in-process (no HTTP)", local_p50, float("nan")))

    added_per_hop = (pipeline_p50 - sum(alone_p50)) / len(names)
    http_per_hop = (pipeline_p50 - local_p50) / (len(names) + 1)
    share = pipeline_rps / min(alone_rps)
    table = [f"| setup | p50 latency (ms), concurrency 1 | throughput (req/s), concurrency {CONCURRENCY} |",
             "| --- | ---: | ---: |"]
    for label, p, r in rows:
        table.append(f"| {label} | {p * 1000:.2f} | {'—' if r != r else f'{r:.0f}'} |")
    summary = [
        f"- added per hop, router plus HTTP: (pipeline p50 − Σ containers alone p50) / 3 = "
        f"**{added_per_hop * 1000:.2f} ms** (goal ≤ 0.5 ms) — {'met' if added_per_hop <= 0.0005 else 'not met'}",
        f"- against the in-process chain, per HTTP hop (4 hops: client→router→3 containers): "
        f"{http_per_hop * 1000:.2f} ms",
        f"- throughput at concurrency {CONCURRENCY}: {pipeline_rps:.0f} req/s = **{share:.0%}** of the slowest "
        f"container alone ({min(alone_rps):.0f} req/s; goal ≥ 80%) — {'met' if share >= 0.8 else 'not met'}",
    ]
    text = "\n".join(table + [""] + summary)
    print(text)
    if not args.no_write:
        write_section(text, args)


def write_section(text: str, args) -> None:
    path = REPO / "docs" / "performance.md"
    current = path.read_text() if path.exists() else "# Performance\n"
    machine = (f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} when written, Python "
               f"{platform.python_version()}, {args.workers} gunicorn workers per container")
    section = (f"## Pipeline endpoint\n\n`python bench/pipeline.py` ({machine}; one abalone CSV row per request, "
               f"{args.requests} requests at concurrency 1, {args.requests * 2} at concurrency {CONCURRENCY}, "
               f"client threads on the same machine). Run on {time.strftime('%Y-%m-%d')}.\n\n{text}\n")
    pattern = re.compile(r"## Pipeline endpoint\n.*?(?=\n## |\Z)", re.S)
    updated = pattern.sub(lambda _: section.rstrip("\n") + "\n", current) if pattern.search(current) \
        else current.rstrip("\n") + "\n\n" + section
    path.write_text(updated)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
