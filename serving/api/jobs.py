"""Transform jobs of ``serving api``: CreateTransformJob's request as batch transform's options, and the run.

A job runs as ``serving transform --engine http`` runs one: the model's pipeline is brought
up on a loopback port for the job (the API's backend), records go through it, and it is
brought down at the end, failed or not. Its outputs, manifest and report are written under
``TransformOutput.S3OutputPath``, so a job resumed after a restart of ``serving api`` skips
the files it had finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading

from ..errors import ConfigurationError
from ..pipeline import spec as specs
from ..transform.engines import HttpEngine
from ..transform.job import Job
from ..transform.options import TransformOptions
from ..transform.runner import running_pipeline

log = logging.getLogger("serving.api")


def job_options(p: dict) -> tuple[str, str, TransformOptions]:
    """(input URI, output URI, options) of a CreateTransformJob request; raises ConfigurationError
    (SageMaker's ValidationException) where batch transform's rules refuse it."""
    source = p["TransformInput"]["DataSource"]["S3DataSource"]
    output = p["TransformOutput"]
    client = p.get("ModelClientConfig") or {}
    processing = p.get("DataProcessing") or {}
    options = TransformOptions.build(
        ContentType=p["TransformInput"].get("ContentType"), SplitType=p["TransformInput"].get("SplitType"),
        CompressionType=p["TransformInput"].get("CompressionType"), S3DataType=source.get("S3DataType"),
        BatchStrategy=p.get("BatchStrategy"), MaxPayloadInMB=p.get("MaxPayloadInMB"),
        MaxConcurrentTransforms=p.get("MaxConcurrentTransforms"), Accept=output.get("Accept"),
        AssembleWith=output.get("AssembleWith"), InputFilter=processing.get("InputFilter"),
        OutputFilter=processing.get("OutputFilter"), JoinSource=processing.get("JoinSource"),
        InvocationsTimeoutInSeconds=client.get("InvocationsTimeoutInSeconds"),
        InvocationsMaxRetries=client.get("InvocationsMaxRetries"), Environment=p.get("Environment") or None,
    )
    return source["S3Uri"], output["S3OutputPath"], options


def failure_summary(result) -> str:
    first = result.failed[0]
    where = f"container {first['container']} answered {first['status']}: " if first.get("container") else ""
    return (f"{len(result.failed)} of {result.files} input file(s) failed; the first, {first['file']} "
            f"(records {first['records'] or 'all'}): {where}{first['message']}")


def run_job(service, name: str, stop: threading.Event) -> None:
    """Run a recorded job to its end and record how it ended."""
    doc = service.recorded_job(name)
    try:
        source, output, options = job_options(doc)
        spec = specs.from_dict(doc["_spec"])
        model_id = f"{doc['_model_arn']}#" + hashlib.sha256(json.dumps(doc["_spec"], sort_keys=True).encode()).hexdigest()[:16]
        job = Job(source, output, options, None, model_id, progress=False, stop=stop)
        job.discover()
        job.check_output()
        if service.logs is not None:
            service.logs.watch(name, "/aws/sagemaker/TransformJobs", f"{name}/instance-1")
        with running_pipeline(spec, options.container_environment(), service.backend, label=name,
                              workers=service.workers) as endpoint:
            job.engine = HttpEngine(endpoint.url, endpoint)
            result = job.run()
    except ConfigurationError as exc:
        log.error("[%s] transform job failed: %s", name, exc)
        service.finish_job(name, "Stopped" if stop.is_set() else "Failed", None if stop.is_set() else str(exc))
        return
    except Exception as exc:  # noqa: BLE001 - the job's failure, not the service's
        log.exception("[%s] transform job failed", name)
        service.finish_job(name, "Failed", f"{type(exc).__name__}: {exc}")
        return
    log.info("[%s] %s", name, result.summary())
    if result.stopped and service.closing.is_set() and service.recorded_job(name)["TransformJobStatus"] == "InProgress":
        # serving api is shutting down, nobody stopped the job: it stays InProgress and the next start resumes it
        service.interrupted_job(name)
        return
    if result.stopped or stop.is_set():
        service.finish_job(name, "Stopped")
    elif result.ok:
        service.finish_job(name, "Completed")
    else:
        service.finish_job(name, "Failed", failure_summary(result))
