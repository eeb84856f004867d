"""The Spark engine: requests spread over executors, each running the in-process chain.

The driver splits and batches the files as the other engines do and hands Spark the
requests as ``(file, batch, source)`` items; ``mapPartitions`` runs each partition through
the handler chain, loaded once per Python worker (workers are reused between tasks, so a
chain survives from one partition to the next), and the driver collects the responses and
assembles the same ``.out`` files as the other engines. Model directories must be readable
at the same path on every executor (a shared file system on a cluster).

A request's source is where its body lies in the input, when the body is one slice of an
uncompressed, unfiltered file: a local file's ``files.FileRange`` (path, start, end, size)
or an S3 object's ``files.S3Range`` (bucket, key, ETag, size, start, end). The executor
reads the slice itself (``os.pread``, or a ranged GET pinned with ``If-Match`` to the ETag
the driver read, so an object replaced meanwhile fails its file instead of mixing two
versions), and the driver does not push every body through the JVM (measured in ``local``
mode, that transfer delayed the first task by 0.1-0.2 s, a large part of the job's serial
share). Gzip input, an InputFilter or records with gaps between them send the body itself.
A local input must then be at the same path on every executor too; an S3 input needs the
executors to have S3 credentials (boto3's own chain: variables, profile, instance role).

Each group runs as exactly ``defaultParallelism`` partitions: a Spark task has a fixed cost
(about 0.1 s measured in ``local`` mode), so one task per core does best when requests are
of similar size, as MultiRecord batches are.

Files go to Spark in groups of about ``GROUP_BYTES`` of requests, so a large job does not
hold every response on the driver at once.
"""

from __future__ import annotations

import json
import logging
from typing import Iterable, Iterator, Mapping

from ..pipeline.executor import Limits
from ..settings import use_python_for_spark
from .chain import Chain, Failure, Response, Stage
from .engines import Engine
from .files import FileRange, S3Range, Unreadable

log = logging.getLogger("serving.transform")

GROUP_BYTES = 256 * 1024 * 1024
_CHAINS: dict[str, Chain] = {}  # per Python worker process: chains already loaded


def _chain(stages: list[Stage], env: Mapping[str, str], limits: Limits) -> Chain:
    key = json.dumps([[s.name, s.framework, s.model_dir, dict(s.environment)] for s in stages] + [dict(env)], sort_keys=True)
    chain = _CHAINS.get(key)
    if chain is None:
        chain = _CHAINS[key] = Chain(stages, env)
    chain.limits = limits
    return chain


def run_partition(stages: list[Stage], env: Mapping[str, str], content_type: str | None, accept: str | None,
                  limits: Limits):
    """The function each partition runs: invoke the chain on every item, in order."""

    def run(items: Iterable[tuple[int, int, bytes | FileRange | S3Range]]) -> Iterator[tuple]:
        chain = _chain(stages, env, limits)
        for file_index, batch_index, source in items:
            body = source if isinstance(source, bytes) else _read_slice(source)
            outcome = body if isinstance(body, Failure) else chain.invoke(body, content_type, accept)
            if isinstance(outcome, Failure):
                yield file_index, batch_index, ("fail", outcome.container, outcome.status, outcome.message)
            else:
                yield file_index, batch_index, ("ok", outcome.body, outcome.content_type)

    return run


def _read_slice(source: FileRange | S3Range) -> bytes | Failure:
    """The slice of the input the driver split, as the driver read it; a failure if it is not."""
    try:
        return source.read()
    except Unreadable as exc:
        return Failure(None, exc.status, exc.message)


def _sources(item, compressed: bool) -> Iterator[bytes | FileRange | S3Range]:
    """Each request of a prepared file: its slice of the input where it is one, else its body."""
    direct = not compressed and item.sent is item.source
    for batch in item.batches:
        span = item.sent.span(batch.first, batch.stop) if direct else None
        if span is None:
            yield item.sent.payload(batch.first, batch.stop)
        else:
            yield item.item.range(span[0], span[1], len(item.source.data))


class SparkEngine(Engine):
    name = "spark"

    def __init__(self, stages: list[Stage], environment: Mapping[str, str], master: str | None = None):
        self.stages = stages
        self.environment = dict(environment)
        self.master = master or "local[2]"
        self.spark = None
        self.owns_session = False

    def execution_parameters(self) -> dict | None:
        return Chain(self.stages[:1], self.environment).execution_parameters()

    def start(self, options) -> None:
        super().start(options)
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        # a session this process already runs (the caller's) is used and left running; only
        # one made here is stopped at the end
        if SparkSession.getActiveSession() is not None or SparkContext._active_spark_context is not None:
            self.spark = SparkSession.builder.getOrCreate()
            return
        use_python_for_spark()  # executors must run a Python that can import serving: this one, unless the user chose
        self.spark = (SparkSession.builder.master(self.master).appName("serving-transform")
                      .config("spark.ui.enabled", "false")
                      .config("spark.sql.shuffle.partitions", "2")
                      .getOrCreate())
        self.owns_session = True

    def process(self, prepared: Iterator) -> Iterator:
        group, size = [], 0
        for item in prepared:
            group.append(item)
            size += len(item.sent.data) if item.sent is not None else 0
            if size >= GROUP_BYTES:
                yield from self.run_group(group)
                group, size = [], 0
        if group:
            yield from self.run_group(group)

    def run_group(self, group: list) -> Iterator:
        compressed = self.options.CompressionType == "Gzip"
        items = [(f, b, source) for f, item in enumerate(group) if item.error is None
                 for b, source in enumerate(_sources(item, compressed))]
        answers: dict[int, dict[int, tuple]] = {}
        if items:
            sc = self.spark.sparkContext
            slices = min(len(items), sc.defaultParallelism)
            run = run_partition(self.stages, self.environment, self.options.ContentType, self.options.Accept,
                                Limits.for_transform(self.options.max_payload_bytes))
            for f, b, answer in sc.parallelize(items, slices).mapPartitions(run).collect():
                answers.setdefault(f, {})[b] = answer
        for f, item in enumerate(group):
            outcomes = []
            for b in range(len(item.batches) if item.error is None else 0):
                answer = answers[f][b]
                if answer[0] == "fail":
                    outcomes.append(Failure(*answer[1:]))
                    break
                outcomes.append(Response(*answer[1:]))
            yield item, outcomes

    def close(self) -> None:
        if self.owns_session and self.spark is not None:
            self.spark.stop()
