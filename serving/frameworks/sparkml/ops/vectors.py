"""Stages that build or reshape vectors: VectorAssembler, VectorSlicer, ChiSqSelector (and
the other selectors), Interaction, PolynomialExpansion, PCA, DCT."""

from __future__ import annotations

import numpy as np

from .. import encode as enc
from ..columns import invalid_row, vectors
from ..frame import as_dense, is_sparse
from ..spark_native import matrix
from . import register
from .base import Op, Ports
from .unary import UnaryOp, spark_ports


def _numbered_inputs(columns: list[str], output: str) -> Ports:
    return Ports({f"input{i}": c for i, c in enumerate(columns)}, {"output": output})


def _shape_size(shape) -> int | None:
    """A data_shape's width: ``None`` for a scalar, the tensor size otherwise."""
    if not shape or shape.get("base") != "tensor":
        return None
    dims = shape.get("tensorShape", {}).get("dimensions", [])
    return int(dims[0]["size"]) if dims else None


@register
class VectorAssembler(Op):
    """Concatenate scalar and vector columns into one vector.

    ``handle_invalid`` is Spark's: ``error`` refuses null/NaN, ``keep`` passes NaN through,
    ``skip`` drops the row. MLeap bundles do not store it; MLeap passes NaN through.
    """

    names = ("vector_assembler",)
    spark_classes = ("org.apache.spark.ml.feature.VectorAssembler",)

    def __init__(self, name, ports, sizes: list[int | None] | None = None, handle_invalid: str = "keep"):
        super().__init__(name, ports)
        self.sizes = sizes  # None: unknown (Spark-native), taken from the data
        self.handle_invalid = handle_invalid

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        shapes = attrs.get("input_shapes")
        return cls(name, ports, [_shape_size(s) for s in shapes] if shapes else None)

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, _numbered_inputs(stage.param("inputCols"), stage.param("outputCol")),
                   None, stage.param("handleInvalid", "error"))

    def to_mleap(self):
        if self.sizes is None:
            raise ValueError("the input widths of this VectorAssembler are unknown")
        return "vector_assembler", {"input_shapes": enc.data_shapes(self.sizes)}

    def output_sizes(self, sizes):
        widths = [sizes.get(c) for c in self.ports.input_list()]
        if self.sizes is None:
            self.sizes = widths  # learnt for the exporter
        return {self.ports.output_list()[0]: sum(1 if w is None else w for w in widths)}

    def transform(self, frame) -> None:
        target = self.ports.output_list()[0]
        columns = [frame[column] for column in self.ports.input_list()]
        if all(type(c) is np.ndarray and c.dtype == np.float64 for c in columns):
            out = _concatenate(columns, len(frame))
            if self.handle_invalid == "keep" or not np.isnan(out).any():
                frame[target] = out
                return
        parts = [vectors(frame, column) for column in self.ports.input_list()]
        if any(is_sparse(p) for p in parts):
            import scipy.sparse as sp

            out = sp.hstack(parts, format="csr")
            values = out.data
        else:
            out = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
            values = out
        if self.handle_invalid == "keep" or not np.isnan(values).any():
            frame[target] = out
            return
        bad = np.isnan(as_dense(out)).any(axis=1)
        if self.handle_invalid == "error":
            first = next(c for c, p in zip(self.ports.input_list(), parts) if np.isnan(as_dense(p)).any())
            raise invalid_row(frame, first, bad, "is null or NaN",
                              "send a number (the VectorAssembler was fitted with handleInvalid='error')")
        frame[target] = out
        frame.keep_rows(~bad)


def _concatenate(columns: list[np.ndarray], n: int) -> np.ndarray:
    """Scalars and dense vectors side by side, filled into one preallocated array."""
    widths = [1 if c.ndim == 1 else c.shape[1] for c in columns]
    out = np.empty((n, sum(widths)))
    start = 0
    for column, width in zip(columns, widths):
        if column.ndim == 1:
            out[:, start] = column
        else:
            out[:, start:start + width] = column
        start += width
    return out


