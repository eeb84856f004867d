"""Category indexers: StringIndexer, IndexToString, OneHotEncoder, VectorIndexer."""

from __future__ import annotations

import numpy as np

from .. import encode as enc
from ..columns import doubles, invalid_row, one_hot_rows, spark_string, to_strings, vectors
from ..frame import as_dense
from . import register
from .base import Op
from .unary import UnaryOp, mleap_ports, spark_ports

HANDLE_INVALID = ("error", "skip", "keep")
DENSE_LIMIT = 256  # vectors up to this width are dense arrays, wider ones CSR


def handle_invalid(value, default: str = "error") -> str:
    value = value or default
    if value not in HANDLE_INVALID:
        raise ValueError(f"handle_invalid must be one of {', '.join(HANDLE_INVALID)}, not {value!r}")
    return value


def _shown(labels: list[str], limit: int = 10) -> str:
    head = ", ".join(repr(v) for v in labels[:limit])
    return head + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


@register
class StringIndexer(Op):
    """Spark ``StringIndexerModel``: the position of each value among the fitted labels.

    Values are cast to strings as Spark does (``1.0`` -> ``"1.0"``). Unseen values and
    nulls: ``keep`` gives ``len(labels)``, ``error`` a 400 naming the row, ``skip`` drops
    the row from the frame (Spark's semantics; the container decides how to answer it).
    """

    names = ("string_indexer",)
    spark_classes = ("org.apache.spark.ml.feature.StringIndexerModel",)

    def __init__(self, name, ports, labels: list[list[str]], handle_invalid: str = "error"):
        super().__init__(name, ports)
        self.labels = [list(ls) for ls in labels]
        self.handle_invalid = handle_invalid
        # Precomputed once: a dict lookup per value is the fastest index for object arrays.
        self.lookup = [{label: float(i) for i, label in enumerate(ls)} for ls in self.labels]
        if len(self.labels) != len(ports.inputs) or len(ports.inputs) != len(ports.outputs):
            raise ValueError(f"{len(self.labels)} label lists for {len(ports.inputs)} inputs and "
                             f"{len(ports.outputs)} outputs")

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        if attrs.get("labels_length") is not None:
            labels = [attrs.get(f"labels_array_{i}") or [] for i in range(attrs["labels_length"])]
        else:
            labels = [attrs.get("labels") or []]
        return cls(name, ports, labels, handle_invalid(attrs.get("handle_invalid")))

    @classmethod
    def from_spark(cls, stage):
        row = stage.row()
        labels = row.get("labelsArray") or [row["labels"]]
        return cls(stage.uid, spark_ports(stage), labels, handle_invalid(stage.param("handleInvalid")))

    def to_mleap(self):
        attrs = {"labels_length": enc.integer(len(self.labels)),
                 "handle_invalid": enc.string(self.handle_invalid)}
        for i, labels in enumerate(self.labels):
            attrs[f"labels_array_{i}"] = enc.strings(labels)
        if len(self.labels) == 1:  # the pre-0.18 readers look for "labels"
            attrs["labels"] = enc.strings(self.labels[0])
        return "string_indexer", attrs

    def input_kinds(self):
        return {c: "string" for c in self.ports.input_list()}

    def transform(self, frame) -> None:
        keep = None
        for source, target, lookup, labels in zip(self.ports.input_list(), self.ports.output_list(),
                                                  self.lookup, self.labels):
            column = frame[source]
            get = lookup.get
            if column.dtype == object:  # strings, as requests send them: no conversion pass
                found = [get(v, -1.0) if type(v) is str else get(spark_string(v), -1.0) for v in column]
            else:
                found = [get(v, -1.0) for v in to_strings(column)]
            index = np.array(found, dtype=np.float64)
            if -1.0 in found:
                bad = index < 0
                if self.handle_invalid == "error":
                    raise invalid_row(frame, source, bad, "is not a label this StringIndexer was fitted on",
                                      f"send one of {_shown(labels)} (or fit it with handleInvalid='keep')")
                if self.handle_invalid == "keep":
                    index[bad] = len(labels)
                else:
                    keep = ~bad if keep is None else keep & ~bad
            frame[target] = index
        if keep is not None:
            frame.keep_rows(keep)

    def output_sizes(self, sizes):
        return {c: None for c in self.ports.output_list()}


@register
class IndexToString(UnaryOp):
    """Spark ``IndexToString`` (MLeap ``reverse_string_indexer``): index -> label."""

    names = ("reverse_string_indexer",)
    spark_classes = ("org.apache.spark.ml.feature.IndexToString",)

    def __init__(self, name, ports, labels: list[str]):
        super().__init__(name, ports)
        self.labels = np.array(list(labels), dtype=object)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs.get("labels") or [])

    @classmethod
    def from_spark(cls, stage):
        labels = stage.param("labels")
        if not labels:
            raise ValueError("IndexToString without a labels param reads them from column metadata, "
                             "which a saved model does not keep; set labels= when building it")
        return cls(stage.uid, spark_ports(stage), labels)

    def to_mleap(self):
        return "reverse_string_indexer", {"labels": enc.strings(self.labels)}

    def transform(self, frame) -> None:
        x = doubles(frame, self.input)
        bad = ~((x >= 0) & (x < len(self.labels)) & (x == np.floor(x)))
        if bad.any():
            raise invalid_row(frame, self.input, bad, "is not an index of a label",
                              f"send an integral index from 0 to {len(self.labels) - 1}")
        frame[self.output] = self.labels[x.astype(np.int64)]


