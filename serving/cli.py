"""The ``serving`` command.

``serving serve`` is the container entrypoint; the other subcommands (``endpoint``,
``transform``, ``sparkml``) live next to the code they drive and register themselves here
through a ``register(subparsers)`` function in a light module (no heavy imports at the top).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dataclasses import fields

from .errors import ConfigurationError
from .settings import Settings, add_arguments

SUBCOMMAND_MODULES = (
    "serving.pipeline.cli",
    "serving.transform.cli",
    "serving.frameworks.sparkml.cli",
    "serving.api.cli",
)


def add_serve(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the container's HTTP server (the image entrypoint)",
        description="Serve /ping, /invocations and /execution-parameters. Flags override "
        "SAGEMAKER_* environment variables, which override defaults.",
    )
    add_arguments(p)
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from .server.serve import serve

    settings = Settings.from_env(**{f.name: getattr(args, f.name, None) for f in fields(Settings)})
    serve(settings)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="serving", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_serve(subparsers)
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that part of the toolkit is not installed
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except ConfigurationError as exc:
        print(f"serving: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
