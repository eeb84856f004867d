"""``serving sparkml ...`` subcommands (kept light: the exporter is imported when run)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("sparkml", help="Spark ML model tools")
    commands = parser.add_subparsers(dest="sparkml_command", required=True)
    export = commands.add_parser(
        "export", help="write an MLeap bundle (JSON) from a saved Spark PipelineModel, without a JVM",
        description="Convert a directory written by PipelineModel.write().save() into an MLeap bundle "
        "(a .zip, or an unzipped directory for /opt/ml/model).")
    add_export_arguments(export)
    export.set_defaults(func=_run_export)


def _size(text: str) -> tuple[str, int]:
    name, _, value = text.partition("=")
    if not name or not value.isdigit():
        raise argparse.ArgumentTypeError(f"'{text}' is not name=n (e.g. features=8)")
    return name, int(value)


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spark_model_dir", help="a directory written by PipelineModel.write().save()")
    parser.add_argument("bundle", help="where to write the bundle: a .zip, or a new directory")
    parser.add_argument("--input-size", action="append", type=_size, default=[], metavar="NAME=N",
                        help="width of an input column that is already a vector (repeatable)")


def _run_export(args) -> int:
    from .export import export

    path = export(args.spark_model_dir, args.bundle, dict(args.input_size))
    print(f"wrote the MLeap bundle {path}")
    return 0