class _Selection(UnaryOp):
    """Keep the features at fixed positions (shared by the slicer and the selectors)."""

    def __init__(self, name, ports, indices):
        super().__init__(name, ports)
        self.indices = np.asarray(indices, dtype=np.int64)

    def output_sizes(self, sizes):
        return {self.output: len(self.indices)}

    def transform(self, frame) -> None:
        x = vectors(frame, self.input)
        width = x.shape[1]
        if len(self.indices) and self.indices.max() >= width:
            raise invalid_row(frame, self.input, np.ones(len(frame), dtype=bool),
                              f"is a vector of {width} features", f"send vectors of at least "
                              f"{self.indices.max() + 1} features")
        frame[self.output] = x[:, self.indices]


@register
class VectorSlicer(_Selection):
    names = ("vector_slicer",)
    spark_classes = ("org.apache.spark.ml.feature.VectorSlicer",)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, list(attrs.get("indices") or []) + list(attrs.get("named_indices") or []))

    @classmethod
    def from_spark(cls, stage):
        if stage.param("names"):
            raise ValueError("VectorSlicer names= are resolved from column metadata, which a saved model "
                             "does not keep; slice by indices= instead")
        return cls(stage.uid, spark_ports(stage), stage.param("indices") or [])

    def to_mleap(self):
        return "vector_slicer", {"indices": enc.longs(self.indices), "names": enc.strings([]),
                                 "named_indices": enc.integers([])}


@register
class FeatureSelector(_Selection):
    """ChiSqSelector (and UnivariateFeatureSelector / VarianceThresholdSelector, whose
    fitted form is the same list of kept features)."""

    names = ("chi_sq_selector",)
    spark_classes = ("org.apache.spark.ml.feature.ChiSqSelectorModel",
                     "org.apache.spark.ml.feature.UnivariateFeatureSelectorModel",
                     "org.apache.spark.ml.feature.VarianceThresholdSelectorModel")

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, sorted(attrs.get("filter_indices") or []))

    @classmethod
    def from_spark(cls, stage):
        ports = Ports({"input": stage.param("featuresCol", "features")}, {"output": stage.param("outputCol")})
        return cls(stage.uid, ports, sorted(stage.row()["selectedFeatures"]))

    def to_mleap(self):
        return "chi_sq_selector", {"filter_indices": enc.longs(self.indices)}


@register
class Interaction(Op):
    """Spark ``Interaction``: the product of every combination of one feature per input
    (first input varies slowest). A nominal feature with ``k > 1`` values is one-hot
    encoded first; numeric features count as one."""

    names = ("interaction",)
    spark_classes = ("org.apache.spark.ml.feature.Interaction",)

    def __init__(self, name, ports, feature_sizes: list[list[int]] | None):
        super().__init__(name, ports)
        self.feature_sizes = feature_sizes  # None: all numeric, widths taken from the data

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        count = attrs.get("num_inputs") or len(ports.inputs)
        return cls(name, ports, [list(attrs.get(f"num_features{i}") or [1]) for i in range(count)])

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, _numbered_inputs(stage.param("inputCols"), stage.param("outputCol")), None)

    def output_sizes(self, sizes):
        widths = [sizes.get(c) or 1 for c in self.ports.input_list()]
        if self.feature_sizes is None:
            self.feature_sizes = [[1] * w for w in widths]
        return {self.ports.output_list()[0]: int(np.prod([sum(f) for f in self.feature_sizes]))}

    def to_mleap(self):
        if self.feature_sizes is None:
            raise ValueError("the input widths of this Interaction are unknown")
        attrs = {"num_inputs": enc.integer(len(self.feature_sizes)),
                 "input_shapes": enc.data_shapes(None if len(f) == 1 else len(f) for f in self.feature_sizes)}
        for i, sizes in enumerate(self.feature_sizes):
            attrs[f"num_features{i}"] = enc.integers(sizes)
        return "interaction", attrs

    def _encode(self, frame, column: str, sizes: list[int] | None) -> np.ndarray:
        x = as_dense(vectors(frame, column))
        if sizes is None or all(s == 1 for s in sizes):
            return x
        parts = []
        for j, size in enumerate(sizes):
            if size == 1:
                parts.append(x[:, j:j + 1])
                continue
            value = x[:, j]
            bad = ~((value >= 0) & (value < size) & (value == np.floor(value)))
            if bad.any():
                raise invalid_row(frame, column, bad, f"holds {value[bad][0]!r} for a nominal feature",
                                  f"send a category index from 0 to {size - 1}")
            hot = np.zeros((len(value), size))
            hot[np.arange(len(value)), value.astype(np.int64)] = 1.0
            parts.append(hot)
        return np.concatenate(parts, axis=1)

    def transform(self, frame) -> None:
        columns = self.ports.input_list()
        sizes = self.feature_sizes or [None] * len(columns)
        out = np.ones((len(frame), 1))
        # Spark multiplies from the last input to the first; doing the same keeps every
        # product bit-identical.
        for column, feature_sizes in reversed(list(zip(columns, sizes))):
            encoded = self._encode(frame, column, feature_sizes)
            out = (encoded[:, :, None] * out[:, None, :]).reshape(len(frame), -1)
        frame[self.ports.output_list()[0]] = out


