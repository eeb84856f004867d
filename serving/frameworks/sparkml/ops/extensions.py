"""MLeap's own extension ops (``math_unary``, ``math_binary``, ``multinomial_labeler``,
``string_map``) and the LSH models (MinHashLSH, BucketedRandomProjectionLSH).

LSH outputs are Spark ``array<vector>`` of one-element vectors; we keep them as a 2-D
array, one column per hash table (the values are the same, the container writes them
the same way).
"""

from __future__ import annotations

import numpy as np

from .. import encode as enc
from ..columns import doubles, invalid_row, to_strings, vectors
from ..frame import as_dense
from . import register
from .base import Op
from .indexing import handle_invalid
from .unary import UnaryOp, spark_ports

UNARY = {
    "log": np.log, "exp": np.exp, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "abs": np.abs, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh,
    "cosh": np.cosh, "tanh": np.tanh, "floor": np.floor, "ceil": np.ceil, "round": np.round,
    "logit": lambda x: np.log(x / (1 - x)),
}
BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "rem": np.fmod, "pow": np.power, "log_n": lambda a, b: np.log(a) / np.log(b),
    "min": np.minimum, "max": np.maximum,
}


@register
class MathUnary(UnaryOp):
    names = ("math_unary",)

    def __init__(self, name, ports, operation: str):
        super().__init__(name, ports)
        if operation not in UNARY:
            raise ValueError(f"math_unary operation {operation!r} is not one of {', '.join(UNARY)}")
        self.operation = operation

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("operation") or "")

    def to_mleap(self):
        return "math_unary", {"operation": enc.string(self.operation)}

    def transform(self, frame) -> None:
        with np.errstate(all="ignore"):
            frame[self.output] = UNARY[self.operation](doubles(frame, self.input))


@register
class MathBinary(Op):
    """``a <op> b``; a missing input uses the default ``da`` / ``db``."""

    names = ("math_binary",)

    def __init__(self, name, ports, operation: str, da=None, db=None):
        super().__init__(name, ports)
        if operation not in BINARY:
            raise ValueError(f"math_binary operation {operation!r} is not one of {', '.join(BINARY)}")
        self.operation, self.da, self.db = operation, da, db

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("operation") or "", attrs.get("da"), attrs.get("db"))

    def to_mleap(self):
        attrs = {"operation": enc.string(self.operation)}
        for key, value in (("da", self.da), ("db", self.db)):
            if value is not None:
                attrs[key] = enc.double(value)
        return "math_binary", attrs

    def _side(self, frame, port: str, default):
        column = self.ports.inputs.get(port)
        if column is not None:
            return doubles(frame, column)
        return np.full(len(frame), np.nan if default is None else float(default))

    def transform(self, frame) -> None:
        a, b = self._side(frame, "input_a", self.da), self._side(frame, "input_b", self.db)
        with np.errstate(all="ignore"):
            frame[self.ports.outputs["output"]] = BINARY[self.operation](a, b)


@register
class MultinomialLabeler(Op):
    """Probabilities at or above ``threshold`` and their labels, as two list columns."""

    names = ("multinomial_labeler",)

    def __init__(self, name, ports, threshold: float, labels: list[str]):
        super().__init__(name, ports)
        self.threshold, self.labels = float(threshold), list(labels)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("threshold") or 0.0, attrs.get("labels") or [])

    def to_mleap(self):
        return "multinomial_labeler", {"threshold": enc.double(self.threshold), "labels": enc.strings(self.labels)}

    def transform(self, frame) -> None:
        x = as_dense(vectors(frame, self.ports.inputs["features"]))
        probabilities = np.empty(len(x), dtype=object)
        labels = np.empty(len(x), dtype=object)
        for row, values in enumerate(x):
            hits = np.flatnonzero(values >= self.threshold)
            probabilities[row] = values[hits].tolist()
            labels[row] = [self.labels[i] for i in hits]
        if "probabilities" in self.ports.outputs:
            frame[self.ports.outputs["probabilities"]] = probabilities
        if "labels" in self.ports.outputs:
            frame[self.ports.outputs["labels"]] = labels


