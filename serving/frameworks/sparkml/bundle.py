"""Reading MLeap bundles: zip or directory, JSON format (``mleap-format.md`` sections 2-5).

``load_bundle(path)`` returns a :class:`Bundle` whose ``root`` is the op tree. Ops are built
by ``Op.from_mleap(name, attrs, ports, context)`` where ``context`` is a :class:`NodeContext`
rooted at the op's directory: ensembles read their ``tree<k>/`` child models through it and
pipelines load their child nodes (``load_node``). Only the ``nodes`` a pipeline lists are
read; stale ``*.node`` directories in a zip are never looked at.
"""

from __future__ import annotations

import json
import posixpath
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigurationError
from .ops import OPS, Op, Ports, load_all

SCALAR_KEYS = ("boolean", "int", "long", "float", "double", "string", "byte_string",
               "tensor", "basic_type", "data_shape", "model")
FLOAT_KEYS = ("double", "float")


# -- attribute decoding (section 5) ------------------------------------------------------
def _floats(values: list) -> list:
    """JSON ``null`` inside a float array is a non-finite number (spray-json writes NaN and
    +-inf as null); the op decides what it means (bucketizer ends are -inf/+inf)."""
    return [float("nan") if v is None else v for v in values]


def decode_tensor(value: dict) -> np.ndarray:
    """A tensor value; matrices from Spark are column-major, hence ``order="F"``."""
    base = next(k for k in value if k not in ("type", "shape"))
    dims = [d["size"] for d in value.get("shape", {}).get("dimensions", [])]
    flat = value[base]
    if base in FLOAT_KEYS:
        array = np.asarray(_floats(flat), dtype=np.float64)
    elif base in ("int", "long", "short", "byte"):
        array = np.asarray(flat, dtype=np.int64)
    elif base == "boolean":
        array = np.asarray(flat, dtype=bool)
    else:
        array = np.asarray(flat, dtype=object)
    return array.reshape(dims, order="F") if len(dims) > 1 else array.reshape(-1)


def decode_value(value: Any) -> Any:
    """One attribute value in plain Python / NumPy form.

    Lists become Python lists (float lists with NaN for ``null``; lists of tensors become
    lists of arrays), tensors NumPy arrays, scalars Python scalars. A scalar written as
    ``{}`` (MLeap omits zero values) decodes to ``None`` so each op picks its own zero.
    """
    if not isinstance(value, dict):  # tolerate bare JSON values from hand-written bundles
        return value
    kind = value.get("type")
    if kind == "tensor":
        return decode_tensor(value)
    if kind == "list":
        keys = [k for k in value if k != "type"]
        if not keys:
            return []
        key, items = keys[0], value[keys[0]]
        if key in FLOAT_KEYS:
            return _floats(items)
        if key == "tensor":
            return [decode_tensor(t) for t in items]
        return list(items)
    for key in SCALAR_KEYS:
        if key in value:
            item = value[key]
            if key == "tensor":
                return decode_tensor(item)
            if key in FLOAT_KEYS and item is None:
                return float("nan")
            return item
    return None


def decode_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    return {name: decode_value(value) for name, value in attrs.items()}


# -- files -------------------------------------------------------------------------------
class _Files:
    """Read-only access to the bundle tree, whether a zip or a directory."""

    def __init__(self, path: Path):
        self.path = path
        if path.is_dir():
            self.zip = None
            self.base = ""
            if not (path / "bundle.json").is_file():
                raise ConfigurationError(
                    f"{path} is not an MLeap bundle directory: it has no bundle.json "
                    "(expected bundle.json and root/ at its top level)"
                )
            return
        try:
            self.zip = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise ConfigurationError(f"{path} is not a readable MLeap bundle zip: {exc}") from None
        self.names = {n.lstrip("/") for n in self.zip.namelist()}
        self._zip_names = {n.lstrip("/"): n for n in self.zip.namelist()}
        found = sorted((n for n in self.names if posixpath.basename(n) == "bundle.json"), key=len)
        if not found:
            raise ConfigurationError(f"{path} holds no bundle.json: it is not an MLeap bundle zip")
        self.base = posixpath.dirname(found[0])

    def read(self, relpath: str) -> bytes:
        full = posixpath.join(self.base, relpath) if self.base else relpath
        try:
            if self.zip is None:
                return (self.path / full).read_bytes()
            return self.zip.read(self._zip_names[full])
        except (KeyError, FileNotFoundError):
            raise ConfigurationError(f"the MLeap bundle {self.path} has no file {full}") from None

    def exists(self, relpath: str) -> bool:
        full = posixpath.join(self.base, relpath) if self.base else relpath
        if self.zip is None:
            return (self.path / full).exists()
        return full in self.names

    def read_json(self, relpath: str) -> Any:
        try:
            return json.loads(self.read(relpath))
        except ValueError as exc:
            raise ConfigurationError(f"{relpath} in the bundle {self.path} is not JSON: {exc}") from None


