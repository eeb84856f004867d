"""Element-wise numeric stages: scalers, Normalizer, ElementwiseProduct, IDF, Binarizer,
Imputer and Bucketizer. Each keeps its fitted values as NumPy arrays, computed once."""

from __future__ import annotations

import json

import numpy as np

from .. import encode as enc
from ..columns import doubles, invalid_row, vectors
from ..frame import as_dense, is_sparse
from ..spark_native import vector
from . import register
from .indexing import handle_invalid
from .unary import UnaryOp, mleap_ports, spark_ports


def _scale_columns(x, factor: np.ndarray):
    """``x * factor`` per feature, keeping a sparse matrix sparse."""
    if is_sparse(x):
        return x.multiply(factor.reshape(1, -1)).tocsr()
    return x * factor


def _inverse(values: np.ndarray) -> np.ndarray:
    """``1 / v``, with 0 where ``v == 0`` (Spark's rule for a constant feature)."""
    out = np.zeros_like(values)
    np.divide(1.0, values, out=out, where=values != 0)
    return out


@register
class StandardScaler(UnaryOp):
    """Spark ``StandardScalerModel``: ``(x - mean) * (1 / std)``, 0 where ``std == 0``."""

    names = ("standard_scaler",)
    spark_classes = ("org.apache.spark.ml.feature.StandardScalerModel",)

    def __init__(self, name, ports, mean=None, std=None):
        super().__init__(name, ports)
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.std = None if std is None else np.asarray(std, dtype=np.float64)
        self.factor = None if std is None else _inverse(self.std)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("mean"), attrs.get("std"))

    @classmethod
    def from_spark(cls, stage):
        row = stage.row()
        return cls(stage.uid, spark_ports(stage),
                   vector(row["mean"]) if stage.param("withMean", False) else None,
                   vector(row["std"]) if stage.param("withStd", True) else None)

    def to_mleap(self):
        attrs = {}
        if self.mean is not None:
            attrs["mean"] = enc.tensor(self.mean)
        if self.std is not None:
            attrs["std"] = enc.tensor(self.std)
        return "standard_scaler", attrs

    def transform(self, frame) -> None:
        x = vectors(frame, self.input)
        if self.mean is not None:
            x = as_dense(x) - self.mean
        if self.factor is not None:
            x = _scale_columns(x, self.factor)
        frame[self.output] = x


@register
class MinMaxScaler(UnaryOp):
    """Spark ``MinMaxScalerModel``: ``(x - min) * (range / (max - min)) + low``; a constant
    feature maps to the middle of the range; NaN stays NaN."""

    names = ("min_max_scaler",)
    spark_classes = ("org.apache.spark.ml.feature.MinMaxScalerModel",)

    def __init__(self, name, ports, data_min, data_max, low: float = 0.0, high: float = 1.0):
        super().__init__(name, ports)
        self.data_min = np.asarray(data_min, dtype=np.float64)
        self.data_max = np.asarray(data_max, dtype=np.float64)
        self.low, self.high = float(low), float(high)
        span = self.data_max - self.data_min
        self.factor = np.zeros_like(span)
        np.divide(self.high - self.low, span, out=self.factor, where=span != 0)
        self.constant = span == 0

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        # before MLeap 0.16 the target range was not written: it was always [0, 1]
        high = attrs["maxValue"] if "maxValue" in attrs else 1.0
        return cls(name, ports, attrs["min"], attrs["max"], attrs.get("minValue") or 0.0, high or 0.0)

    @classmethod
    def from_spark(cls, stage):
        row = stage.row()
        return cls(stage.uid, spark_ports(stage), vector(row["originalMin"]), vector(row["originalMax"]),
                   stage.param("min", 0.0), stage.param("max", 1.0))

    def to_mleap(self):
        return "min_max_scaler", {"min": enc.tensor(self.data_min), "max": enc.tensor(self.data_max),
                                  "minValue": enc.double(self.low), "maxValue": enc.double(self.high)}

    def transform(self, frame) -> None:
        x = as_dense(vectors(frame, self.input))
        out = (x - self.data_min) * self.factor + self.low
        out[:, self.constant] = 0.5 * (self.high - self.low) + self.low
        out[np.isnan(x)] = np.nan
        frame[self.output] = out


@register
class MaxAbsScaler(UnaryOp):
    """Spark ``MaxAbsScalerModel``: ``x / maxAbs`` (1 where ``maxAbs == 0``).

    MLeap's runtime also clips the result to [-1, 1]; we clip for bundles (as the MLeap
    container does) and not for Spark-native models (as Spark does). The two agree on every
    value inside the training range.
    """

    names = ("max_abs_scaler",)
    spark_classes = ("org.apache.spark.ml.feature.MaxAbsScalerModel",)

    def __init__(self, name, ports, max_abs, clip: bool):
        super().__init__(name, ports)
        self.max_abs = np.asarray(max_abs, dtype=np.float64)
        self.factor = 1.0 / np.where(self.max_abs == 0, 1.0, self.max_abs)
        self.clip = clip

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs["maxAbs"], clip=True)

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, spark_ports(stage), vector(stage.row()["maxAbs"]), clip=False)

    def to_mleap(self):
        return "max_abs_scaler", {"maxAbs": enc.tensor(self.max_abs)}

    def transform(self, frame) -> None:
        out = _scale_columns(vectors(frame, self.input), self.factor)
        if self.clip:
            out = np.clip(as_dense(out), -1.0, 1.0)
        frame[self.output] = out


