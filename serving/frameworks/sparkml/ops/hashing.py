"""The hashing trick: HashingTF (terms -> counts) and FeatureHasher (columns -> vector).

Indices are ``murmur3(term, seed 42) mod num_features`` exactly as Spark computes them
(``..murmur``); a term's index is cached, since documents repeat their terms.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .. import encode as enc
from ..columns import lists, spark_string
from ..murmur import index_of
from . import register
from .base import Op, Ports
from .unary import UnaryOp, spark_ports


@lru_cache(maxsize=1 << 16)
def _index(term, num_features: int, version: int) -> int:
    return index_of(term, num_features, version)


def _csr(rows: list[dict[int, float]], width: int):
    import scipy.sparse as sp

    pointers, columns, values = [0], [], []
    for row in rows:
        for i in sorted(row):
            columns.append(i)
            values.append(row[i])
        pointers.append(len(columns))
    return sp.csr_matrix((np.asarray(values, dtype=np.float64), np.asarray(columns, dtype=np.int64),
                          np.asarray(pointers)), shape=(len(rows), width))


@register
class HashingTF(UnaryOp):
    """Spark ``HashingTF``. Version 1 hashing (Spark 2, MLeap < 0.18 bundles) differs from
    version 2 (Spark 3) for terms whose byte length is not a multiple of 4."""

    names = ("hashing_term_frequency",)
    spark_classes = ("org.apache.spark.ml.feature.HashingTF",)

    def __init__(self, name, ports, num_features: int, binary: bool = False, version: int = 2):
        super().__init__(name, ports)
        self.num_features, self.binary, self.version = int(num_features), bool(binary), int(version)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("num_features") or 1 << 18, attrs.get("binary"),
                   attrs.get("hashUnsafeBytesVersion") or 1)

    @classmethod
    def from_spark(cls, stage):
        version = 1 if stage.spark_version.startswith(("1.", "2.")) else 2
        return cls(stage.uid, spark_ports(stage), stage.param("numFeatures", 1 << 18),
                   stage.param("binary", False), version)

    def to_mleap(self):
        return "hashing_term_frequency", {"num_features": enc.long(self.num_features),
                                          "binary": enc.boolean(self.binary),
                                          "hashUnsafeBytesVersion": enc.integer(self.version)}

    def input_kinds(self):
        return {self.input: "list"}

    def output_sizes(self, sizes):
        return {self.output: self.num_features}

    def transform(self, frame) -> None:
        rows = []
        for doc in lists(frame, self.input):
            counts: dict[int, float] = {}
            for term in doc:
                i = _index(term, self.num_features, self.version)
                counts[i] = 1.0 if self.binary else counts.get(i, 0.0) + 1.0
            rows.append(counts)
        frame[self.output] = _csr(rows, self.num_features)


@register
class FeatureHasher(Op):
    """Spark ``FeatureHasher``: a numeric column ``c`` adds its value at ``hash("c")``;
    a string, boolean or listed categorical column adds 1.0 at ``hash("c=value")``."""

    names = ("feature_hasher",)
    spark_classes = ("org.apache.spark.ml.feature.FeatureHasher",)

    def __init__(self, name, ports, num_features: int, categorical: list[str], types: list[str] | None = None):
        super().__init__(name, ports)
        self.num_features = int(num_features)
        self.categorical = list(categorical)
        self.types = types  # MLeap's basic types of the inputs; None: taken from the data

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("num_features") or 1 << 18, attrs.get("categorical_cols") or [],
                   attrs.get("basic_types"))

    @classmethod
    def from_spark(cls, stage):
        columns = stage.param("inputCols")
        ports = Ports({f"input{i}": c for i, c in enumerate(columns)}, {"output": stage.param("outputCol")})
        return cls(stage.uid, ports, stage.param("numFeatures", 1 << 18), stage.param("categoricalCols") or [])

    def to_mleap(self):
        columns = self.ports.input_list()
        attrs = {"num_features": enc.long(self.num_features), "categorical_cols": enc.strings(self.categorical),
                 "input_names": enc.strings(columns),
                 "input_shapes": enc.data_shapes(None for _ in columns)}
        if self.types:
            attrs["basic_types"] = {"basic_type": list(self.types), "type": "list"}
        return "feature_hasher", attrs

    def input_kinds(self):
        if self.types:
            return {c: ("string" if t in ("string", "boolean") else "double")
                    for c, t in zip(self.ports.input_list(), self.types)}
        return {c: "auto" for c in self.ports.input_list()}

    def output_sizes(self, sizes):
        return {self.ports.output_list()[0]: self.num_features}

    def transform(self, frame) -> None:
        rows: list[dict[int, float]] = [{} for _ in range(len(frame))]
        for column in self.ports.input_list():
            values = frame[column]
            numeric = values.dtype.kind in "iuf" and column not in self.categorical
            if numeric:
                i = _index(column, self.num_features, 2)
                for row, x in zip(rows, values.astype(np.float64).tolist()):
                    if x == x:  # nulls (NaN) are skipped
                        row[i] = row.get(i, 0.0) + x
                continue
            for row, x in zip(rows, values.tolist()):
                if x is None or (isinstance(x, float) and x != x):
                    continue
                i = _index(f"{column}={spark_string(x)}", self.num_features, 2)
                row[i] = row.get(i, 0.0) + 1.0
        frame[self.ports.output_list()[0]] = _csr(rows, self.num_features)

