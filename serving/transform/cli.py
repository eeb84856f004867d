"""``serving transform``: a batch transform job from the command line.

Kept light (no imports beyond argparse at the top): ``serving --help`` loads every
subcommand's ``register``.
"""

from __future__ import annotations

import argparse
import sys

# flag -> SageMaker name
FLAGS = (
    ("--content-type", "ContentType", str, "MIME type sent as Content-Type (TransformInput.ContentType)"),
    ("--split-type", "SplitType", str, "None (whole file, default), Line or RecordIO"),
    ("--compression", "CompressionType", str, "None (default) or Gzip"),
    ("--data-type", "S3DataType", str, "S3Prefix (default: --input is a file, a folder, a glob or every object under "
     "s3://bucket/prefix) or ManifestFile (--input names a manifest: [{\"prefix\": \"s3://bucket/prefix/\"}, \"key\", ...])"),
    ("--batch-strategy", "BatchStrategy", str, "SingleRecord or MultiRecord (default: the container's /execution-parameters, else MultiRecord)"),
    ("--max-payload-mb", "MaxPayloadInMB", int, "request size limit in MB, 0-100 (default 6; 0 = no limit, chunked)"),
    ("--max-concurrent-transforms", "MaxConcurrentTransforms", int, "parallel requests (default: /execution-parameters, else 1)"),
    ("--accept", "Accept", str, "MIME type sent as Accept to the last container (TransformOutput.Accept)"),
    ("--assemble-with", "AssembleWith", str, "None (concatenate, default) or Line (newline after each record)"),
    ("--input-filter", "InputFilter", str, "JSONPath selecting what is sent, e.g. '$[1:]' (default '$')"),
    ("--output-filter", "OutputFilter", str, "JSONPath selecting what is written, e.g. '$[0,-1]' (default '$')"),
    ("--join-source", "JoinSource", str, "None (default) or Input: join each input record with its output"),
    ("--invocation-timeout", "InvocationsTimeoutInSeconds", int, "per-request timeout in seconds, 1-3600 (default 600)"),
    ("--max-retries", "InvocationsMaxRetries", int, "retries of a failed request, 0-3 (default 3)"),
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "transform",
        help="run a batch transform job (SageMaker semantics) over files or S3 objects",
        description="Score every record of the input files (local, or S3 objects) through a pipeline and write "
        "<file>.out per input file. "
        "Options follow SageMaker's CreateTransformJob; unset ones come from the container's "
        "/execution-parameters, then SageMaker's defaults.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", metavar="SPEC", help="pipeline spec (YAML/JSON, like CreateModel); brought up for the job")
    source.add_argument("--endpoint", metavar="URL", help="a running endpoint, e.g. http://127.0.0.1:8080")
    p.add_argument("--input", required=True, help="a file, a directory, a glob, s3://bucket/prefix (every object "
                   "under it) or, with --data-type ManifestFile, a manifest (a file or an s3:// object)")
    p.add_argument("--output", required=True, help="output directory or s3://bucket/prefix: <relative input name>.out "
                   "per input")
    for flag, name, kind, text in FLAGS:
        p.add_argument(flag, dest=name, type=kind, metavar=name, help=text)
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="container environment for the job (Environment; repeatable, at most 16)")
    p.add_argument("--engine", default="http", choices=("http", "inprocess", "spark"),
                   help="http (default): requests to the endpoint; inprocess: handler chain in this process; spark")
    p.add_argument("--master", help="Spark master for --engine spark (default local[2])")
    p.add_argument("--backend", default="process", choices=("process", "docker"),
                   help="how --model with --engine http runs the containers (default process)")
    p.add_argument("--report", help="failure report path or s3:// URI (default <output>/transform-report.json)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from ..errors import ConfigurationError
    from .job import transform

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    environment = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--env {item!r} must be KEY=VALUE")
        environment[key] = value
    values = {name: getattr(args, name) for _, name, _, _ in FLAGS}
    result = transform(args.input, args.output, model=args.model, endpoint=args.endpoint, engine=args.engine,
                       master=args.master, backend=args.backend, progress=args.progress, report=args.report,
                       Environment=environment or None, **values)
    print(result.summary())
    if not result.ok:
        print(f"transform: {len(result.failed)} file(s) failed; see {result.report_path}", file=sys.stderr)
        return 1
    return 0
