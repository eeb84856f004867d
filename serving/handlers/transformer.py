"""The handler chain: the user's hooks where defined, the framework's defaults elsewhere.

``Transformer.from_settings`` is the one way a container's handler chain is loaded (the
server app and batch transform's in-process engine both call it); ``Transformer.invoke`` is
the whole of ``POST /invocations`` minus HTTP: check the Content-Type, negotiate the Accept,
then ``input_fn -> predict_fn -> output_fn`` (or ``transform_fn``). Typed errors raised by
any hook pass through with their status, as do exceptions with an integer ``status_code``
(the AWS toolkits' errors); any other exception from a hook is a fault in the model (500),
logged with its traceback and answered with a one-line message.

What a hook returns is answered as on AWS: bytes or str as they are, a ``(body,
content_type)`` pair, a ``flask.Response``, or a ``dict``/``list``, which Flask (the AWS
containers' server) writes as compact JSON with sorted keys and a final newline.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from .. import codecs
from ..codecs.mediatype import MediaType, negotiate
from ..errors import BadRequest, ModelError, from_script
from ..frameworks import framework_class
from .archive import resolve_model_dir
from .script import find_script, import_script, install_requirements, user_hooks

log = logging.getLogger("serving")


@dataclass
class Result:
    body: bytes
    content_type: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class Transformer:
    def __init__(self, framework, hooks: dict | None = None):
        self.framework = framework
        self.settings = framework.settings
        self.hooks = hooks or {}
        framework.using_script(self.hooks)
        self.model: Any = None
        self.default_accept = self.settings.default_accept or framework.default_accept or "application/json"
        # What negotiation may choose: anything the client names when the user writes the
        # output, else what the framework's encoder produces.
        custom_output = "output_fn" in self.hooks or "transform_fn" in self.hooks
        self.offered = None if custom_output else framework.output_types
        self.checks_content_type = not ("input_fn" in self.hooks or "transform_fn" in self.hooks)

    @classmethod
    def from_settings(cls, settings) -> "Transformer":
        """A container's handler chain, loaded: its framework, the user's script, the model."""
        framework = framework_class(settings.framework)(settings)
        model_dir = resolve_model_dir(settings.model_dir)
        script = find_script(model_dir, settings.program, settings.submit_directory)
        module = None
        if script is not None:
            install_requirements(script)
            module = import_script(script)
            log.info("user script %s defines %s", script, ", ".join(user_hooks(module)) or "no hooks")
        transformer = cls(framework, user_hooks(module))
        transformer.load(model_dir)
        return transformer

    def hook(self, name: str):
        return self.hooks.get(name) or getattr(self.framework, name)

    def load(self, model_dir: str) -> None:
        self.model = self.hook("model_fn")(model_dir)

    def execution_parameters(self) -> Any:
        fn = self.hooks.get("execution_parameters_fn")
        return fn() if fn else self.settings.execution_parameters()

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Result:
        ctype = self.content_type(content_type)
        if self.framework.answers_in_request_type and self.offered is not None:
            chosen = ctype
        else:
            chosen = negotiate(accept, self.offered, self.default_accept)
        data: bytes | str = body
        if codecs.is_text(ctype):
            data = codecs.body_as_text(body, ctype)
        transform_fn = self.hooks.get("transform_fn")
        if transform_fn is not None:
            out = self.call(transform_fn, self.model, data, ctype, chosen)
        else:
            decoded = self.call(self.hook("input_fn"), data, ctype)
            prediction = self.call(self.hook("predict_fn"), decoded, self.model)
            out = self.call(self.hook("output_fn"), prediction, chosen)
        return self.result(out, chosen)

    def content_type(self, header: str | None) -> MediaType:
        accepted = self.framework.input_types
        if not header:
            raise codecs.unsupported("the request has no Content-Type", accepted)
        try:
            ctype = MediaType.parse(header)
        except BadRequest as exc:
            raise codecs.unsupported(str(exc), accepted) from None
        if self.checks_content_type and ctype not in accepted:
            raise codecs.unsupported(f"Content-Type '{ctype.full}' is not supported", accepted)
        return ctype

    @staticmethod
    def call(fn, *args):
        try:
            return fn(*args)
        except Exception as exc:
            error = from_script(exc, getattr(fn, "__name__", "the model"))
            if error is not exc and error.status >= 500:
                log.exception("%s raised", getattr(fn, "__name__", fn))
            raise error from (None if error is exc else exc)

    @staticmethod
    def result(out: Any, chosen: MediaType) -> Result:
        if isinstance(out, Result):  # a framework's answer with a status of its own (204)
            return out
        if is_response(out):
            headers = {k: v for k, v in out.headers.items() if k.lower() not in ("content-type", "content-length")}
            return Result(out.get_data(), _without_added_charset(out.headers.get("Content-Type"), chosen), out.status_code, headers)
        content_type = chosen.full
        if isinstance(out, tuple) and len(out) == 2:
            out, content_type = out
        if isinstance(out, (dict, list)):
            return Result(flask_json(out), "application/json")
        if isinstance(out, str):
            out = out.encode()
        elif not isinstance(out, (bytes, bytearray, memoryview)):
            raise ModelError(
                f"output_fn returned a {type(out).__name__}; it must return bytes or str, a (body, content_type) "
                "pair, a dict or list (answered as JSON), or a flask.Response"
            )
        return Result(bytes(out), str(content_type))


def flask_json(value: Any) -> bytes:
    """A dict or list as Flask writes one a view returns (``jsonify``, outside debug mode)."""
    try:
        return (json.dumps(value, separators=(",", ":"), sort_keys=True, default=_tolist) + "\n").encode()
    except (TypeError, ValueError) as exc:
        raise ModelError(f"output_fn returned a {type(value).__name__} that is not JSON: {exc}") from None


def _tolist(value: Any) -> Any:
    if hasattr(value, "tolist"):  # NumPy values, which Flask's encoder does not know either
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def is_response(obj: Any) -> bool:
    """A flask/werkzeug Response (duck-typed: the server itself does not import Flask)."""
    return hasattr(obj, "get_data") and hasattr(obj, "status_code")


def _without_added_charset(content_type: str | None, chosen: MediaType) -> str:
    """Drop the ``charset=utf-8`` werkzeug adds to ``text/*`` mimetypes.

    ``Response(body, mimetype="text/csv")`` is sent as ``text/csv; charset=utf-8``, which the
    next container of a pipeline may not accept (the AWS containers compare exact strings).
    The script asked for ``text/csv``; that is what goes out.
    """
    if not content_type:
        return chosen.full
    sent = MediaType.parse(content_type)
    if sent.params == {"charset": "utf-8"} and "charset" not in chosen.params:
        return str(sent) if str.__ne__(sent, chosen) else chosen.full
    return content_type
