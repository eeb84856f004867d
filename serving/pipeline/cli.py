"""``serving endpoint up | update | invoke | ls | down``.

Kept light: argparse only at import time; the endpoint machinery (prometheus_client, yaml,
the HTTP client) is imported inside the command that needs it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

MB = 1024 * 1024


def register(subparsers) -> None:
    group = subparsers.add_parser(
        "endpoint", help="run a serial inference pipeline behind one endpoint",
        description="Start, update, invoke, list and stop local pipeline endpoints (see docs/pipeline.md).",
    )
    commands = group.add_subparsers(dest="endpoint_command", required=True)

    up = commands.add_parser("up", help="start the containers and the router, serve until Ctrl-C / SIGTERM / down")
    up.add_argument("spec", help="pipeline spec: YAML or JSON shaped like SageMaker CreateModel")
    up.add_argument("--name", help="endpoint name (default: the spec's ModelName, else the spec file's name)")
    up.add_argument("--host", default="127.0.0.1", help="address the router binds (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=8080, help="router port (default 8080; 0 picks a free one)")
    up.add_argument("--backend", default="process", choices=("process", "docker", "inprocess"),
                    help="how containers run: child processes, docker containers, or all in the endpoint's process")
    up.add_argument("--workers", type=int, help="gunicorn workers per container unless its Environment sets them")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds per container call (default 60)")
    up.add_argument("--max-request-mb", type=float, default=6.0, help="client request body limit (default 6)")
    up.add_argument("--max-response-mb", type=float, default=6.0, help="response body limit (default 6)")
    up.add_argument("--max-hop-mb", type=float, default=5.0, help="limit between two containers (default 5)")
    up.add_argument("--startup-timeout", type=float, default=240.0, help="seconds to wait for every /ping (default 240)")
    up.add_argument("--stop-grace", type=float, default=30.0, help="seconds between SIGTERM and SIGKILL (default 30)")
    up.set_defaults(func=run_up)

    update = commands.add_parser("update", help="replace a running endpoint's pipeline, blue/green")
    update.add_argument("name")
    update.add_argument("spec")
    update.set_defaults(func=run_update)

    invoke = commands.add_parser("invoke", help="send one request, print the response body")
    invoke.add_argument("name")
    source = invoke.add_mutually_exclusive_group()
    source.add_argument("--body", help="request body text (default: read standard input)")
    source.add_argument("--file", help="read the request body from this file")
    invoke.add_argument("--content-type", default="text/csv", help="default text/csv")
    invoke.add_argument("--accept", help="the Accept header, given to the last container")
    invoke.add_argument("--custom-attributes", help="X-Amzn-SageMaker-Custom-Attributes")
    invoke.add_argument("--target-container", help="Direct mode: the container hostname to invoke")
    invoke.set_defaults(func=run_invoke)

    ls = commands.add_parser("ls", help="list running endpoints and their containers")
    ls.set_defaults(func=run_ls)

    down = commands.add_parser("down", help="stop a running endpoint and all its containers")
    down.add_argument("name")
    down.add_argument("--wait", type=float, default=90.0, help="seconds to wait for it to exit (default 90)")
    down.set_defaults(func=run_down)


def run_up(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..logs import configure
    from . import spec as specs
    from .endpoint import Endpoint
    from .executor import Limits

    configure(20)
    spec = specs.load(args.spec)
    limits = Limits(args.timeout, int(args.max_request_mb * MB), int(args.max_response_mb * MB), int(args.max_hop_mb * MB))
    endpoint = Endpoint(spec, name=args.name or spec.model_name or Path(args.spec).stem, host=args.host,
                        port=args.port, backend_name=args.backend, workers=args.workers, limits=limits,
                        startup_timeout=args.startup_timeout, stop_grace=args.stop_grace)
    endpoint.start()
    print(f"endpoint {endpoint.name} is up at {endpoint.url} ({', '.join(spec.hostnames)}); Ctrl-C stops it",
          file=sys.stderr, flush=True)
    endpoint.serve_forever()
    return 0


def _admin(entry: dict, method: str, action: str, payload: dict | None = None, timeout: float = 30.0):
    from ..http.client import Client

    client = Client("127.0.0.1", entry["port"])
    try:
        answer = client.request(method, f"/admin/{action}", json.dumps(payload or {}).encode(), timeout=timeout,
                                headers={"X-Serving-Admin-Token": entry["admin_token"],
                                         "Content-Type": "application/json"})
    finally:
        client.close()
    return answer.status, answer.json()


def run_update(args: argparse.Namespace) -> int:
    from . import spec as specs
    from .endpoint import lookup

    entry = lookup(args.name)
    spec = specs.load(args.spec)  # validated and paths resolved here, where the relative paths make sense
    started = time.monotonic()
    status, result = _admin(entry, "POST", "update", {"spec": spec.to_dict()}, timeout=900)
    if status != 200:
        print(f"serving: update of {args.name} failed, the old pipeline keeps serving: {result['message']}", file=sys.stderr)
        return 1
    print(f"endpoint {args.name} now runs {', '.join(result['containers'])} "
          f"(switched after {result['switch_seconds']:.1f} s, done in {time.monotonic() - started:.1f} s)")
    return 0


def run_invoke(args: argparse.Namespace) -> int:
    from ..errors import ConfigurationError
    from ..http.client import Client, RequestFailed
    from ..http.headers import InvalidHeader
    from .endpoint import lookup

    entry = lookup(args.name)
    if args.body is not None:
        body = args.body.encode()
    elif args.file:
        with open(args.file, "rb") as f:
            body = f.read()
    else:
        body = sys.stdin.buffer.read()
    headers = {"Content-Type": args.content_type}
    for header, value in (("Accept", args.accept), ("X-Amzn-SageMaker-Custom-Attributes", args.custom_attributes),
                          ("X-Amzn-SageMaker-Target-Container-Hostname", args.target_container)):
        if value is not None:
            headers[header] = value
    client = Client.for_url(entry["url"])
    try:
        response = client.request("POST", f"/endpoints/{args.name}/invocations", body, headers, timeout=120)
    except InvalidHeader as exc:
        raise ConfigurationError(str(exc)) from None
    except RequestFailed as exc:
        raise ConfigurationError(f"endpoint {args.name} at {entry['url']} did not answer: {exc}") from None
    finally:
        client.close()
    if response.status != 200:
        error = response.json() or {}
        print(f"serving: {response.status} {error.get('ErrorCode')}: {error.get('Message')}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(response.body)
    if not response.body.endswith(b"\n"):
        sys.stdout.write("\n")
    return 0


def run_ls(args: argparse.Namespace) -> int:
    from .endpoint import registered

    entries = registered()
    if not entries:
        print("no endpoints are running")
        return 0
    print(f"{'NAME':<20} {'PID':>7}  {'URL':<26} {'MODE':<7} CONTAINERS")
    for entry in entries:
        try:
            _, status = _admin(entry, "GET", "status", timeout=5)
            containers = ", ".join(f"{c['name']} ({c['state']})" for c in status["containers"])
            mode = status["mode"]
        except Exception as exc:  # noqa: BLE001 - a listing shows what it can
            containers, mode = f"not answering: {exc}", "?"
        print(f"{entry['name']:<20} {entry['pid']:>7}  {entry['url']:<26} {mode:<7} {containers}")
    return 0


def run_down(args: argparse.Namespace) -> int:
    import os
    import signal

    from .endpoint import alive, lookup, registry_path

    entry = lookup(args.name)
    try:
        _admin(entry, "POST", "shutdown", timeout=10)
    except Exception:  # noqa: BLE001 - a router that does not answer still gets the signal
        os.kill(entry["pid"], signal.SIGTERM)
    deadline = time.monotonic() + args.wait
    while alive(entry["pid"]) and registry_path(args.name).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(entry["pid"]) and registry_path(args.name).exists():
        print(f"serving: endpoint {args.name} (pid {entry['pid']}) is still stopping after {args.wait:g} s", file=sys.stderr)
        return 1
    print(f"endpoint {args.name} is down")
    return 0
