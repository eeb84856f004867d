"""``serving sparkml export SPARK_MODEL_DIR BUNDLE``: a saved Spark model as an MLeap bundle.

Reads the Spark-native model with the same readers the container uses, then writes a
JSON-format bundle (MLeap 0.20 attribute forms, the version of the AWS Spark ML image), as
a ``.zip`` or, for any other path, an unzipped directory (``bundle.json`` + ``root/``, the
layout ``/opt/ml/model`` expects). No JVM and no MLeap jars are needed.

VectorAssembler inputs must be declared in a bundle (scalar or vector of size n); the
exporter works them out by following the pipeline. A raw input column that is already a
vector has no known size: give it with ``--input-size name=n``.
"""

from __future__ import annotations

import datetime
import json
import posixpath
import uuid
import zipfile
from pathlib import Path
from typing import Any

from ...errors import ConfigurationError
from .ops.base import Op
from .ops.pipeline import Pipeline
from .spark_native import load_spark_model

MLEAP_VERSION = "0.20.0"


class BundleWriter:
    """Writes files into a bundle zip or directory, relative to one node directory."""

    def __init__(self, sink: "_Sink", directory: str):
        self.sink, self.directory = sink, directory

    def child(self, relpath: str) -> "BundleWriter":
        return BundleWriter(self.sink, posixpath.join(self.directory, relpath))

    def write_text(self, relpath: str, text: str) -> None:
        self.sink.write(posixpath.join(self.directory, relpath), text)

    def write_json(self, relpath: str, value: Any) -> None:
        self.write_text(relpath, json.dumps(value, indent=2, allow_nan=False))

    def write_model(self, relpath: str, op_name: str, attrs: dict[str, Any]) -> None:
        """A child *model* (``tree0/model.json``): ensembles write their members with it."""
        self.write_json(posixpath.join(relpath, "model.json"), {"op": op_name, "attributes": attrs})


class _Sink:
    def __init__(self, path: Path):
        self.path = path
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) if path.suffix == ".zip" else None

    def write(self, relpath: str, text: str) -> None:
        if self.zip is not None:
            self.zip.writestr(relpath, text)
        else:
            target = self.path / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


def write_node(writer: BundleWriter, op: Op) -> None:
    op_name, attrs = op.to_mleap()
    writer.write_json("model.json", {"op": op_name, "attributes": attrs})
    writer.write_json("node.json", {"name": op.name, "shape": op.mleap_ports().to_shape()})
    if isinstance(op, Pipeline):
        for child in op.export_children():
            write_node(writer.child(f"{child.name}.node"), child)
    op.write_mleap_files(writer)


def write_bundle(root: Op, path: str | Path) -> Path:
    path = Path(path)
    if path.exists() and (path.is_file() or any(path.iterdir())):
        raise ConfigurationError(f"{path} already exists; choose a new path for the bundle")
    (path if path.suffix != ".zip" else path.parent).mkdir(parents=True, exist_ok=True)
    sink = _Sink(path)
    try:
        info = {"uid": str(uuid.uuid4()), "name": root.name, "format": "json", "version": MLEAP_VERSION,
                "timestamp": datetime.datetime.now().isoformat(timespec="milliseconds")}
        BundleWriter(sink, "").write_json("bundle.json", info)
        write_node(BundleWriter(sink, "root"), root)
    finally:
        sink.close()
    return path


def export(spark_dir: str | Path, bundle_path: str | Path, input_sizes: dict[str, int] | None = None) -> Path:
    """Convert the saved Spark model at ``spark_dir`` into a bundle at ``bundle_path``."""
    root = load_spark_model(spark_dir)
    sizes: dict[str, int | None] = {name: None for name in root.required_inputs()}
    sizes.update(input_sizes or {})
    root.output_sizes(sizes)  # teaches VectorAssembler/Interaction their input widths
    try:
        return write_bundle(root, bundle_path)
    except NotImplementedError as exc:
        raise ConfigurationError(f"cannot export {spark_dir}: {exc}") from None
    except ValueError as exc:
        raise ConfigurationError(f"cannot export {spark_dir}: {exc}; give vector input widths "
                                 "with --input-size name=n") from None


def export_model_dir(spark_dir: str | Path, model_dir: str | Path, schema: dict) -> Path:
    """A Spark ML container's model directory from a saved Spark model: ``model.zip`` (an
    existing one is replaced) and ``schema.json``. Returns the directory."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "model.zip").unlink(missing_ok=True)
    export(spark_dir, model_dir / "model.zip")
    (model_dir / "schema.json").write_text(json.dumps(schema, indent=2))
    return model_dir