# -- the context handed to ops -----------------------------------------------------------
class NodeContext:
    """What an op may read while it is built: files below its own directory.

    ``read_text("tree0/tree.json")``, ``child_model("tree0") -> (op, attrs)``,
    ``child("tree0")`` (a context rooted below), ``load_node(name) -> Op`` for
    ``<name>.node``, and ``version``, the MLeap version that wrote the bundle.
    """

    def __init__(self, files: _Files, directory: str, version: str):
        self._files = files
        self.directory = directory
        self.version = version

    def _path(self, relpath: str) -> str:
        return posixpath.normpath(posixpath.join(self.directory, relpath))

    def read_text(self, relpath: str) -> str:
        return self._files.read(self._path(relpath)).decode("utf-8")

    def exists(self, relpath: str) -> bool:
        return self._files.exists(self._path(relpath))

    def child(self, relpath: str) -> "NodeContext":
        return NodeContext(self._files, self._path(relpath), self.version)

    def child_model(self, relpath: str) -> tuple[str, dict[str, Any]]:
        model = self._files.read_json(posixpath.join(self._path(relpath), "model.json"))
        return model["op"], decode_attributes(model.get("attributes", {}))

    def load_node(self, name: str) -> Op:
        return _load_op(self.child(f"{name}.node"), name)


def _load_op(context: NodeContext, default_name: str) -> Op:
    files = context._files
    model = files.read_json(posixpath.join(context.directory, "model.json"))
    node = files.read_json(posixpath.join(context.directory, "node.json"))
    op_name = model.get("op")
    cls = OPS.get(op_name)
    if cls is None:
        raise ConfigurationError(
            f"the MLeap op '{op_name}' (node '{node.get('name', default_name)}') is not supported "
            "by this runtime; docs/sparkml-ops.md lists the supported ops"
        )
    attrs = decode_attributes(model.get("attributes", {}))
    ports = Ports.from_shape(node.get("shape", {}))
    try:
        return cls.from_mleap(node.get("name", default_name), attrs, ports, context)
    except ConfigurationError:
        raise
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ConfigurationError(
            f"the MLeap op '{op_name}' (node '{node.get('name', default_name)}') could not be "
            f"read: {type(exc).__name__}: {exc}"
        ) from exc


@dataclass
class Bundle:
    """A loaded bundle: the op tree and what ``bundle.json`` says about it."""

    root: Op
    name: str
    version: str
    format: str
    path: Path


def load_bundle(path: str | Path) -> Bundle:
    """Read a bundle zip or directory. A protobuf-format bundle is refused with a message."""
    load_all()
    path = Path(path)
    files = _Files(path)
    info = files.read_json("bundle.json")
    fmt = info.get("format", "json")
    if fmt != "json":
        raise ConfigurationError(
            f"{path} is a '{fmt}'-format MLeap bundle; this runtime reads JSON-format bundles "
            "only: export with SerializationFormat.Json (the default of serializeToBundle)"
        )
    version = str(info.get("version", "0"))
    root = _load_op(NodeContext(files, "root", version), info.get("name", "root"))
    return Bundle(root=root, name=info.get("name", ""), version=version, format=fmt, path=path)
