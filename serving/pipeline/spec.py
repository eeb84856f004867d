"""The pipeline spec: a YAML or JSON file shaped like SageMaker's ``CreateModel`` request.

Users keep the ``Containers`` list they already send to SageMaker; two local additions make
it runnable without images: ``Framework`` (``sklearn``, ``sparkml`` or ``model``: what
``serving serve --framework`` runs) and ``Command`` (any other program that speaks the
container contract). ``ModelDataUrl`` is a local directory, a ``.tar.gz``, a ``file://`` URL
of either (a relative path is read from the spec file's folder) or, as on SageMaker, an
``s3://`` URI; ``ModelDataSource.S3DataSource`` describes an uncompressed model (one object or
an ``S3Prefix``). S3 artifacts, and an ``s3://`` ``SAGEMAKER_SUBMIT_DIRECTORY``, are fetched
into the cache when the pipeline starts (:meth:`ContainerSpec.fetched`,
:mod:`serving.storage.artifacts`).

An ``Image`` of one of SageMaker's own images (``sagemaker-scikit-learn``, ``sagemaker-xgboost``
...) means our implementation of that framework (:mod:`serving.pipeline.images`); an AWS image
with no open implementation is refused, saying how to substitute a container. ``Framework``,
when given, overrides what the image would mean.

Validation follows SageMaker's own rules (1 to 15 containers, hostnames of its pattern, set
on all containers or none, required in Direct mode) and fails with a message that names the
field and what would be right. Environment limits SageMaker enforces are warnings here: the
pipeline runs locally, but ``CreateModel`` would refuse it.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigurationError
from ..frameworks import FRAMEWORKS
from ..settings import HostSettings
from ..storage import artifacts
from ..storage.s3 import is_s3
from . import images

MAX_CONTAINERS = 15
HOSTNAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
MODES = ("Serial", "Direct")
ENV_MAX_ENTRIES = 100
ENV_MAX_ITEM_BYTES = 1024
ENV_MAX_TOTAL_BYTES = 32 * 1024
CONTAINER_KEYS = {"ContainerHostname", "Image", "Framework", "Command", "ModelDataUrl", "ModelDataSource", "Mode",
                  "Environment"}
SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"


@dataclass(frozen=True)
class ContainerSpec:
    """One container of the pipeline, as a backend needs it to start the container."""

    hostname: str
    framework: str | None = None
    image: str | None = None
    command: tuple[str, ...] | None = None
    model_data: str | None = None  # an absolute local path (directory or .tar.gz), or an s3:// URI
    environment: Mapping[str, str] = field(default_factory=dict)
    # how an s3:// model_data is stored: CreateModel's S3DataSource fields (ModelDataUrl is S3Object, Gzip)
    model_data_type: str = artifacts.OBJECT
    model_compression: str = artifacts.GZIP

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ContainerHostname": self.hostname}
        for key, value in (("Framework", self.framework), ("Image", self.image),
                           ("Command", list(self.command) if self.command else None)):
            if value is not None:
                out[key] = value
        if self.model_field == "ModelDataUrl":
            out["ModelDataUrl"] = self.model_data
        elif self.model_field == "ModelDataSource":
            out["ModelDataSource"] = {"S3DataSource": {"S3Uri": self.model_data, "S3DataType": self.model_data_type,
                                                       "CompressionType": self.model_compression}}
        out["Environment"] = dict(self.environment)
        return out

    @property
    def model_field(self) -> str | None:
        """The CreateModel field the model data is written in: ModelDataUrl (a ``.tar.gz`` or a local
        path), ModelDataSource (stored uncompressed), or None without model data."""
        if self.model_data is None:
            return None
        if (self.model_data_type, self.model_compression) == (artifacts.OBJECT, artifacts.GZIP):
            return "ModelDataUrl"
        return "ModelDataSource"

    def fetched(self, cache: str | Path | None = None) -> "ContainerSpec":
        """This container with its S3 artifacts (model data, submit directory) as local directories in
        ``cache`` (``$SERVING_HOME/cache`` by default), downloaded unless the cached copy is current."""
        model_remote = self.model_data is not None and is_s3(self.model_data)
        code_remote = is_s3(self.environment.get(SUBMIT_DIRECTORY, ""))
        if not (model_remote or code_remote):
            return self
        cache = cache or artifact_cache()
        model, env = self.model_data, dict(self.environment)
        try:
            if model_remote:
                model = artifacts.fetch(model, cache, data_type=self.model_data_type,
                                        compression=self.model_compression, what=self.model_field)
            if code_remote:
                env[SUBMIT_DIRECTORY] = artifacts.fetch(env[SUBMIT_DIRECTORY], cache, what=SUBMIT_DIRECTORY)
        except ConfigurationError as exc:
            raise ConfigurationError(f"container {self.hostname}: {exc}") from None
        return replace(self, model_data=model, environment=env, model_data_type=artifacts.OBJECT,
                       model_compression=artifacts.GZIP)


def artifact_cache() -> Path:
    """Where fetched artifacts are kept: ``$SERVING_HOME/cache``."""
    return Path(HostSettings.from_env().home) / "cache"


@dataclass(frozen=True)
class PipelineSpec:
    containers: tuple[ContainerSpec, ...]
    mode: str = "Serial"
    model_name: str | None = None
    warnings: tuple[str, ...] = ()  # what SageMaker's CreateModel would refuse
    notices: tuple[str, ...] = ()  # what runs, but may not run as the user expects (an image version ...)

    @property
    def hostnames(self) -> list[str]:
        return [c.hostname for c in self.containers]

    def fetched(self) -> list[ContainerSpec]:
        """The containers with their S3 artifacts fetched into the cache, several at once; the first
        failure is raised, naming its container and URI."""
        with ThreadPoolExecutor(max_workers=min(4, len(self.containers))) as pool:
            return list(pool.map(ContainerSpec.fetched, self.containers))

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
    notices: list[str] = []
    containers = tuple(_container(c, i, Path(base_dir), source, notices) for i, c in enumerate(raw))
    seen: set[str] = set()
    for c in containers:
        if c.hostname in seen:
            raise ConfigurationError(f"{source}: ContainerHostname '{c.hostname}' is used twice; hostnames must be unique")
        seen.add(c.hostname)
    return PipelineSpec(containers, mode, data.get("ModelName"), tuple(_environment_warnings(containers)),
                        tuple(notices))


def _container(raw: Any, index: int, base_dir: Path, source: str, notices: list[str]) -> ContainerSpec:
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
    image = raw.get("Image")
    if framework is None and command is None and image is None:
        raise ConfigurationError(f"{where} ({hostname}) needs Framework ({', '.join(FRAMEWORKS)}), Image or Command")
    if image is not None and framework is None and command is None:
        framework, said = images.framework_for(str(image), f"{where} ({hostname})")
        notices.extend(said)
    mode = raw.get("Mode", "SingleModel")
    if mode != "SingleModel":
        raise ConfigurationError(f"{where}: Mode {mode!r} is not served here; only SingleModel (the default) is: "
                                 "one model per container")
    environment = raw.get("Environment") or {}
    if not isinstance(environment, dict):
        raise ConfigurationError(f"{where}: Environment must be a mapping of names to strings")
    environment = {str(k): _env_value(v) for k, v in environment.items()}
    submit = environment.get(SUBMIT_DIRECTORY, "")
    if "://" in submit and not submit.startswith(("s3://", "file://")):
        raise ConfigurationError(f"{where}: {SUBMIT_DIRECTORY}={submit}: the scheme is not one that can be read; "
                                 "give an s3:// URI, a file:// URL or a local path")
    if "ModelDataUrl" in raw and "ModelDataSource" in raw:
        raise ConfigurationError(f"{where}: give ModelDataUrl or ModelDataSource, not both")
    model, data_type, compression = _model_data(raw, base_dir, where)
    return ContainerSpec(hostname, framework, image, command, model, environment, data_type, compression)


def _env_value(value: Any) -> str:
    if isinstance(value, bool):  # YAML's true/false: SageMaker variables use lower case
        return "true" if value else "false"
    return str(value)


def _model_data(raw: dict, base_dir: Path, where: str) -> tuple[str | None, str, str]:
    """``(location, S3DataType, CompressionType)`` of the container's model data."""
    if "ModelDataSource" in raw:
        return _model_data_source(raw["ModelDataSource"], where)
    url = raw.get("ModelDataUrl")
    if url is None:
        return None, artifacts.OBJECT, artifacts.GZIP
    url = str(url)
    if is_s3(url):
        if url.endswith("/"):
            raise ConfigurationError(f"{where}: ModelDataUrl {url} names a prefix; it must name the model's .tar.gz "
                                     "object. For a model stored uncompressed under a prefix, use "
                                     "ModelDataSource.S3DataSource with S3DataType S3Prefix and CompressionType None")
        return url, artifacts.OBJECT, artifacts.GZIP
    if "://" in url and not url.startswith("file://"):
        raise ConfigurationError(f"{where}: ModelDataUrl {url}: the scheme is not one that can be read; give an s3:// "
                                 "URI, a file:// URL, or a local directory or .tar.gz")
    return _local_model(url, base_dir, where), artifacts.OBJECT, artifacts.GZIP