@register
class OneHotEncoder(Op):
    """Spark ``OneHotEncoderModel`` (MLeap >= 0.11 ``category_sizes``) and the legacy Spark 2
    ``OneHotEncoder`` transformer (``size`` = output length), read by MLeap's rule:
    ``category_sizes = [size]``, ``keep`` when ``drop_last`` else ``error``."""

    names = ("one_hot_encoder",)
    spark_classes = ("org.apache.spark.ml.feature.OneHotEncoderModel",)

    def __init__(self, name, ports, category_sizes: list[int], drop_last: bool = True,
                 handle_invalid: str = "error"):
        super().__init__(name, ports)
        self.category_sizes = [int(s) for s in category_sizes]
        self.drop_last = bool(drop_last)
        self.handle_invalid = handle_invalid
        keep = handle_invalid == "keep"
        self.widths = [s - 1 if self.drop_last and not keep else s + 1 if keep and not self.drop_last else s
                       for s in self.category_sizes]
        # Narrow encodings are a row lookup in an identity table (rows 0..size: category i,
        # and `size` for an invalid value), one NumPy call per column; wide ones are sparse.
        self.tables = [np.eye(s + 1)[:, :w] if w <= DENSE_LIMIT else None
                       for s, w in zip(self.category_sizes, self.widths)]

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        drop_last = bool(attrs.get("drop_last"))
        if attrs.get("category_sizes") is None and attrs.get("size") is not None:
            invalid = attrs.get("handle_invalid") or ("keep" if drop_last else "error")
            return cls(name, ports, [attrs["size"]], drop_last, handle_invalid(invalid))
        return cls(name, ports, attrs.get("category_sizes") or [], drop_last,
                   handle_invalid(attrs.get("handle_invalid")))

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, spark_ports(stage), stage.row()["categorySizes"],
                   stage.param("dropLast", True), handle_invalid(stage.param("handleInvalid")))

    def to_mleap(self):
        return "one_hot_encoder", {"category_sizes": enc.integers(self.category_sizes),
                                   "drop_last": enc.boolean(self.drop_last),
                                   "handle_invalid": enc.string(self.handle_invalid)}

    def mleap_ports(self):
        # MLeap 0.11-0.24 read numbered ports only, so always write input0/output0.
        return mleap_ports(self.ports.input_list(), self.ports.output_list(), numbered=True)

    def transform(self, frame) -> None:
        for source, target, size, width, table in zip(self.ports.input_list(), self.ports.output_list(),
                                                      self.category_sizes, self.widths, self.tables):
            x = doubles(frame, source)
            valid = (x >= 0) & (x < size)
            if not valid.all() and self.handle_invalid != "keep":
                raise invalid_row(frame, source, ~valid, f"is not a category index from 0 to {size - 1}",
                                  "send a known category (or fit the encoder with handleInvalid='keep')")
            # invalid values (kept) go to the extra slot `size`, absent when it was dropped
            index = np.where(valid, x, size).astype(np.int64)
            if table is not None:
                frame[target] = table[index]
            else:
                index[index >= width] = -1
                frame[target] = one_hot_rows(index, width)

    def output_sizes(self, sizes):
        return dict(zip(self.ports.output_list(), self.widths))


@register
class VectorIndexer(UnaryOp):
    """Spark ``VectorIndexerModel``: categorical features -> category indices."""

    names = ("vector_indexer",)
    spark_classes = ("org.apache.spark.ml.feature.VectorIndexerModel",)

    def __init__(self, name, ports, num_features: int, category_maps: dict[int, dict[float, int]],
                 handle_invalid: str = "error"):
        super().__init__(name, ports)
        self.num_features = int(num_features)
        self.category_maps = {int(k): {float(v): int(i) for v, i in m.items()} for k, m in category_maps.items()}
        self.handle_invalid = handle_invalid

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        maps = {int(k): dict(zip(attrs[f"key_{k}_keys"], attrs[f"key_{k}_values"]))
                for k in attrs.get("keys") or []}
        return cls(name, ports, attrs["num_features"], maps, handle_invalid(attrs.get("handle_invalid")))

    @classmethod
    def from_spark(cls, stage):
        row = stage.row()
        maps = row["categoryMaps"]
        maps = dict(maps) if not isinstance(maps, dict) else maps
        maps = {k: dict(v) if not isinstance(v, dict) else v for k, v in maps.items()}
        return cls(stage.uid, spark_ports(stage), row["numFeatures"], maps,
                   handle_invalid(stage.param("handleInvalid")))

    def to_mleap(self):
        keys = sorted(self.category_maps)
        attrs = {"keys": enc.longs(keys), "num_features": enc.long(self.num_features),
                 "handle_invalid": enc.string(self.handle_invalid)}
        for k in keys:
            pairs = sorted(self.category_maps[k].items(), key=lambda kv: kv[1])
            attrs[f"key_{k}_keys"] = enc.doubles(v for v, _ in pairs)
            attrs[f"key_{k}_values"] = enc.longs(i for _, i in pairs)
        return "vector_indexer", attrs

    def transform(self, frame) -> None:
        x = np.array(as_dense(vectors(frame, self.input)), dtype=np.float64, copy=True)
        keep = np.ones(len(x), dtype=bool)
        for k, mapping in self.category_maps.items():
            get = mapping.get
            index = np.array([get(v, -1) for v in x[:, k].tolist()], dtype=np.float64)
            bad = index < 0
            if bad.any():
                if self.handle_invalid == "error":
                    raise invalid_row(frame, self.input, bad, f"has feature {k} = {x[bad][0, k]!r}, "
                                      "which is not a category seen in fitting",
                                      f"send one of {sorted(mapping)} (or fit with handleInvalid='keep')")
                if self.handle_invalid == "keep":
                    index[bad] = len(mapping)
                else:
                    keep &= ~bad
            x[:, k] = index
        frame[self.output] = x
        frame.keep_rows(keep)