@register
class Normalizer(UnaryOp):
    """Spark ``Normalizer``: ``x / ||x||_p``, unchanged where the norm is 0."""

    names = ("normalizer",)
    spark_classes = ("org.apache.spark.ml.feature.Normalizer",)

    def __init__(self, name, ports, p: float):
        super().__init__(name, ports)
        self.p = float(p)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        p = attrs.get("p_norm")
        # spray-json writes p = +inf as null, which decodes to NaN
        return cls(name, ports, np.inf if p is None or np.isnan(p) else p)

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, spark_ports(stage), float(stage.param("p", 2.0)))

    def to_mleap(self):
        return "normalizer", {"p_norm": enc.double(self.p)}

    def transform(self, frame) -> None:
        x = vectors(frame, self.input)
        dense = as_dense(x)
        if self.p == 1:
            norm = np.abs(dense).sum(axis=1)
        elif self.p == 2:
            norm = np.sqrt((dense * dense).sum(axis=1))
        elif np.isinf(self.p):
            norm = np.abs(dense).max(axis=1) if dense.shape[1] else np.zeros(len(dense))
        else:
            norm = (np.abs(dense) ** self.p).sum(axis=1) ** (1.0 / self.p)
        divisor = np.where(norm == 0, 1.0, norm)
        if is_sparse(x):
            frame[self.output] = x.multiply((1.0 / divisor).reshape(-1, 1)).tocsr()
        else:
            frame[self.output] = dense / divisor[:, None]


class _Product(UnaryOp):
    """``x * factor`` per feature with a fitted vector, sparsity kept."""

    attribute = ""  # the MLeap attribute holding the vector

    def __init__(self, name, ports, factor):
        super().__init__(name, ports)
        self.factor = np.asarray(factor, dtype=np.float64)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs[cls.attribute])

    def to_mleap(self):
        return self.names[0], {self.attribute: enc.tensor(self.factor)}

    def transform(self, frame) -> None:
        frame[self.output] = _scale_columns(vectors(frame, self.input), self.factor)


@register
class ElementwiseProduct(_Product):
    """Spark ``ElementwiseProduct``: ``x * scalingVec``."""

    names = ("elementwise_product",)
    spark_classes = ("org.apache.spark.ml.feature.ElementwiseProduct",)
    attribute = "scaling_vec"

    @classmethod
    def from_spark(cls, stage):
        value = stage.param("scalingVec")  # the vector UDT as JSON, maybe as a string
        return cls(stage.uid, spark_ports(stage), vector(json.loads(value) if isinstance(value, str) else value))


@register
class IDF(_Product):
    """Spark ``IDFModel``: ``x * idf``."""

    names = ("idf",)
    spark_classes = ("org.apache.spark.ml.feature.IDFModel",)
    attribute = "idf"

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, spark_ports(stage), vector(stage.row()["idf"]))


class _PerColumn(UnaryOp):
    """Stages Spark 3 runs over several columns at once but MLeap stores one column per
    node: we run all columns, and export one node per column."""

    def pairs(self):
        return zip(self.ports.input_list(), self.ports.output_list())

    def output_sizes(self, sizes):
        return {target: sizes.get(source) for source, target in self.pairs()}

    def export_stages(self):
        if len(self.ports.inputs) == 1:
            return [self]
        return [self.column(i) for i in range(len(self.ports.inputs))]


@register
class Binarizer(_PerColumn):
    """Spark ``Binarizer``: ``1.0 if x > threshold else 0.0``, scalars or vectors."""

    names = ("binarizer", "sklearn_binarizer")
    spark_classes = ("org.apache.spark.ml.feature.Binarizer",)

    def __init__(self, name, ports, thresholds: list[float]):
        super().__init__(name, ports)
        self.thresholds = [float(t) for t in thresholds]

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("thresholds") or [attrs.get("threshold") or 0.0])

    @classmethod
    def from_spark(cls, stage):
        ports = spark_ports(stage)
        thresholds = stage.param("thresholds") or [stage.param("threshold", 0.0)] * len(ports.inputs)
        return cls(stage.uid, ports, thresholds)

    def column(self, i):
        source, target = list(self.pairs())[i]
        return Binarizer(f"{self.name}_{i}", mleap_ports([source], [target]), [self.thresholds[i]])

    def to_mleap(self):
        return "binarizer", {"threshold": enc.double(self.thresholds[0])}

    def transform(self, frame) -> None:
        for (source, target), threshold in zip(self.pairs(), self.thresholds):
            column = frame[source]
            if is_sparse(column) or getattr(column, "ndim", 1) == 2:
                frame[target] = (as_dense(vectors(frame, source)) > threshold).astype(np.float64)
            else:
                frame[target] = (doubles(frame, source) > threshold).astype(np.float64)


