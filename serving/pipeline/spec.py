"""The pipeline spec: a YAML or JSON file shaped like SageMaker's ``CreateModel`` request.

Users keep the ``Containers`` list they already send to SageMaker; two local additions make
it runnable without images: ``Framework`` (``sklearn``, ``sparkml`` or ``model``: what
``serving serve --framework`` runs) and ``Command`` (any other program that speaks the
container contract). ``ModelDataUrl`` is a local directory, a ``.tar.gz`` or a ``file://``
URL of either; a relative path is read from the spec file's folder.

Validation follows SageMaker's own rules (1 to 15 containers, hostnames of its pattern, set
on all containers or none, required in Direct mode) and fails with a message that names the
field and what would be right. Environment limits SageMaker enforces are warnings here: the
pipeline runs locally, but ``CreateModel`` would refuse it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigurationError
from ..frameworks import FRAMEWORKS

MAX_CONTAINERS = 15
HOSTNAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
MODES = ("Serial", "Direct")
ENV_MAX_ENTRIES = 100
ENV_MAX_ITEM_BYTES = 1024
ENV_MAX_TOTAL_BYTES = 32 * 1024
CONTAINER_KEYS = {"ContainerHostname", "Image", "Framework", "Command", "ModelDataUrl", "Environment"}


@dataclass(frozen=True)
class ContainerSpec:
    """One container of the pipeline, as a backend needs it to start the container."""

    hostname: str
    framework: str | None = None
    image: str | None = None
    command: tuple[str, ...] | None = None
    model_data: str | None = None  # an absolute local path (directory or .tar.gz)
    environment: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ContainerHostname": self.hostname}
        for key, value in (("Framework", self.framework), ("Image", self.image),
                           ("Command", list(self.command) if self.command else None),
                           ("ModelDataUrl", self.model_data)):
            if value is not None:
                out[key] = value
        out["Environment"] = dict(self.environment)
        return out


@dataclass(frozen=True)
class PipelineSpec:
    containers: tuple[ContainerSpec, ...]
    mode: str = "Serial"
    model_name: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def hostnames(self) -> list[str]:
        return [c.hostname for c in self.containers]

    def to_dict(self) -> dict[str, Any]:
        """The spec with every path made absolute: what a running endpoint records and sends."""
        out: dict[str, Any] = {
            "Containers": [c.to_dict() for c in self.containers],
            "InferenceExecutionConfig": {"Mode": self.mode},
        }
        if self.model_name:
            out["ModelName"] = self.model_name
        return out


def load(path: str | Path) -> PipelineSpec:
    """Read and validate a spec file (``.yaml``, ``.yml`` or ``.json``)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the pipeline spec {path}: {exc.strerror}") from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{path} is not valid JSON: {exc}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"{path} is not valid YAML: {exc}") from None
    return from_dict(data, base_dir=path.resolve().parent, source=str(path))


def from_dict(data: Any, base_dir: str | Path = ".", source: str = "the spec") -> PipelineSpec:
    """Validate a ``CreateModel``-shaped mapping; relative model paths resolve from ``base_dir``."""
    if not isinstance(data, dict):
        raise ConfigurationError(f"{source} must be a mapping with a 'Containers' list, got {type(data).__name__}")
    raw = data.get("Containers")
    if raw is None and "PrimaryContainer" in data:
        raw = [data["PrimaryContainer"]]
    if not isinstance(raw, list) or not raw:
        raise ConfigurationError(f"{source}: 'Containers' must be a list of 1 to {MAX_CONTAINERS} container definitions")
    if len(raw) > MAX_CONTAINERS:
        raise ConfigurationError(f"{source}: {len(raw)} containers; a pipeline has at most {MAX_CONTAINERS}")
    mode = (data.get("InferenceExecutionConfig") or {}).get("Mode", "Serial")
    if mode not in MODES:
        raise ConfigurationError(f"{source}: InferenceExecutionConfig.Mode must be Serial or Direct, got {mode!r}")
    named = [isinstance(c, dict) and "ContainerHostname" in c for c in raw]
    if any(named) and not all(named):
        missing = ", ".join(str(i + 1) for i, n in enumerate(named) if not n)
        raise ConfigurationError(
            f"{source}: ContainerHostname is set on some containers but not on container(s) {missing}; "
            "SageMaker requires it on all containers or on none (then they are container-1, container-2, ...)"
        )
    if mode == "Direct" and not all(named):
        raise ConfigurationError(f"{source}: Direct mode requires a ContainerHostname on every container")
    containers = tuple(_container(c, i, Path(base_dir), source) for i, c in enumerate(raw))
    seen: set[str] = set()
    for c in containers:
        if c.hostname in seen:
            raise ConfigurationError(f"{source}: ContainerHostname '{c.hostname}' is used twice; hostnames must be unique")
        seen.add(c.hostname)
    return PipelineSpec(containers, mode, data.get("ModelName"), tuple(_environment_warnings(containers)))


