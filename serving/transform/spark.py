"""The Spark engine: requests spread over executors, each running the in-process chain.

The driver splits and batches the files as the other engines do and hands Spark the
requests as ``(file, batch, body)`` items; ``mapPartitions`` runs each partition through
the handler chain, loaded once per Python worker (workers are reused between tasks, so a
chain survives from one partition to the next), and the driver collects the responses and
assembles the same ``.out`` files as the other engines. Model directories must be readable
at the same path on every executor (a shared file system on a cluster).

Files go to Spark in groups of about ``GROUP_BYTES`` of requests, so a large job does not
hold every response on the driver at once.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Iterable, Iterator, Mapping

from .chain import Chain, Failure, Response, Stage
from .engines import Engine

log = logging.getLogger("serving.transform")

GROUP_BYTES = 256 * 1024 * 1024
_CHAINS: dict[str, Chain] = {}  # per Python worker process: chains already loaded


def _chain(stages: list[Stage], env: Mapping[str, str]) -> Chain:
    key = json.dumps([[s.name, s.framework, s.model_dir, dict(s.environment)] for s in stages] + [dict(env)], sort_keys=True)
    chain = _CHAINS.get(key)
    if chain is None:
        chain = _CHAINS[key] = Chain(stages, env)
    return chain


def run_partition(stages: list[Stage], env: Mapping[str, str], content_type: str | None, accept: str | None):
    """The function each partition runs: invoke the chain on every item, in order."""

    def run(items: Iterable[tuple[int, int, bytes]]) -> Iterator[tuple]:
        chain = _chain(stages, env)
        for file_index, batch_index, body in items:
            outcome = chain.invoke(body, content_type, accept)
            if isinstance(outcome, Failure):
                yield file_index, batch_index, ("fail", outcome.container, outcome.status, outcome.message)
            else:
                yield file_index, batch_index, ("ok", outcome.body, outcome.content_type)

    return run


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
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            self.spark = active
            return
        # Executors must run a Python that can import serving: this one, unless the user chose.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
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
        items = [(f, b, body) for f, item in enumerate(group) if item.error is None
                 for b, body in enumerate(item.bodies())]
        answers: dict[int, dict[int, tuple]] = {}
        if items:
            sc = self.spark.sparkContext
            slices = min(len(items), sc.defaultParallelism * 4)
            run = run_partition(self.stages, self.environment, self.options.ContentType, self.options.Accept)
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