@register
class Imputer(_PerColumn):
    """Spark ``ImputerModel`` (and MLeap's single-column ``imputer``): nulls and
    ``missingValue`` become the fitted surrogate.

    NaN counts as missing in MLeap always, in Spark only when ``missingValue`` is NaN (its
    default); ``nan_is_missing`` keeps each source's rule. (A null number is NaN here.)
    """

    names = ("imputer",)
    spark_classes = ("org.apache.spark.ml.feature.ImputerModel",)

    def __init__(self, name, ports, surrogates: list[float], missing_value: float = np.nan,
                 strategy: str = "mean", nan_is_missing: bool = True):
        super().__init__(name, ports)
        self.surrogates = [float(s) for s in surrogates]
        self.missing_value = float(missing_value)
        self.strategy = strategy
        self.nan_is_missing = nan_is_missing or np.isnan(self.missing_value)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        missing = attrs.get("missing_value", np.nan)
        return cls(name, ports, [attrs.get("surrogate_value") or 0.0],
                   np.nan if missing is None else missing, attrs.get("strategy") or "mean")

    @classmethod
    def from_spark(cls, stage):
        ports = spark_ports(stage)
        row = stage.row()
        return cls(stage.uid, ports, [row[c] for c in ports.input_list()],
                   float(stage.param("missingValue", np.nan)), stage.param("strategy", "mean"),
                   nan_is_missing=False)

    def column(self, i):
        source, target = list(self.pairs())[i]
        return Imputer(f"{self.name}_{i}", mleap_ports([source], [target]), [self.surrogates[i]],
                       self.missing_value, self.strategy, self.nan_is_missing)

    def to_mleap(self):
        return "imputer", {"surrogate_value": enc.double(self.surrogates[0]),
                           "missing_value": enc.double(self.missing_value),
                           "strategy": enc.string(self.strategy), "nullable_input": enc.boolean(True)}

    def transform(self, frame) -> None:
        for (source, target), surrogate in zip(self.pairs(), self.surrogates):
            x = doubles(frame, source)
            missing = x == self.missing_value
            if self.nan_is_missing:
                missing |= np.isnan(x)
            frame[target] = np.where(missing, surrogate, x)


@register
class Bucketizer(_PerColumn):
    """Spark ``Bucketizer`` (also what ``QuantileDiscretizer`` fits): bucket ``i`` holds
    ``splits[i] <= x < splits[i+1]``, the last bucket includes its upper end. NaN: ``keep``
    -> an extra bucket, ``skip`` -> the row is dropped, ``error`` -> 400; a value outside
    the splits is always a 400."""

    names = ("bucketizer",)
    spark_classes = ("org.apache.spark.ml.feature.Bucketizer",)

    def __init__(self, name, ports, splits: list[list[float]], handle_invalid: str = "error"):
        super().__init__(name, ports)
        self.splits = [_restore_splits(s) for s in splits]
        self.handle_invalid = handle_invalid

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, [attrs["splits"]], handle_invalid(attrs.get("handle_invalid")))

    @classmethod
    def from_spark(cls, stage):
        splits = stage.param("splitsArray") or [stage.param("splits")]
        return cls(stage.uid, spark_ports(stage), splits, handle_invalid(stage.param("handleInvalid")))

    def column(self, i):
        source, target = list(self.pairs())[i]
        return Bucketizer(f"{self.name}_{i}", mleap_ports([source], [target]), [self.splits[i]],
                          self.handle_invalid)

    def to_mleap(self):
        return "bucketizer", {"splits": enc.doubles(self.splits[0]),
                              "handle_invalid": enc.string(self.handle_invalid)}

    def output_sizes(self, sizes):
        return {target: None for _, target in self.pairs()}

    def transform(self, frame) -> None:
        keep = np.ones(len(frame), dtype=bool)
        for (source, target), splits in zip(self.pairs(), self.splits):
            x = doubles(frame, source)
            nan = np.isnan(x)
            bucket = np.searchsorted(splits, x, side="right").astype(np.float64) - 1
            bucket[x == splits[-1]] = len(splits) - 2
            outside = ~nan & ((x < splits[0]) | (x > splits[-1]))
            if outside.any():
                raise invalid_row(frame, source, outside, "is outside the Bucketizer splits "
                                  f"[{splits[0]}, {splits[-1]}]", "send a value inside the splits")
            if nan.any():
                if self.handle_invalid == "error":
                    raise invalid_row(frame, source, nan, "is null or NaN",
                                      "send a number (or fit the Bucketizer with handleInvalid='keep')")
                bucket[nan] = len(splits) - 1
                if self.handle_invalid == "skip":
                    keep &= ~nan
            frame[target] = bucket
        frame.keep_rows(keep)


def _restore_splits(splits) -> np.ndarray:
    """MLeap writes -inf/+inf splits as null (NaN once decoded): restore them."""
    out = np.asarray([float(s) if s is not None else np.nan for s in splits], dtype=np.float64)
    if len(out) and np.isnan(out[0]):
        out[0] = -np.inf
    if len(out) and np.isnan(out[-1]):
        out[-1] = np.inf
    return out
