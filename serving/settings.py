"""Every variable the toolkit reads, as typed fields of two objects, read in this module only.

- :class:`Settings`: what one container reads (``SAGEMAKER_*``, ``SM_MODEL_DIR``,
  ``SERVING_*``). Precedence: command-line flags > environment variables > defaults.
- :class:`HostSettings`: what the tools on the host read (``SERVING_HOME``, ``DOCKER_HOST``,
  ``PYSPARK_PYTHON``).

Each field says, in its metadata, the variable it comes from and what it means; the
``serving serve`` flags and their help are made from the same metadata
(:func:`add_arguments`), so the CLI, the docs and the code cannot drift apart. No other
module calls ``os.environ``.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any, Callable, Mapping

from .errors import ConfigurationError

DEFAULT_MODEL_DIR = "/opt/ml/model"
#: variables a container reads; a pipeline's child processes do not inherit the endpoint's
CONTAINER_PREFIXES = ("SAGEMAKER_", "SM_", "SERVING_")


def _log_level(raw: str) -> int:
    if raw.isdigit():
        return int(raw)
    level = logging.getLevelName(raw.upper())
    if not isinstance(level, int):
        raise ValueError(raw)
    return level


def _upper(raw: str) -> str:
    return raw.strip().upper()


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise ValueError(raw)
    return value in ("true", "1")


_EXPECTED = {int: "a whole number", float: "a number", _log_level: "a log level (20 or INFO)",
             _boolean: "true or false"}


def setting(default: Any, env: str | None, help: str, *, convert: Callable[[str], Any] = str,
            flag: str | None = None, factory: Callable[[], Any] | None = None):
    """A field read from ``env`` (converted by ``convert``), shown as ``flag`` by ``serving serve``."""
    metadata = {"env": env, "help": help, "convert": convert, "flag": flag}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _read(cls, environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in fields(cls):
        var = f.metadata.get("env")
        raw = environ.get(var) if var else None
        if raw is None or raw == "":
            continue
        convert = f.metadata["convert"]
        try:
            values[f.name] = convert(raw)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"{var}={raw!r} is not valid: expected {_EXPECTED.get(convert, 'text')}") from None
    return values


@dataclass(frozen=True)
class ClientTimeouts:
    """How long a client may take, in a container (its settings) and at the router (the
    endpoint's): no client holds a connection longer than these allow."""

    body_timeout: float = setting(5.0, "SERVING_BODY_TIMEOUT", "seconds a request body may stop arriving "
                                                               "before the request is refused (408)", convert=float)
    body_deadline: float = setting(30.0, "SERVING_BODY_DEADLINE", "seconds a whole request body may take to "
                                                                  "arrive (408)", convert=float)
    write_timeout: float = setting(10.0, "SERVING_WRITE_TIMEOUT", "seconds a client has to read an answer before "
                                                                  "it is dropped", convert=float)

    def connection_options(self, **options: Any):
        """The HTTP layer's options with these timeouts."""
        from .http.protocol import Options

        return Options(body_timeout=self.body_timeout, body_deadline=self.body_deadline,
                       write_timeout=self.write_timeout, **options)


@dataclass(frozen=True)
class Settings(ClientTimeouts):
    """What one container reads. Build with :meth:`from_env`; tests pass a mapping."""

    framework: str = setting("model", "SERVING_FRAMEWORK", "the defaults to serve: sklearn, sparkml, xgboost, blazingtext or model",
                             flag="--framework")
    model_dir: str = setting(DEFAULT_MODEL_DIR, "SM_MODEL_DIR", "model directory or model.tar.gz",
                             flag="--model-dir")
    host: str = setting("0.0.0.0", None, "address to bind", flag="--host")
    port: int = setting(8080, "SAGEMAKER_BIND_TO_PORT", "port to listen on", convert=int, flag="--port")
    workers: int = setting(None, "SAGEMAKER_MODEL_SERVER_WORKERS", "worker processes (default: the CPU count)",
                           convert=int, flag="--workers", factory=lambda: os.cpu_count() or 1)
    threads: int = setting(4, "SERVING_WORKER_THREADS", "requests each worker runs at once", convert=int,
                           flag="--threads")
    timeout: int = setting(60, "SAGEMAKER_MODEL_SERVER_TIMEOUT", "seconds a worker may take for one request",
                           convert=int)
    graceful_timeout: int = setting(30, "SERVING_GRACEFUL_TIMEOUT",
                                    "seconds requests in flight get to finish after SIGTERM", convert=int)
    default_accept: str | None = setting(None, "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT",
                                         "response type when a request has no Accept (default: the framework's, "
                                         "else application/json)")
    max_payload_mb: float = setting(6.0, "SAGEMAKER_MAX_PAYLOAD_IN_MB", "largest request body, in MB", convert=float)
    max_concurrent_transforms: int | None = setting(None, "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS",
                                                    "what /execution-parameters advertises (default: workers)",
                                                    convert=int)
    batch_strategy: str = setting("MULTI_RECORD", "SAGEMAKER_BATCH_STRATEGY",
                                  "MULTI_RECORD or SINGLE_RECORD, advertised by /execution-parameters",
                                  convert=_upper)
    batch: bool = setting(False, "SAGEMAKER_BATCH", "true when the container serves a batch transform",
                          convert=_boolean)
    log_level: int = setting(logging.INFO, "SAGEMAKER_CONTAINER_LOG_LEVEL", "log level (20 or INFO)",
                             convert=_log_level)
    log_format: str = setting("text", "SERVING_LOG_FORMAT", "log lines as text or json")
    log_label: str = setting("", "SERVING_LOG_LABEL", "endpoint/container prefix of every log line (set by a "
                                                      "pipeline endpoint)")
    instance: str = setting("", "SERVING_INSTANCE", "a token /ping answers with (X-Serving-Instance), set by a "
                                                    "pipeline endpoint so it never takes another server for its own")
    program: str | None = setting(None, "SAGEMAKER_PROGRAM", "the user script (default code/inference.py)")
    submit_directory: str | None = setting(None, "SAGEMAKER_SUBMIT_DIRECTORY",
                                           "where the user script is: a directory or a .tar.gz")
    safe_port_range: str | None = setting(None, "SAGEMAKER_SAFE_PORT_RANGE",
                                          "ports the container may use besides its own (set by a pipeline)")
    sklearn_method: str | None = setting(None, "SERVING_SKLEARN_METHOD",
                                         "the estimator method sklearn calls (default predict, else transform)")
    sklearn_compile: bool = setting(True, "SERVING_SKLEARN_COMPILE",
                                    "false: run every scikit-learn step by scikit-learn, none compiled",
                                    convert=_boolean)
    xgboost_compile: bool = setting(True, "SERVING_XGBOOST_COMPILE",
                                    "false: every prediction by XGBoost itself, no booster compiled",
                                    convert=_boolean)
    sparkml_schema: str | None = setting(None, "SAGEMAKER_SPARKML_SCHEMA",
                                         "the Spark ML container's input and output schema (JSON)")
    inference_output: str | None = setting(None, "SAGEMAKER_INFERENCE_OUTPUT",
                                           "the XGBoost container's selectable output: keys such as "
                                           "predicted_label,probabilities")
    inference_ensemble: bool = setting(True, "SAGEMAKER_INFERENCE_ENSEMBLE",
                                       "true: every file of the XGBoost model directory is one model of an "
                                       "ensemble (only the exact value true, as on AWS)",
                                       convert=lambda raw: raw == "true")

    @property
    def max_payload_bytes(self) -> int:
        return int(self.max_payload_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Settings from ``environ`` (default: this process's environment) and non-None ``overrides``."""
        values = _read(cls, os.environ if environ is None else environ)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def with_overrides(self, **overrides: Any) -> "Settings":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def validate(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigurationError(f"port {self.port} is outside 1..65535")
        if self.workers < 1:
            raise ConfigurationError(f"SAGEMAKER_MODEL_SERVER_WORKERS must be at least 1, got {self.workers}")
        if self.threads < 1:
            raise ConfigurationError(f"SERVING_WORKER_THREADS must be at least 1, got {self.threads}")
        for name in ("body_timeout", "body_deadline", "write_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"SERVING_{name.upper()} must be positive, got {getattr(self, name)}")
        if self.max_payload_mb <= 0:
            raise ConfigurationError(f"SAGEMAKER_MAX_PAYLOAD_IN_MB must be positive, got {self.max_payload_mb}")
        if self.batch_strategy not in ("MULTI_RECORD", "SINGLE_RECORD"):
            raise ConfigurationError(
                f"SAGEMAKER_BATCH_STRATEGY must be MULTI_RECORD or SINGLE_RECORD, got {self.batch_strategy}"
            )
        if self.log_format not in ("text", "json"):
            raise ConfigurationError(f"SERVING_LOG_FORMAT must be text or json, got {self.log_format}")

    def execution_parameters(self) -> dict[str, Any]:
        return {
            "MaxConcurrentTransforms": self.max_concurrent_transforms or self.workers,
            "BatchStrategy": self.batch_strategy,
            "MaxPayloadInMB": int(self.max_payload_mb),
        }


def add_arguments(parser) -> None:
    """One ``serving serve`` flag per flagged field, its help made from the field's metadata."""
    for f in fields(Settings):
        flag = f.metadata.get("flag")
        if flag is None:
            continue
        convert = f.metadata["convert"]
        parts = [f.metadata["help"]]
        if f.metadata["env"]:
            parts.append(f"env {f.metadata['env']}")
        if f.default is not MISSING and f.default is not None:
            parts.append(f"default {f.default}")
        parser.add_argument(flag, dest=f.name, type=convert if convert is not str else None,
                            help="; ".join(parts))


def describe() -> list[tuple[str, str, str]]:
    """``(variable, default, meaning)`` for every variable a container reads, for the docs."""
    out = []
    for f in fields(Settings):
        if f.metadata.get("env"):
            default = "" if f.default is MISSING or f.default is None else str(f.default)
            out.append((f.metadata["env"], default, f.metadata["help"]))
    return out


@dataclass(frozen=True)
class HostSettings(ClientTimeouts):
    """What the endpoint, batch transform and docker tools read on the host (the client
    timeouts are the router's)."""

    home: str = setting(None, "SERVING_HOME", "where running endpoints register (default ~/.serving)",
                        factory=lambda: os.path.join(os.path.expanduser("~"), ".serving"))
    docker_host: str = setting("unix:///var/run/docker.sock", "DOCKER_HOST", "the Docker engine (read by the "
                                                                             "Docker SDK; named in errors)")
    image_prefix: str = setting("serving", "SERVING_IMAGE_PREFIX", "the docker backend runs <prefix>-<framework> for "
                                                                 "one of SageMaker's framework images")
    image_tag: str = setting("latest", "SERVING_IMAGE_TAG", "the tag of those images")
    pyspark_python: str = setting(None, "PYSPARK_PYTHON", "the Python Spark's workers run (default: this one)",
                                  factory=lambda: sys.executable)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "HostSettings":
        return cls(**_read(cls, os.environ if environ is None else environ))


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of a container process the endpoint starts: this process's, without the
    container variables (a container sees its spec's, not those of whoever started the
    endpoint), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONTAINER_PREFIXES)}
    env.update(extra)
    return env


def use_python_for_spark(settings: HostSettings | None = None) -> None:
    """Make Spark start its Python workers with ``PYSPARK_PYTHON`` (this interpreter unless
    set): pyspark reads that variable itself when the session starts, so it is written back."""
    settings = settings or HostSettings.from_env()
    os.environ["PYSPARK_PYTHON"] = settings.pyspark_python
