"""A pipeline's handler chain in one process: the router's hops without HTTP.

Each stage is one container of the spec, built exactly as ``serving serve`` builds it
(framework + model directory + environment → ``Transformer``), and the chain passes a
request along exactly as the router passes it over HTTP (contract 3.2): each container's
response body and ``Content-Type`` (verbatim) become the next request, ``Accept`` goes to
the last container only, a container's request-size limit is checked as its server checks
it, and a status of 400 or more stops the chain naming the container. Same bytes at every
hop, so the output is byte-identical to the http engine's.

Stages are plain data (picklable) so Spark executors can rebuild the chain themselves.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Mapping

from ..errors import ConfigurationError, ServingError
from ..handlers.transformer import is_response
from ..server.app import too_large

log = logging.getLogger("serving.transform")


@dataclass(frozen=True)
class Stage:
    name: str
    framework: str
    model_dir: str
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Failure:
    """A request that failed: which container, with which status and message."""

    container: str | None
    status: int
    message: str


@dataclass
class Response:
    body: bytes
    content_type: str


def stages_from_spec(spec) -> list[Stage]:
    """The stages of a :class:`serving.pipeline.spec.PipelineSpec` (our frameworks only)."""
    stages = []
    for container in spec.containers:
        if container.framework is None:
            raise ConfigurationError(
                f"container {container.hostname} has no Framework (it runs {container.image or container.command}); "
                "the inprocess and spark engines run only sklearn, sparkml and model containers: use --engine http"
            )
        if container.model_data is None and container.framework != "model":
            raise ConfigurationError(f"container {container.hostname} has no ModelDataUrl")
        stages.append(Stage(container.hostname, container.framework, container.model_data or "", dict(container.environment)))
    return stages


class Chain:
    """Loaded transformers, invoked in order."""

    def __init__(self, stages: list[Stage], extra_env: Mapping[str, str] | None = None):
        from ..frameworks import framework_class
        from ..handlers.archive import resolve_model_dir
        from ..handlers.transformer import Transformer
        from ..server.settings import Settings

        self.names = [s.name for s in stages]
        self.transformers = []
        self.limits = []
        for stage in stages:
            env = {**stage.environment, **(extra_env or {})}
            settings = Settings.from_env(env, framework=stage.framework, model_dir=stage.model_dir or None)
            model_dir = resolve_model_dir(settings.model_dir)
            transformer = Transformer.from_settings(framework_class(settings.framework)(settings), model_dir)
            transformer.load(model_dir)
            self.transformers.append(transformer)
            self.limits.append(settings)

    def execution_parameters(self) -> dict:
        """What the first container's ``/execution-parameters`` would answer."""
        params = self.transformers[0].execution_parameters()
        if is_response(params):  # a flask Response from execution_parameters_fn
            params = json.loads(params.get_data())
        return params

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Response | Failure:
        last = len(self.transformers) - 1
        for i, (name, transformer, settings) in enumerate(zip(self.names, self.transformers, self.limits)):
            try:
                if len(body) > settings.max_payload_bytes:
                    raise too_large(len(body), settings)
                result = transformer.invoke(body, content_type, accept if i == last else None)
            except ServingError as exc:
                return Failure(name, exc.status, exc.message)
            if result.status >= 400:
                return Failure(name, result.status, result.body.decode("utf-8", "replace"))
            body, content_type = result.body, result.content_type
        return Response(body, content_type)
