"""A test container that reports what it received, and misbehaves on request.

A standalone program speaking the container contract (``GET /ping``, ``POST /invocations``
on ``SAGEMAKER_BIND_TO_PORT``), run through a spec's ``Command``: it needs to see request
headers, which the serving containers do not hand to user scripts.

It answers the body it got plus one JSON line about this hop: its name (``PROBE_NAME``)
and the Content-Type, Accept, custom attributes and inference id exactly as they arrived,
so chained probes build, line by line, the story of a request. Directives in the custom
attributes (which reach every container) make one probe misbehave: ``fail-NAME=STATUS``,
``sleep-NAME=SECONDS``, ``bytes-NAME=N`` (answer N bytes instead). It answers with
``PROBE_OUTPUT_TYPE`` as Content-Type, else the request's own, verbatim, and with custom
attributes ``NAME saw: <what it received>``.
"""

import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = os.environ.get("PROBE_NAME", "probe")


def directives(attributes):
    out = {}
    for part in (attributes or "").split(","):
        key, _, value = part.strip().partition("=")
        verb, _, target = key.partition("-")
        if target == NAME:
            out[verb] = value
    return out


class Probe(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the router's pool expects

    def do_GET(self):
        self.answer(200 if self.path == "/ping" else 404, b"", "text/plain")

    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        attributes = self.headers.get("X-Amzn-SageMaker-Custom-Attributes")
        todo = directives(attributes)
        if "sleep" in todo:
            time.sleep(float(todo["sleep"]))
        if "fail" in todo:
            return self.answer(int(todo["fail"]), f"{NAME} failed on purpose".encode(), "text/plain")
        if "bytes" in todo:
            body = b"x" * int(todo["bytes"])
        else:
            hop = {"name": NAME, "content_type": self.headers.get("Content-Type"), "accept": self.headers.get("Accept"),
                   "custom_attributes": attributes, "inference_id": self.headers.get("X-Amzn-SageMaker-Inference-Id")}
            body = data + json.dumps(hop).encode() + b"\n"
        out_type = os.environ.get("PROBE_OUTPUT_TYPE") or self.headers.get("Content-Type") or "application/octet-stream"
        self.answer(200, body, out_type, {"X-Amzn-SageMaker-Custom-Attributes": f"{NAME} saw: {attributes}"})

    def answer(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print(f"{NAME}: {format % args}", flush=True)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["SAGEMAKER_BIND_TO_PORT"])), Probe)
    server.daemon_threads = True
    print(f"{NAME} listening on {server.server_address[1]}", flush=True)
    server.serve_forever()
