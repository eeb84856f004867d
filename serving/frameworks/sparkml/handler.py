"""The ``sparkml`` framework: serve an MLeap bundle or a saved Spark model with the NumPy
runtime (no JVM, no pyspark), many rows per request, one answer row per input row.

- ``model_fn`` loads the model found in the model directory and the schema from
  ``SAGEMAKER_SPARKML_SCHEMA`` or ``schema.json`` (checked against the model at start-up),
  else the one the model implies. A model that implies none (no stages) still starts, as
  the AWS container does: then every request brings its schema (JSON and JSON Lines can).
- ``input_fn`` keeps the body as text; ``predict_fn`` parses it with the schema in force
  (the request's own ``schema`` wins), builds typed columns, runs the stages and picks the
  output column; ``output_fn`` writes one record per input row. A body with no rows is
  answered 204 with no body, as the AWS container answers it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...codecs import body_as_text
from ...codecs.mediatype import MediaType
from ...errors import BadRequest, ConfigurationError
from ...handlers.transformer import Result
from ..model.handler import ModelFramework
from . import wire
from .model import SparkMLModel, load_model
from .schema import Schema, check_schema, default_schema, parse_schema, rows_to_frame

log = logging.getLogger("serving")

SCHEMA_VARIABLE = "SAGEMAKER_SPARKML_SCHEMA"
SCHEMA_FILE = "schema.json"


NO_SCHEMA = ("Input schema has to be provided either via environment variable or via the request: set "
             f"{SCHEMA_VARIABLE} or put schema.json beside the model, or send application/json or "
             'application/jsonlines with a "schema" object')


@dataclass
class Served:
    """What ``model_fn`` returns: the model and the schema in force when a request brings
    none (the configured one, else the model's default, built once at load; ``None`` when
    the model implies none)."""

    model: SparkMLModel
    schema: Schema | None

    def schema_for(self, raw: Any) -> Schema:
        if raw is not None:
            schema = parse_schema(raw, "the request's schema", BadRequest)
            check_schema(schema, self.model, BadRequest)
            return schema
        if self.schema is None:
            raise BadRequest(NO_SCHEMA)
        return self.schema


@dataclass
class Request:
    text: str
    content_type: MediaType


@dataclass
class Prediction:
    values: list[Any]  # one per input row; None where Spark would have dropped the row


class SparkMLFramework(ModelFramework):
    name = "sparkml"
    output_types = ("text/csv", "application/jsonlines", "application/json")
    input_types = ("text/csv", "application/json", "application/jsonlines")
    default_accept = "text/csv"  # as the AWS Spark ML container

    def model_fn(self, model_dir: str) -> Served:
        model = load_model(model_dir)
        schema = configured_schema(self.settings, model_dir)
        if schema is not None:
            check_schema(schema, model)
            return Served(model, schema)
        try:
            return Served(model, default_schema(model))
        except ConfigurationError as exc:
            log.warning("%s; every request must bring its schema", exc)
            return Served(model, None)

    def input_fn(self, body: bytes | str, content_type: MediaType) -> Request:
        return Request(body if isinstance(body, str) else body_as_text(body, content_type), content_type)

    def predict_fn(self, data: Request, model: Served) -> Prediction:
        if data.content_type == "text/csv":
            rows, schema = wire.parse_csv(data.text), model.schema_for(None)
        elif data.content_type == "application/json":
            rows, schema = wire.parse_json(data.text, model.schema_for)
        else:
            rows, schema = wire.parse_jsonlines(data.text, model.schema_for)
        if not rows:
            return Prediction([])
        frame = rows_to_frame(rows, schema)
        model.model.transform(frame)
        output = schema.output
        if output.name not in frame:
            raise BadRequest(f"the output column '{output.name}' is not produced by the model; choose one of: "
                             f"{', '.join(model.model.outputs)}")
        return Prediction(wire.records(frame[output.name], len(rows), frame.origin, output.type))

    def output_fn(self, prediction: Prediction, accept: MediaType) -> tuple[bytes, str] | Result:
        if not prediction.values:
            return Result(b"", "", status=204)
        if accept == "text/csv":
            return wire.encode_csv(prediction.values), "text/csv"
        if accept == "application/jsonlines":
            # data=text changes the records, not the type: the AWS container answers
            # application/jsonlines, which the next container of a pipeline accepts
            return wire.encode_jsonlines(prediction.values, accept.params.get("data") == "text"), "application/jsonlines"
        return wire.encode_json(prediction.values), "application/json"


def configured_schema(settings: Any, model_dir: str) -> Schema | None:
    """The schema from the environment, else from ``schema.json`` next to the model."""
    raw = settings.sparkml_schema
    if raw:
        return parse_schema(raw, SCHEMA_VARIABLE)
    path = Path(model_dir) / SCHEMA_FILE
    if path.is_file():
        return parse_schema(path.read_text(), str(path))
    return None
