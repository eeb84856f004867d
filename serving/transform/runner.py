"""Choosing and building the engine for ``--model SPEC`` or ``--endpoint URL``.

- ``http`` with ``--endpoint``: requests go to that running endpoint (a pipeline router or a
  single container).
- ``http`` with ``--model``: the pipeline is brought up for the job (the pipeline package's
  endpoint lifecycle, process or docker backend) and stopped at the end, failed or not.
- ``inprocess`` and ``spark``: the spec's containers are loaded as handler chains; nothing
  listens on a port.

The containers get the environment SageMaker gives a transform (``SAGEMAKER_BATCH=true``,
the job's ``Environment``, and the batch settings the job sets explicitly).
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from ..errors import ConfigurationError
from .chain import ENDPOINT, stages_from_spec
from .engines import Engine, HttpEngine, InProcessEngine, check_engine


@contextmanager
def engine_for(name: str, *, model: str | None, endpoint: str | None, master: str | None,
               options, backend: str = "process") -> Iterator[tuple[Engine, str]]:
    check_engine(name)
    if (model is None) == (endpoint is None):
        raise ConfigurationError("give exactly one of --model SPEC (a pipeline spec file) or --endpoint URL")
    environment = options.container_environment()
    if endpoint is not None:
        if name != "http":
            raise ConfigurationError(
                f"--engine {name} runs the containers itself and needs --model SPEC; --endpoint works with --engine http"
            )
        yield HttpEngine(endpoint), endpoint
        return
    spec, model_id = load_spec(model)
    if name == "http":
        with running_pipeline(spec, environment, backend) as endpoint:
            yield HttpEngine(endpoint.url, endpoint), model_id
        return

    stages = stages_from_spec(spec)
    if name == "inprocess":
        yield InProcessEngine(stages, environment), model_id
    else:
        from .spark import SparkEngine

        yield SparkEngine(stages, environment, master), model_id


def load_spec(path: str):
    from ..pipeline import spec as pipeline_spec

    spec = pipeline_spec.load(path)
    if getattr(spec, "mode", "Serial") != "Serial":
        raise ConfigurationError(f"{path} is a Direct-mode model; a transform runs a Serial pipeline")
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    return spec, f"{Path(path).resolve()}#{digest}"


@contextmanager
def running_pipeline(spec, environment: dict, backend: str, label: str | None = None, workers: int | None = None):
    """Bring the pipeline up on a free loopback port, yield the endpoint, and always bring it down;
    ``label`` prefixes the containers' log lines (default: the endpoint's name); ``workers``:
    gunicorn workers per container unless its Environment sets them."""
    from ..pipeline.endpoint import Endpoint

    containers = tuple(replace(c, environment={**c.environment, **environment}) for c in spec.containers)
    endpoint = Endpoint(replace(spec, containers=containers), name=ENDPOINT, port=0,
                        backend_name=backend, register=False, label=label, workers=workers)
    try:
        endpoint.start()
        yield endpoint
    finally:
        endpoint.down()
