"""Serving overhead of one container: served latency against the same handler in-process.

For the abalone featurizer and regressor, each served alone by ``serving serve``:

- in-process: ``Transformer.invoke`` on the same body, no HTTP (the floor);
- served, concurrency 1: p50 / p99 over keep-alive HTTP requests from one client;
- served, concurrency 16: requests per second from 16 client threads.

Overhead = served p50 - in-process p50 (goal: at most 0.3 ms). For scale, the last row is
the floor of any server on this machine: the same client against a few lines of Python that
answer every request with fixed bytes, without parsing it. Run:

    .venv/bin/python bench/single_container.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "examples" / "abalone"))

from tests.conftest import ABALONE, ServerProcess  # noqa: E402
import train  # noqa: E402

from serving.frameworks import framework_class  # noqa: E402
from serving.handlers.transformer import Transformer  # noqa: E402
from serving.settings import Settings  # noqa: E402


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def in_process(model_dir: Path, body: bytes, content_type: str, n: int) -> list[float]:
    settings = Settings.from_env({}, framework="sklearn", model_dir=str(model_dir))
    transformer = Transformer(framework_class("sklearn")(settings))
    transformer.load(str(model_dir))
    times = []
    for _ in range(n):
        t = time.perf_counter()
        transformer.invoke(body, content_type, None)
        times.append(time.perf_counter() - t)
    return times


def served(port: int, body: bytes, content_type: str, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": content_type}
    times = []
    for _ in range(n):
        t = time.perf_counter()
        conn.request("POST", "/invocations", body, headers)
        response = conn.getresponse()
        response.read()
        times.append(time.perf_counter() - t)
        assert response.status == 200
    conn.close()
    return times


# Reads a request head (and a Content-Length body), answers fixed bytes: no HTTP library at all.
FLOOR_SERVER = r"""
import socket, sys, threading
answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n[9.241707570301456]\n"
listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
def serve(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = b""
    while data := conn.recv(65536):
        buffer += data
        while b"\r\n\r\n" in buffer:
            head, _, rest = buffer.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0]) if b"content-length:" in head.lower() else 0
            if len(rest) < length:
                break
            buffer = rest[length:]
            conn.sendall(answer)
while True:
    threading.Thread(target=serve, args=(listener.accept()[0],), daemon=True).start()
"""


def floor(body: bytes, content_type: str, n: int) -> list[float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", FLOOR_SERVER, str(port)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        served(port, body, content_type, 200)
        return served(port, body, content_type, n)
    finally:
        server.kill()
        server.wait()


def throughput(port: int, body: bytes, content_type: str, n: int, clients: int = 16) -> float:
    per_client = n // clients

    def work():
        served(port, body, content_type, per_client)

    threads = [threading.Thread(target=work) for _ in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return per_client * clients / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    out = Path(tempfile.mkdtemp(prefix="bench-single-"))
    featurizer, regressor = train.train(ABALONE, out)
    row = ",".join(ABALONE.read_text().splitlines()[0].split(",")[:8]).encode()
    features = b"[[-0.57,-0.43,-1.06,-0.64,-0.61,-0.73,-0.64,0.0,0.0,1.0]]"
    cases = [("featurizer", featurizer, row, "text/csv"), ("regressor", regressor, features, "application/json")]

    print(f"{args.requests} requests of one row; served with {args.workers} worker(s)\n")
    header = f"{'container':<11} {'in-proc p50':>12} {'served p50':>11} {'served p99':>11} {'overhead p50':>13} {'req/s @16':>10}"
    print(header)
    print("-" * len(header))
    for name, model_dir, body, ctype in cases:
        local = in_process(model_dir, body, ctype, args.requests)
        server = ServerProcess(model_dir, framework="sklearn", workers=args.workers)
        try:
            served(server.port, body, ctype, 200)  # warm up
            remote = served(server.port, body, ctype, args.requests)
            rps = throughput(server.port, body, ctype, args.requests)
        finally:
            server.stop()
        lp50, sp50, sp99 = statistics.median(local), statistics.median(remote), percentile(remote, 99)
        print(f"{name:<11} {lp50 * 1e3:>10.3f}ms {sp50 * 1e3:>9.3f}ms {sp99 * 1e3:>9.3f}ms "
              f"{(sp50 - lp50) * 1e3:>11.3f}ms {rps:>10.0f}")
    raw = floor(features, "application/json", args.requests)
    print(f"{'floor':<11} {'-':>12} {statistics.median(raw) * 1e3:>9.3f}ms {percentile(raw, 99) * 1e3:>9.3f}ms "
          f"{statistics.median(raw) * 1e3:>11.3f}ms {'-':>10}")


if __name__ == "__main__":
    main()
