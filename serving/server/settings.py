"""Every setting a container reads, in one typed object.

Precedence: command-line flags > ``SAGEMAKER_*`` / ``SERVING_*`` environment variables >
defaults. The environment is read once, here; nothing else in the code calls
``os.environ``. ``Settings.env`` keeps the mapping it was built from, for frameworks that
read variables of their own (``SAGEMAKER_SPARKML_SCHEMA``) through it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from ..errors import ConfigurationError

DEFAULT_MODEL_DIR = "/opt/ml/model"


@dataclass(frozen=True)
class Settings:
    framework: str = "model"
    model_dir: str = DEFAULT_MODEL_DIR
    host: str = "0.0.0.0"
    port: int = 8080
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    threads: int = 4
    timeout: int = 60
    graceful_timeout: int = 30
    default_accept: str | None = None  # None: the framework's default, else application/json
    max_payload_mb: float = 6.0
    max_concurrent_transforms: int | None = None
    batch_strategy: str = "MULTI_RECORD"
    log_level: int = logging.INFO
    log_format: str = "text"  # or "json"
    log_label: str = ""  # "endpoint/container" when a pipeline endpoint runs this container
    program: str | None = None
    submit_directory: str | None = None
    safe_port_range: str | None = None
    sklearn_method: str | None = None
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def max_payload_bytes(self) -> int:
        return int(self.max_payload_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {"env": env}
        for name, var, convert in _ENV_VARS:
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            try:
                values[name] = convert(raw)
            except (TypeError, ValueError):
                raise ConfigurationError(f"{var}={raw!r} is not valid: expected {_describe(convert)}") from None
        if "model_dir" not in values and env.get("SM_MODEL_DIR"):
            values["model_dir"] = env["SM_MODEL_DIR"]
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


def serving_home(environ: Mapping[str, str] | None = None) -> str:
    """Where local endpoints register themselves: ``$SERVING_HOME``, else ``~/.serving``."""
    env = os.environ if environ is None else environ
    return env.get("SERVING_HOME") or os.path.join(os.path.expanduser("~"), ".serving")


def _log_level(raw: str) -> int:
    if raw.isdigit():
        return int(raw)
    level = logging.getLevelName(raw.upper())
    if not isinstance(level, int):
        raise ValueError(raw)
    return level


def _describe(convert: Any) -> str:
    return {int: "a whole number", float: "a number", _log_level: "a log level (20 or INFO)"}.get(convert, "text")


def _upper(raw: str) -> str:
    return raw.strip().upper()


_ENV_VARS = (
    ("framework", "SERVING_FRAMEWORK", str),
    ("port", "SAGEMAKER_BIND_TO_PORT", int),
    ("workers", "SAGEMAKER_MODEL_SERVER_WORKERS", int),
    ("threads", "SERVING_WORKER_THREADS", int),
    ("timeout", "SAGEMAKER_MODEL_SERVER_TIMEOUT", int),
    ("default_accept", "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", str),
    ("max_payload_mb", "SAGEMAKER_MAX_PAYLOAD_IN_MB", float),
    ("max_concurrent_transforms", "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", int),
    ("batch_strategy", "SAGEMAKER_BATCH_STRATEGY", _upper),
    ("log_level", "SAGEMAKER_CONTAINER_LOG_LEVEL", _log_level),
    ("log_format", "SERVING_LOG_FORMAT", str),
    ("log_label", "SERVING_LOG_LABEL", str),
    ("program", "SAGEMAKER_PROGRAM", str),
    ("submit_directory", "SAGEMAKER_SUBMIT_DIRECTORY", str),
    ("safe_port_range", "SAGEMAKER_SAFE_PORT_RANGE", str),
    ("sklearn_method", "SERVING_SKLEARN_METHOD", str),
)

