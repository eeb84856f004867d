"""A transform job: find the files, split, batch, invoke, assemble, write; report and resume.

``transform(...)`` is the Python API; it takes SageMaker's own option names::

    from serving.transform import transform
    result = transform("data/", "out/", model="pipeline.yaml", engine="inprocess",
                       ContentType="text/csv", SplitType="Line", BatchStrategy="MultiRecord",
                       AssembleWith="Line", Accept="text/csv")

Input and output are local files or S3 (``files``: the locations, names and manifest).
Files are independent: a failed file is reported (file, records, container, status,
message) and the job goes on; ``result.ok`` is False when any file failed, and the CLI
exits non-zero.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..errors import ConfigurationError, ServingError
from . import files
from .chain import Failure
from .dataproc import DataProcessing
from .options import TransformOptions
from .records import Batch, RecordTooLarge, Records, batches, split

log = logging.getLogger("serving.transform")

REPORT = files.REPORT


@dataclass
class PreparedFile:
    """One input file split and batched, or the reason it could not be."""

    item: files.InputFile
    source: Records | None = None  # records as read (the join's input side)
    sent: Records | None = None  # records after the InputFilter (what is sent)
    batches: list[Batch] = field(default_factory=list)
    stamp: dict | None = None  # the version read (size, mtime, SHA-256; or size, ETag), for the manifest
    error: dict | None = None

    @property
    def records(self) -> int:
        return len(self.source) if self.source is not None else 0

    def bodies(self) -> Iterator[bytes]:
        for batch in self.batches:
            yield self.sent.payload(batch.first, batch.stop)


@dataclass
class JobResult:
    files: int = 0
    written: int = 0
    skipped: int = 0
    failed: list[dict] = field(default_factory=list)
    records: int = 0
    seconds: float = 0.0
    report_path: str | None = None  # a path or an s3:// URI
    stopped: bool = False  # the job was asked to stop before every file was done

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        return (f"transform: {self.files} file(s): {self.written} written, {self.skipped} skipped, "
                f"{len(self.failed)} failed; {self.records} records in {self.seconds:.2f} s ({rate:,.0f} records/s)")

    def to_dict(self) -> dict:
        status = "Stopped" if self.stopped else "Completed" if self.ok else "Failed"
        return {"files": self.files, "written": self.written, "skipped": self.skipped,
                "failed": self.failed, "records": self.records, "seconds": round(self.seconds, 3),
                "status": status}


class Job:
    def __init__(self, input: str, output: str, options: TransformOptions, engine, model_id: str,
                 progress: bool | None = None, report: str | None = None, stop=None):
        self.input = input
        self.stop = stop  # a threading.Event: once set, no further output is written (StopTransformJob)
        self.output = files.output_for(output)
        self.requested = options
        self.engine = engine
        self.model_id = model_id
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.report_path = files.checked(report, "report", "write") if report else self.output.location_of(REPORT)
        self.output_checked = False
        self.inputs: list[files.InputFile] | None = None

    def run(self) -> JobResult:
        started = time.perf_counter()
        self.check_output()
        inputs = self.discover()
        options = self.requested.resolve(self.engine.execution_parameters())
        log.info("MaxConcurrentTransforms=%s, MaxPayloadInMB=%s, BatchStrategy=%s", options.MaxConcurrentTransforms,
                 options.MaxPayloadInMB, options.BatchStrategy)
        self.options = options
        self.dataproc = DataProcessing.from_options(options)
        self.output.remove_stale_temps()
        manifest = files.Manifest(self.output, files.fingerprint(self.requested.as_dict(), self.model_id))
        result = JobResult(files=len(inputs))
        todo = []
        for item in inputs:
            if manifest.is_done(item):
                result.skipped += 1
            else:
                manifest.forget(item)
                todo.append(item)
        with ExitStack() as stack:
            bar = stack.enter_context(_progress_bar(self.progress))
            self.engine.start(options)
            stack.callback(self.engine.close)
            for prepared, outcomes in self.engine.process(self.prepare(item) for item in todo):
                if self.stop is not None and self.stop.is_set():
                    result.stopped = True  # this file's output is not written: a stopped job's outputs are the
                    break                  # files finished before the stop, and a rerun resumes after them
                error = prepared.error or self.finish(prepared, outcomes)
                if error is None:
                    manifest.record(prepared.item, prepared.stamp, prepared.records)
                    result.written += 1
                    result.records += prepared.records
                else:
                    # an output from an earlier run must not pass for this run's: a consumer reading *.out
                    # would take stale predictions for fresh ones
                    self.output.remove(prepared.item.relative)
                    manifest.record_failure(prepared.item, error)
                    result.failed.append(error)
                    log.error("%s: %s", prepared.item.relative, error["message"])
                if bar is not None:
                    bar.update(prepared.records)
        result.seconds = time.perf_counter() - started
        self.write_report(result)
        return result

    def check_output(self) -> None:
        """An output location that cannot be written fails the job now, with a report where one can be written."""
        if self.output_checked:
            return
        try:
            self.output.check_writable()
        except ConfigurationError as exc:
            self.write_report(JobResult(), error=str(exc), missing_ok=True)
            raise
        self.output_checked = True

    def discover(self) -> list[files.InputFile]:
        """The inputs (a missing bucket, an empty prefix or a bad manifest fails the job here)."""
        if self.inputs is None:
            self.inputs = files.discover(self.input, self.output, self.requested.S3DataType)
        return self.inputs

    def prepare(self, item: files.InputFile) -> PreparedFile:
        prepared = PreparedFile(item)
        try:
            data, prepared.stamp = files.read_input(item, self.options.CompressionType)
            source = split(data, self.options.SplitType)
            prepared.source = source
            prepared.sent = self.dataproc.filter_input(source)
            prepared.batches = batches(prepared.sent, self.options.BatchStrategy, self.options.max_payload_bytes)
        except RecordTooLarge as exc:
            prepared.error = self.entry(item, exc.batch.describe(), None, exc.status, exc.message)
        except ServingError as exc:
            prepared.error = self.entry(item, "", None, exc.status, exc.message)
        return prepared

    def finish(self, prepared: PreparedFile, outcomes: list) -> dict | None:
        """Assemble and write a file's output, or return its report entry."""
        for batch, outcome in zip(prepared.batches, outcomes):
            if isinstance(outcome, Failure):
                return self.entry(prepared.item, batch.describe(), outcome.container, outcome.status, outcome.message)
        if len(outcomes) != len(prepared.batches):
            return self.entry(prepared.item, "", None, 0, "the engine returned fewer responses than requests sent")
        try:
            chunks = list(self.assemble(prepared, outcomes))
        except ServingError as exc:
            return self.entry(prepared.item, "", None, exc.status, exc.message)
        content_type = next((o.content_type for o in outcomes if o.content_type), None)
        try:
            self.output.write(prepared.item.relative, chunks, content_type)
        except ConfigurationError as exc:  # the output could not be written: no output, as for any failure
            return self.entry(prepared.item, "", None, 500, str(exc))
        return None

    def assemble(self, prepared: PreparedFile, outcomes: list) -> Iterator[bytes]:
        """Responses in input order; ``AssembleWith Line`` ends each record with a newline.

        SageMaker documents Line as "a newline after each record"; SageMaker's local mode adds
        one blindly, which doubles the newline a CSV or JSON Lines container already ends
        its rows with. Adding one only where it is missing gives one line per record whether
        the records went one by one (SingleRecord) or together (MultiRecord).
        """
        line = self.options.AssembleWith == "Line"
        for batch, outcome in zip(prepared.batches, outcomes):
            if self.dataproc.touches_output:
                try:
                    pieces = self.dataproc.process_output(prepared.source, batch, outcome.body, outcome.content_type)
                except ServingError as exc:
                    raise type(exc)(f"records {batch.describe()}: {exc.message}") from None
            else:
                pieces = [outcome.body]
            for piece in pieces:
                yield piece
                if line and not piece.endswith(b"\n"):
                    yield b"\n"

    def entry(self, item: files.InputFile, records: str, container: str | None, status: int, message: str) -> dict:
        return {"file": item.name, "output": self.output.name(item.relative), "records": records,
                "container": container, "status": status, "message": message}

    def write_report(self, result: JobResult, error: str | None = None, missing_ok: bool = False) -> None:
        options = getattr(self, "options", self.requested)
        body = {**result.to_dict(), "options": {k: v for k, v in options.as_dict().items() if k != "Environment"}}
        if error is not None:
            body.update(status="Failed", error=error)
        if getattr(self.engine, "url", None):
            body["endpoint"] = self.engine.url
        try:
            files.save(self.report_path, json.dumps(body, indent=2).encode() + b"\n")
        except (OSError, ConfigurationError):
            if not missing_ok:
                raise
            return  # the report would go where nothing can be written: the error says why
        result.report_path = self.report_path


def _progress_bar(enabled: bool):
    if not enabled:
        return nullcontext()
    from tqdm import tqdm

    return tqdm(unit=" records", unit_scale=True, desc="transform", file=sys.stderr)


def transform(input: str, output: str, *, model: str | None = None, endpoint: str | None = None,
              engine: str = "http", master: str | None = None, backend: str = "process",
              progress: bool | None = None, report: str | None = None, **sagemaker_options: Any) -> JobResult:
    """Run a transform job; options take SageMaker's names (``SplitType="Line"``, ...)."""
    from .runner import engine_for

    options = TransformOptions.build(**sagemaker_options)
    job = Job(input, output, options, None, "", progress=progress, report=report)
    job.discover()  # before any container starts, and before anything is written
    job.check_output()
    with engine_for(engine, model=model, endpoint=endpoint, master=master, options=options,
                    backend=backend) as (built, model_id):
        job.engine, job.model_id = built, model_id
        return job.run()


__all__ = ["transform", "Job", "JobResult", "TransformOptions", "ConfigurationError"]