def polynomial_terms(n: int, degree: int) -> np.ndarray:
    """Exponents of each output of Spark's PolynomialExpansion, in its order.

    Spark expands recursively from the last feature to the first, each feature's power going
    from 0 up; the constant term is left out. For ``(x, y)``, degree 2: ``x, x², y, xy, y²``.
    """
    terms: list[tuple[int, ...]] = []
    powers = [0] * n

    def expand(last: int, remaining: int) -> None:
        if remaining == 0 or last < 0:
            if any(powers):
                terms.append(tuple(powers))
            return
        for power in range(remaining + 1):
            powers[last] = power
            expand(last - 1, remaining - power)
        powers[last] = 0

    expand(n - 1, degree)
    return np.array(terms, dtype=np.int64).reshape(-1, n)


@register
class PolynomialExpansion(UnaryOp):
    names = ("polynomial_expansion",)
    spark_classes = ("org.apache.spark.ml.feature.PolynomialExpansion",)

    def __init__(self, name, ports, degree: int, input_size: int | None = None):
        super().__init__(name, ports)
        self.degree = int(degree)
        self.input_size = input_size
        self._terms: dict[int, np.ndarray] = {}

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("degree") or 2, attrs.get("input_size"))

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, spark_ports(stage), stage.param("degree", 2))

    def to_mleap(self):
        attrs = {"degree": enc.long(self.degree)}
        if self.input_size is not None:
            attrs["input_size"] = enc.long(self.input_size)
        return "polynomial_expansion", attrs

    def terms(self, n: int) -> np.ndarray:
        if n not in self._terms:
            self._terms[n] = polynomial_terms(n, self.degree)
        return self._terms[n]

    def output_sizes(self, sizes):
        n = sizes.get(self.input) or 1
        self.input_size = self.input_size or n
        return {self.output: len(self.terms(n))}

    def transform(self, frame) -> None:
        x = as_dense(vectors(frame, self.input))
        terms = self.terms(x.shape[1])
        out = np.ones((len(x), len(terms)))
        for feature in range(x.shape[1]):
            powers = terms[:, feature]
            for power in range(1, self.degree + 1):
                out[:, powers == power] *= (x[:, feature] ** power)[:, None]
        frame[self.output] = out


@register
class PCA(UnaryOp):
    """Spark ``PCAModel``: ``pcᵀ · x`` (``pc`` is features × k)."""

    names = ("pca",)
    spark_classes = ("org.apache.spark.ml.feature.PCAModel",)

    def __init__(self, name, ports, components):
        super().__init__(name, ports)
        self.components = np.asarray(components, dtype=np.float64)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs["principal_components"])

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, spark_ports(stage), matrix(stage.row()["pc"]))

    def to_mleap(self):
        return "pca", {"principal_components": enc.tensor(self.components)}

    def output_sizes(self, sizes):
        return {self.output: self.components.shape[1]}

    def transform(self, frame) -> None:
        x = vectors(frame, self.input)
        frame[self.output] = np.asarray(x @ self.components)


@register
class DCT(UnaryOp):
    """Spark ``DCT``: the orthonormal DCT-II (or its inverse) of each vector."""

    names = ("dct",)
    spark_classes = ("org.apache.spark.ml.feature.DCT",)

    def __init__(self, name, ports, inverse: bool):
        super().__init__(name, ports)
        self.inverse = bool(inverse)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("inverse"))

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, spark_ports(stage), stage.param("inverse", False))

    def to_mleap(self):
        return "dct", {"inverse": enc.boolean(self.inverse)}

    def transform(self, frame) -> None:
        from scipy.fft import dct, idct

        x = as_dense(vectors(frame, self.input))
        frame[self.output] = (idct if self.inverse else dct)(x, type=2, norm="ortho", axis=1)
