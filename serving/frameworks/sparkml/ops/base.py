"""The contract every MLeap op implements.

A bundle is read into a tree of :class:`Op` objects. Each op reads the columns named by its
input ports from a :class:`~serving.frameworks.sparkml.frame.Frame` and writes the columns
named by its output ports, working on whole columns at once (the NumPy runtime never loops
over rows in Python where a vectorised form exists).

Column conventions (see ``frame.py``):

- numeric scalar column: 1-D ``float64`` array (NaN = null); integral results of indexers
  are ``float64`` too, as in Spark;
- boolean column: 1-D ``bool`` array;
- string column: 1-D ``object`` array of ``str`` (``None`` = null);
- vector column (Spark ``Vector`` / MLeap tensor): 2-D ``float64`` array of shape
  ``(rows, size)``, or a ``scipy.sparse.csr_matrix`` of that shape where the width makes
  dense rows wasteful (HashingTF, CountVectorizer, one-hot over many categories);
- list column (Spark ``array<...>``, e.g. tokens): 1-D ``object`` array of Python lists.

An op is built three ways, all ending in the same ``__init__``:

- ``from_mleap(attrs, node)``: from a bundle's ``model.json`` attributes (already decoded
  by ``bundle.decode_attributes`` into plain Python / NumPy values, with ``{}`` left as
  ``None`` so the op chooses its own zero) and the ``node.json`` shape;
- ``from_spark(stage)``: from a Spark-native saved stage (``metadata`` params and the
  ``data/*.parquet`` table, read by ``spark_native.py``);
- and ``to_mleap()`` returns ``(op_name, attributes)`` in bundle encoding for the exporter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class Ports:
    """The column names an op reads and writes, keyed by MLeap port name.

    ``inputs`` and ``outputs`` keep ``node.json`` order: ``{"input0": "a", "input1": "b"}``.
    Optional outputs (a classifier's ``probability``) are simply absent.
    """

    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_shape(cls, shape: dict) -> "Ports":
        return cls(
            inputs={s["port"]: s["name"] for s in shape.get("inputs", [])},
            outputs={s["port"]: s["name"] for s in shape.get("outputs", [])},
        )

    def to_shape(self) -> dict:
        return {
            "inputs": [{"port": p, "name": n} for p, n in self.inputs.items()],
            "outputs": [{"port": p, "name": n} for p, n in self.outputs.items()],
        }

    def input_list(self) -> list[str]:
        """Input columns in port order (``input`` or ``input0``, ``input1``, ...)."""
        return list(self.inputs.values())

    def output_list(self) -> list[str]:
        return list(self.outputs.values())


class Op:
    """One node of a bundle: a transformer or a model.

    Subclasses set ``names`` (the MLeap op names they read, e.g. ``("string_indexer",)``)
    and implement ``from_mleap``, ``transform`` and, where Spark can produce the stage,
    ``from_spark`` / ``spark_classes`` and ``to_mleap``.
    """

    names: ClassVar[tuple[str, ...]] = ()
    #: fully-qualified Spark model classes this op reads natively,
    #: e.g. ("org.apache.spark.ml.feature.StringIndexerModel",)
    spark_classes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, ports: Ports):
        self.name = name
        self.ports = ports

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_mleap(cls, name: str, attrs: dict[str, Any], ports: Ports, bundle: Any) -> "Op":
        """Build from decoded ``model.json`` attributes.

        ``bundle`` gives access to child nodes and files (ensembles read their trees,
        pipelines their children) and to ``bundle.version`` for legacy attribute forms.
        """
        raise NotImplementedError

    @classmethod
    def from_spark(cls, stage: Any) -> "Op":
        raise NotImplementedError(f"{cls.__name__} cannot be read from a Spark-native model")

    def to_mleap(self) -> tuple[str, dict[str, Any]]:
        """Return ``(op_name, attributes)`` in bundle JSON encoding (for the exporter)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be exported to MLeap")

    def mleap_ports(self) -> Ports:
        """The ports the exporter writes in ``node.json`` (an op may renumber them)."""
        return self.ports

    def export_stages(self) -> list["Op"]:
        """The ops the exporter writes for this one: a multi-column Spark stage that MLeap
        reads one column at a time returns one single-column op per column."""
        return [self]

    def write_mleap_files(self, writer: Any) -> None:
        """Write extra files below the node directory (ensembles: ``tree0/model.json`` and
        ``tree0/tree.json``) with ``writer.write_text(relpath, text)`` and
        ``writer.write_model(relpath, op_name, attrs)``. Most ops write none."""

    # -- execution ----------------------------------------------------------------------
    def transform(self, frame: Any) -> None:
        """Read input columns from ``frame`` and add the output columns, in place."""
        raise NotImplementedError

    def required_inputs(self) -> list[str]:
        """Columns this op consumes (a pipeline subtracts what earlier stages produce)."""
        return self.ports.input_list()

    def produced(self) -> list[str]:
        return self.ports.output_list()

    def input_kinds(self) -> dict[str, str]:
        """How to decode each input column when no schema says: ``"double"``, ``"string"``,
        ``"vector"`` or ``"list"``. Models read a ``features`` vector; most transformers
        read numbers; string ops override this."""
        return {c: ("vector" if p == "features" else "double") for p, c in self.ports.inputs.items()}

    def output_sizes(self, sizes: dict[str, int | None]) -> dict[str, int | None]:
        """Width of each output column given the input widths (``None`` = scalar), for the
        exporter, which must write VectorAssembler input shapes. Default: scalars."""
        return {c: None for c in self.ports.output_list()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.ports.inputs} -> {self.ports.outputs})"
