"""A pipeline in one process: the router's executor with containers called directly.

Each stage is one container of the spec, loaded exactly as ``serving serve`` loads it (the
container app, :class:`serving.server.app.App`, built from the stage's settings), and called
with :meth:`~serving.server.app.App.invoke`, which answers what the container would answer
over HTTP, errors and request-size limit included. The request runs through the same
executor as the router's (:mod:`serving.pipeline.executor`), with the same limits, so the
bytes, the statuses and the failures are the http engine's.

Stages are plain data (picklable) so Spark executors can rebuild the chain themselves.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Mapping

from ..errors import ConfigurationError, ServingError
from ..pipeline import executor
from ..pipeline.executor import INFERENCE_ID, Limits

log = logging.getLogger("serving.transform")

ENDPOINT = "transform"  # the name the http engine's own endpoint has: log labels and messages match


@dataclass(frozen=True)
class Stage:
    name: str
    framework: str
    model_dir: str
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Failure:
    """A request that failed: which container (if one did), with which status and message."""

    container: str | None
    status: int
    message: str

    @classmethod
    def of(cls, error: ServingError) -> "Failure":
        """The record of a pipeline failure: the container's own status where there is one."""
        return cls(error.container, int(error.fields.get("OriginalStatusCode", error.status)), error.message)


@dataclass
class Response:
    body: bytes
    content_type: str


def stages_from_spec(spec) -> list[Stage]:
    """The stages of a :class:`serving.pipeline.spec.PipelineSpec` (our frameworks only), with their
    S3 artifacts fetched into the cache (on a Spark cluster, the cache must be a shared folder)."""
    stages = []
    for container in spec.containers:  # checked before anything is fetched
        if container.framework is None:
            raise ConfigurationError(
                f"container {container.hostname} has no Framework (it runs {container.image or container.command}); "
                "the inprocess and spark engines run only sklearn, sparkml and model containers: use --engine http"
            )
        if container.model_data is None and container.framework != "model":
            raise ConfigurationError(f"container {container.hostname} has no ModelDataUrl")
    for container in spec.fetched():
        stages.append(Stage(container.hostname, container.framework, container.model_data or "", dict(container.environment)))
    return stages


class LocalStep:
    """One loaded container, called without HTTP (an executor step)."""

    def __init__(self, stage: Stage, env: Mapping[str, str]):
        from ..server.app import App
        from ..settings import Settings

        self.name = stage.name
        self.label = f"{ENDPOINT}/{stage.name}"
        settings = Settings.from_env(env, framework=stage.framework, model_dir=stage.model_dir or None)
        self.app = App(settings)
        if self.app.model.transformer is None:  # fails the job at its start, as the endpoint's start would
            raise ConfigurationError(f"container {stage.name} did not load: {self.app.model.error}")

    def unavailable(self) -> str | None:
        return None

    def call(self, body: bytes, headers: dict[str, str], limit: int | None, timeout: float) -> executor.Reply:
        return executor.call_app(self.app, body, headers)


class Chain:
    """Loaded containers, invoked in order by the pipeline executor."""

    def __init__(self, stages: list[Stage], extra_env: Mapping[str, str] | None = None, limits: Limits | None = None):
        self.steps = [LocalStep(stage, {**stage.environment, **(extra_env or {})}) for stage in stages]
        self.limits = limits or Limits()

    def execution_parameters(self) -> dict:
        """What the first container's ``/execution-parameters`` would answer."""
        status, _, body = self.steps[0].app.execution_parameters()
        return json.loads(body) if status == 200 else {}

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Response | Failure:
        request = executor.Request(body, content_type, accept, {INFERENCE_ID: str(uuid.uuid4())})
        try:
            result = executor.run(self.steps, request, self.limits)
        except ServingError as exc:
            return Failure.of(exc)
        return Response(result.body, result.content_type or "application/octet-stream")