def _model_data_source(source: Any, where: str) -> tuple[str, str, str]:
    s3_source = source.get("S3DataSource") if isinstance(source, dict) else None
    if not isinstance(s3_source, dict) or not isinstance(s3_source.get("S3Uri"), str):
        raise ConfigurationError(f"{where}: ModelDataSource must be {{'S3DataSource': {{'S3Uri': 's3://...', "
                                 "'S3DataType': 'S3Object' or 'S3Prefix', 'CompressionType': 'None' or 'Gzip'}}")
    uri = s3_source["S3Uri"]
    data_type = s3_source.get("S3DataType", artifacts.OBJECT)
    compression = s3_source.get("CompressionType", artifacts.NONE)
    if not is_s3(uri):
        raise ConfigurationError(f"{where}: ModelDataSource.S3DataSource.S3Uri {uri} is not an s3:// URI")
    if data_type not in (artifacts.OBJECT, artifacts.PREFIX):
        raise ConfigurationError(f"{where}: S3DataType must be S3Object or S3Prefix, got {data_type!r}")
    if compression not in (artifacts.GZIP, artifacts.NONE):
        raise ConfigurationError(f"{where}: CompressionType must be Gzip or None, got {compression!r}")
    if data_type == artifacts.PREFIX and compression == artifacts.GZIP:
        raise ConfigurationError(f"{where}: an S3Prefix model is uncompressed (CompressionType None); a Gzip model is "
                                 "one S3Object")
    if data_type == artifacts.PREFIX and not uri.endswith("/"):
        raise ConfigurationError(f"{where}: an S3Prefix S3Uri must end with '/', got {uri}")
    return uri, data_type, compression


def _local_model(url: str, base_dir: Path, where: str) -> str:
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
