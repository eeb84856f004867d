"""``serving api``: the local SageMaker API (see docs/sagemaker-api.md).

Kept light: argparse only at import time; the service is imported when the command runs.
"""

from __future__ import annotations

import argparse
import sys

MB = 1024 * 1024


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "api", help="serve SageMaker's API and InvokeEndpoint on one port (for boto3 and the SageMaker SDK)",
        description="Answer boto3's sagemaker and sagemaker-runtime clients: models, endpoint configs, endpoints "
                    "(N copies each), transform jobs and the model registry, kept in SQLite under SERVING_HOME. "
                    "Point clients at it with AWS_ENDPOINT_URL=http://127.0.0.1:PORT.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--backend", default="process", choices=("process", "docker"), help="how containers run")
    p.add_argument("--workers", type=int, help="gunicorn workers per container unless its Environment sets them")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per container call (default 60)")
    p.add_argument("--startup-timeout", type=float, default=240.0,
                   help="seconds an endpoint's containers have to pass /ping (default 240)")
    p.add_argument("--account", default="123456789012", help="the account id in ARNs (default 123456789012)")
    p.add_argument("--region", default="us-east-1", help="region for ARNs of unsigned requests (default us-east-1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..logs import configure
    from ..pipeline.executor import Limits
    from .app import ApiServer

    configure(20)
    server = ApiServer(args.host, args.port, backend=args.backend, workers=args.workers,
                       limits=Limits(args.timeout), startup_timeout=args.startup_timeout, account=args.account,
                       region=args.region)
    server.start()
    print(f"serving api at {server.url}; point boto3 at it with AWS_ENDPOINT_URL={server.url}; Ctrl-C stops it",
          file=sys.stderr, flush=True)
    server.serve_forever()
    return 0
