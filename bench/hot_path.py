"""The CPU one request costs in our own code, without sockets: the container app and the router.

- container: the container's WSGI app answering ``POST /invocations`` for the abalone
  regressor (one JSON row in, JSON out), as gunicorn's worker calls it;
- router: the router's WSGI app running one CSV row through a three-container pipeline whose
  containers answer fixed bytes without a network (the executor, the limits, the metrics and
  the error mapping, and nothing else).

Best of seven rounds of a few thousand calls each, so the machine's noise shows less than in
the served benchmarks. Run:

    .venv/bin/python bench/hot_path.py [--calls 5000]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "examples" / "abalone"))

import train  # noqa: E402

from serving.http.client import Answer  # noqa: E402
from serving.pipeline import spec as specs  # noqa: E402
from serving.pipeline.backends import READY, Container  # noqa: E402
from serving.pipeline.router import Pipeline, Router  # noqa: E402
from serving.server.app import App  # noqa: E402
from serving.settings import Settings  # noqa: E402
from tests.conftest import ABALONE  # noqa: E402


def environ(body: bytes, content_type: str) -> dict:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": "/invocations", "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(body)}


def start_response(status, headers, exc_info=None):
    return None


class FixedAnswers:
    """A container client that answers every request with the same CSV bytes."""

    def request(self, method, path, body=b"", headers=None, timeout=60.0, limit=None, **options):
        answer = Answer()
        answer.status, answer.headers, answer.chunks, answer.size = 200, {"content-type": "text/csv"}, [b"1,2\n"], 4
        answer.complete = True
        return answer


class Standing(Container):
    def start(self) -> None:
        self.state = READY

    def stop(self, grace: float = 30.0) -> None:
        pass


def router_app() -> Router:
    spec = specs.from_dict({"Containers": [{"ContainerHostname": n, "Command": ["-"]} for n in ("a", "b", "c")]})
    containers = []
    for container_spec in spec.containers:
        container = Standing("bench", container_spec, "127.0.0.1", 1)
        container.start()
        container.client = FixedAnswers()
        containers.append(container)
    return Router("bench", Pipeline(spec, containers))


def best(call, calls: int, rounds: int = 7) -> float:
    """Microseconds per call, best of ``rounds``."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        times.append((time.perf_counter() - started) / calls * 1e6)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    logging.getLogger("serving").setLevel(logging.WARNING)
    _, regressor = train.train(ABALONE, Path(tempfile.mkdtemp()))
    app = App(Settings.from_env({}, framework="sklearn", model_dir=str(regressor)))
    row = json.dumps([[0.1] * 10]).encode()
    router = router_app()
    csv_row = b"M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"
    container = lambda: b"".join(app(environ(row, "application/json"), start_response))  # noqa: E731
    pipeline = lambda: b"".join(router(environ(csv_row, "text/csv"), start_response))  # noqa: E731
    assert pipeline() == b"1,2\n" and json.loads(container())
    print(f"{'path':<40} {'µs per request':>15}")
    print(f"{'container app (regressor, JSON)':<40} {best(container, args.calls):>15.1f}")
    print(f"{'router app (3 containers, no network)':<40} {best(pipeline, args.calls):>15.1f}")


if __name__ == "__main__":
    main()