@register
class StringMap(UnaryOp):
    """MLeap's ``string_map``: a lookup table from string to double."""

    names = ("string_map",)

    def __init__(self, name, ports, labels, values, handle_invalid="error", default_value=0.0):
        super().__init__(name, ports)
        self.table = dict(zip(labels, (float(v) for v in values)))
        self.handle_invalid, self.default_value = handle_invalid, float(default_value)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("labels") or [], attrs.get("values") or [],
                   handle_invalid(attrs.get("handle_invalid")), attrs.get("default_value") or 0.0)

    def to_mleap(self):
        return "string_map", {"labels": enc.strings(self.table), "values": enc.doubles(self.table.values()),
                              "handle_invalid": enc.string(self.handle_invalid),
                              "default_value": enc.double(self.default_value)}

    def input_kinds(self):
        return {self.input: "string"}

    def transform(self, frame) -> None:
        get = self.table.get
        out = np.array([get(v, np.nan) for v in to_strings(frame[self.input])], dtype=np.float64)
        missing = np.isnan(out)
        if missing.any():
            if self.handle_invalid == "error":
                raise invalid_row(frame, self.input, missing, "is not in the string map",
                                  f"send one of {', '.join(list(self.table)[:10])}")
            out[missing] = self.default_value
        frame[self.output] = out


HASH_PRIME = 2038074743  # Spark's MinHashLSH.HASH_PRIME


@register
class MinHashLSH(UnaryOp):
    """Spark ``MinHashLSHModel``: per table, ``min((1 + i) * a + b) mod prime`` over the
    non-zero indices ``i`` of the vector."""

    names = ("min_hash_lsh",)
    spark_classes = ("org.apache.spark.ml.feature.MinHashLSHModel",)

    def __init__(self, name, ports, a, b):
        super().__init__(name, ports)
        self.a = np.asarray(a, dtype=np.int64)
        self.b = np.asarray(b, dtype=np.int64)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs["random_coefficients_a"], attrs["random_coefficients_b"])

    @classmethod
    def from_spark(cls, stage):
        flat = stage.row()["randCoefficients"]  # a0, b0, a1, b1, ...
        return cls(stage.uid, spark_ports(stage), flat[0::2], flat[1::2])

    def to_mleap(self):
        return "min_hash_lsh", {"random_coefficients_a": enc.longs(self.a),
                                "random_coefficients_b": enc.longs(self.b)}

    def output_sizes(self, sizes):
        return {self.output: len(self.a)}

    def transform(self, frame) -> None:
        x = as_dense(vectors(frame, self.input))
        empty = ~(x != 0).any(axis=1)
        if empty.any():
            raise invalid_row(frame, self.input, empty, "is a vector with no non-zero entry",
                              "MinHashLSH needs at least one non-zero entry")
        positions = np.arange(1, x.shape[1] + 1, dtype=np.int64)
        hashed = (positions[None, :] * self.a[:, None] + self.b[:, None]) % HASH_PRIME  # tables x features
        big = np.iinfo(np.int64).max
        masked = np.where((x != 0)[:, None, :], hashed[None, :, :], big)
        frame[self.output] = masked.min(axis=2).astype(np.float64)


@register
class BucketedRandomProjectionLSH(UnaryOp):
    """Spark ``BucketedRandomProjectionLSHModel``: ``floor(x · v / bucketLength)`` per table."""

    names = ("bucketed_random_projection_lsh",)
    spark_classes = ("org.apache.spark.ml.feature.BucketedRandomProjectionLSHModel",)

    def __init__(self, name, ports, unit_vectors, bucket_length: float):
        super().__init__(name, ports)
        self.unit_vectors = np.asarray(unit_vectors, dtype=np.float64).reshape(len(unit_vectors), -1)
        self.bucket_length = float(bucket_length)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs["random_unit_vectors"], attrs["bucket_length"])

    @classmethod
    def from_spark(cls, stage):
        from ..spark_native import matrix

        return cls(stage.uid, spark_ports(stage), matrix(stage.row()["randUnitVectors"]),
                   stage.param("bucketLength"))

    def to_mleap(self):
        return "bucketed_random_projection_lsh", {"random_unit_vectors": enc.tensors(self.unit_vectors),
                                                  "bucket_length": enc.double(self.bucket_length)}

    def output_sizes(self, sizes):
        return {self.output: len(self.unit_vectors)}

    def transform(self, frame) -> None:
        x = as_dense(vectors(frame, self.input))
        frame[self.output] = np.floor((x @ self.unit_vectors.T) / self.bucket_length)
