"""Helpers for the transform tests: a chaining proxy, a spec writer, abalone rows, the CLI.

``ChainProxy`` is a test stand-in for the pipeline router: it forwards one request through
real ``serving serve`` containers as SageMaker's Serial mode does (body and Content-Type
verbatim from hop to hop, Accept to the last container only) and answers a container's
error as the router does (424, ``x-amzn-ErrorType: ModelError``, the container in
``X-Serving-Failed-Container``, its status in ``OriginalStatusCode``), so the http engine is
tested against real containers without depending on the router.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from tests.conftest import ABALONE, REPO

PYTHON = sys.executable


class ChainProxy:
    def __init__(self, urls: list[str], names: list[str]):
        self.urls, self.names = urls, names
        proxy = self
        session = requests.Session()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                upstream = session.get(proxy.urls[0] + self.path, timeout=10)
                self.answer(upstream.status_code, upstream.content, upstream.headers.get("Content-Type", "text/plain"))

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ctype = self.headers.get("Content-Type")
                for i, (url, name) in enumerate(zip(proxy.urls, proxy.names)):
                    headers = {"Content-Type": ctype} if ctype else {}
                    if i == len(proxy.urls) - 1 and self.headers.get("Accept"):
                        headers["Accept"] = self.headers["Accept"]
                    upstream = session.post(url + "/invocations", data=body, headers=headers, timeout=60)
                    if upstream.status_code >= 400:
                        kind = "client" if upstream.status_code < 500 else "server"
                        message = (f"Received {kind} error ({upstream.status_code}) from {name} with message "
                                   f"\"{upstream.text}\"")
                        doc = json.dumps({"ErrorCode": "ModelError", "Message": message,
                                          "OriginalStatusCode": upstream.status_code})
                        return self.answer(424, doc.encode(), "application/json",
                                           {"x-amzn-ErrorType": "ModelError", "X-Serving-Failed-Container": name})
                    body, ctype = upstream.content, upstream.headers.get("Content-Type")
                self.answer(200, body, ctype)

            def answer(self, status, body, ctype, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def write_spec(path: Path, featurizer: Path, regressor: Path, extra_env: dict | None = None) -> Path:
    env = {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv", **(extra_env or {})}
    spec = {"Containers": [
        {"ContainerHostname": "featurizer", "Framework": "sklearn", "ModelDataUrl": str(featurizer), "Environment": env},
        {"ContainerHostname": "regressor", "Framework": "sklearn", "ModelDataUrl": str(regressor)},
    ]}
    path.write_text(json.dumps(spec))
    return path


def abalone_rows(start: int = 0, count: int | None = None, columns: int = 8) -> list[str]:
    lines = ABALONE.read_text().splitlines()
    stop = None if count is None else start + count
    return [",".join(line.split(",")[:columns]) for line in lines[start:stop]]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 240):
    return subprocess.run([PYTHON, "-m", "serving.cli", "transform", *args], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=timeout)