def _container(raw: Any, index: int, base_dir: Path, source: str) -> ContainerSpec:
    where = f"{source}: container {index + 1}"
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where} must be a mapping (ContainerHostname, Framework or Image, ModelDataUrl, Environment)")
    unknown = sorted(set(raw) - CONTAINER_KEYS)
    if unknown:
        raise ConfigurationError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(CONTAINER_KEYS))}")
    hostname = str(raw.get("ContainerHostname", f"container-{index + 1}"))
    if not HOSTNAME.match(hostname):
        raise ConfigurationError(
            f"{where}: ContainerHostname '{hostname}' is not valid: use letters, digits and inner hyphens, "
            "at most 63 characters, starting and ending with a letter or digit"
        )
    framework = raw.get("Framework")
    if framework is not None and framework not in FRAMEWORKS:
        raise ConfigurationError(f"{where}: Framework '{framework}' is not one of {', '.join(FRAMEWORKS)}")
    command = raw.get("Command")
    if command is not None:
        if isinstance(command, str) or not all(isinstance(a, str) for a in command) or not command:
            raise ConfigurationError(f"{where}: Command must be a non-empty list of strings, e.g. ['python', 'server.py']")
        command = tuple(command)
    if framework is None and command is None and raw.get("Image") is None:
        raise ConfigurationError(f"{where} ({hostname}) needs Framework (sklearn, sparkml or model), Image or Command")
    environment = raw.get("Environment") or {}
    if not isinstance(environment, dict):
        raise ConfigurationError(f"{where}: Environment must be a mapping of names to strings")
    environment = {str(k): _env_value(v) for k, v in environment.items()}
    return ContainerSpec(hostname, framework, raw.get("Image"), command,
                         _model_data(raw.get("ModelDataUrl"), base_dir, where), environment)


def _env_value(value: Any) -> str:
    if isinstance(value, bool):  # YAML's true/false: SageMaker variables use lower case
        return "true" if value else "false"
    return str(value)


def _model_data(url: Any, base_dir: Path, where: str) -> str | None:
    if url is None:
        return None
    url = str(url)
    if url.startswith(("s3://", "http://", "https://")):
        raise ConfigurationError(
            f"{where}: ModelDataUrl {url} is remote; download it and give a local directory, .tar.gz or file:// URL"
        )
    path = Path(url.removeprefix("file://")).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if not path.exists():
        raise ConfigurationError(f"{where}: ModelDataUrl {url} does not exist (looked at {path})")
    if path.is_file() and not path.name.endswith((".tar.gz", ".tgz")):
        raise ConfigurationError(f"{where}: ModelDataUrl {url} is a file but not a .tar.gz; give the archive or a directory")
    return str(path.resolve())


def _environment_warnings(containers: tuple[ContainerSpec, ...]) -> list[str]:
    """What SageMaker's CreateModel would refuse; the local endpoint runs it anyway."""
    warnings = []
    total = 0
    for c in containers:
        if len(c.environment) > ENV_MAX_ENTRIES:
            warnings.append(f"{c.hostname}: {len(c.environment)} Environment entries; SageMaker allows {ENV_MAX_ENTRIES}")
        for key, value in c.environment.items():
            for what, size in (("name", len(key.encode())), ("value", len(value.encode()))):
                total += size
                if size > ENV_MAX_ITEM_BYTES:
                    warnings.append(f"{c.hostname}: Environment {what} of {key} is {size} bytes; "
                                    f"SageMaker allows {ENV_MAX_ITEM_BYTES}")
    if total > ENV_MAX_TOTAL_BYTES:
        warnings.append(f"the Environment of all containers is {total} bytes together; SageMaker allows "
                        f"{ENV_MAX_TOTAL_BYTES} per model")
    return warnings
