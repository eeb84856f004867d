"""The ``model`` framework, and what every framework is: the defaults a container runs when
the user script does not override them.

A framework is the four SageMaker hooks as methods; every framework subclasses
:class:`ModelFramework`. The server never calls a framework directly:
:class:`serving.handlers.transformer.Transformer` combines a framework with the
user's script (whose functions win) and drives the chain ``input_fn -> predict_fn ->
output_fn`` (or ``transform_fn``).

Hook arguments follow the AWS scikit-learn container so that existing scripts run
unchanged: ``input_fn(body, content_type)`` gets ``str`` for text types and ``bytes`` for
the rest, ``content_type`` is a :class:`~serving.codecs.mediatype.MediaType` (a ``str``
equal to the bare ``type/subtype``); ``output_fn(prediction, accept)`` gets the negotiated
type the same way and returns a body, a ``(body, content_type)`` pair or a
``flask.Response``.
"""

from __future__ import annotations

from typing import Any

from ... import codecs
from ...codecs.mediatype import MediaType
from ...errors import ConfigurationError


class ModelFramework:
    """No defaults but the codecs: the base of custom-algorithm containers (``model``)."""

    name = "model"
    #: media types the default ``output_fn`` can produce, best first (used for negotiation)
    output_types: tuple[str, ...] = codecs.ENCODABLE
    #: media types the default ``input_fn`` reads (named in 415 messages)
    input_types: tuple[str, ...] = codecs.DECODABLE
    #: a default Accept of the framework's own; ``None`` means the settings' default
    #: (``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, itself ``application/json``)
    default_accept: str | None = None
    #: answer in the request's Content-Type whatever the Accept (BlazingText's way), unless
    #: the user's script writes the output
    answers_in_request_type = False

    def __init__(self, settings: Any):
        self.settings = settings

    def using_script(self, hooks: dict) -> None:
        """Told once which hooks the user's script defines (none: no script), before serving;
        a framework whose defaults differ in script mode (XGBoost's) sets them here."""

    def model_fn(self, model_dir: str) -> Any:
        raise ConfigurationError(
            "this container has no default model_fn: the script given by SAGEMAKER_PROGRAM "
            "(or code/inference.py in the model directory) must define model_fn(model_dir)"
        )

    def input_fn(self, body: bytes | str, content_type: MediaType) -> Any:
        return codecs.decode(body, content_type)

    def predict_fn(self, data: Any, model: Any) -> Any:
        if callable(model):
            return model(data)
        if hasattr(model, "predict"):
            return model.predict(data)
        raise ConfigurationError(
            f"the model is a {type(model).__name__}, which has no predict(); define predict_fn"
        )

    def output_fn(self, prediction: Any, accept: MediaType) -> tuple[bytes, str]:
        return codecs.encode(prediction, accept), accept.full if accept.params else str(accept)
