"""Reading Spark ML's own saved models (``model.write().save(path)``) without a JVM.

A saved ``PipelineModel`` is ``metadata/part-00000`` (one JSON line: class, uid, params)
plus ``stages/<i>_<uid>/`` holding each stage the same way, with the fitted values in
``data/*.parquet`` (read here with pyarrow). Each stage becomes the same :class:`Op` an
MLeap bundle would give, through ``Op.from_spark(stage)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigurationError
from .ops import SPARK_CLASSES, Op, load_all


def is_spark_model(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and (path / "metadata").is_dir()


class SparkStage:
    """One saved stage: its metadata, params (defaults overlaid by set values) and data."""

    def __init__(self, path: Path):
        self.path = path
        self.metadata = _read_metadata(path)
        self.cls: str = self.metadata["class"]
        self.uid: str = self.metadata.get("uid", path.name)
        self.spark_version: str = self.metadata.get("sparkVersion", "")
        self.params: dict[str, Any] = {**self.metadata.get("defaultParamMap", {}),
                                      **self.metadata.get("paramMap", {})}

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def rows(self, folder: str = "data") -> list[dict[str, Any]]:
        """The rows of ``data/*.parquet`` (or another folder) as dicts."""
        import pyarrow.parquet as pq

        files = sorted((self.path / folder).glob("*.parquet"))
        if not files:
            raise ConfigurationError(f"the Spark stage {self.uid} has no {folder}/*.parquet under {self.path}")
        rows: list[dict[str, Any]] = []
        for file in files:
            rows.extend(pq.read_table(file).to_pylist())
        return rows

    def row(self) -> dict[str, Any]:
        rows = self.rows()
        if len(rows) != 1:
            raise ConfigurationError(f"the Spark stage {self.uid} should hold one data row, it has {len(rows)}")
        return rows[0]

    def stages(self) -> list["SparkStage"]:
        """Child stages of a ``PipelineModel``, in the order of ``stageUids``."""
        uids = self.param("stageUids") or []
        folders = {p.name.split("_", 1)[1]: p for p in (self.path / "stages").iterdir() if "_" in p.name}
        missing = [u for u in uids if u not in folders]
        if missing:
            raise ConfigurationError(f"{self.path}/stages has no folder for the stage(s) {', '.join(missing)}")
        return [SparkStage(folders[uid]) for uid in uids]


def _read_metadata(path: Path) -> dict[str, Any]:
    parts = sorted((path / "metadata").glob("part-*"))
    if not parts:
        raise ConfigurationError(f"{path} is not a saved Spark model: metadata/part-00000 is missing")
    return json.loads(parts[0].read_text().splitlines()[0])


def load_stage(stage: SparkStage) -> Op:
    load_all()
    cls = SPARK_CLASSES.get(stage.cls)
    if cls is None:
        raise ConfigurationError(
            f"the Spark stage {stage.uid} is a {stage.cls}, which this runtime cannot read; "
            "docs/sparkml-ops.md lists the supported stages"
        )
    try:
        return cls.from_spark(stage)
    except ConfigurationError:
        raise
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ConfigurationError(f"the Spark stage {stage.uid} ({stage.cls}) could not be read: {exc}") from exc


def load_spark_model(path: str | Path) -> Op:
    return load_stage(SparkStage(Path(path)))


# -- Spark's vector and matrix UDT structs -------------------------------------------------
def vector(value: dict[str, Any]) -> np.ndarray:
    """A ``VectorUDT`` struct (type 0 sparse, 1 dense) as a dense float64 array."""
    if value["type"] == 1:
        return np.asarray(value["values"], dtype=np.float64)
    out = np.zeros(value["size"])
    out[np.asarray(value["indices"], dtype=np.int64)] = value["values"]
    return out


def matrix(value: dict[str, Any]) -> np.ndarray:
    """A ``MatrixUDT`` struct (dense or CSC sparse, maybe transposed) as a dense 2-D array."""
    rows, cols = value["numRows"], value["numCols"]
    values = np.asarray(value["values"], dtype=np.float64)
    transposed = value.get("isTransposed", False)
    if value["type"] == 1:
        return values.reshape((rows, cols), order="C" if transposed else "F")
    import scipy.sparse as sp

    # A transposed CSC matrix is the CSR form of the real one: its "columns" are rows.
    layout = sp.csr_matrix if transposed else sp.csc_matrix
    return layout((values, value["rowIndices"], value["colPtrs"]), shape=(rows, cols)).toarray()
