"""Shared shape of the one-column-in, one-column-out stages, and their Spark params."""

from __future__ import annotations

from .base import Op, Ports


class UnaryOp(Op):
    """A stage reading ``input`` and writing ``output`` (single-column transformers)."""

    @property
    def input(self) -> str:
        return self.ports.input_list()[0]

    @property
    def output(self) -> str:
        return self.ports.output_list()[0]

    def output_sizes(self, sizes):
        return {self.output: sizes.get(self.input)}


def spark_ports(stage, single_port: bool = True) -> Ports:
    """Ports from a Spark stage's ``inputCol(s)``/``outputCol(s)`` params.

    One column uses ``input``/``output``; several use ``input0``... as MLeap numbers them.
    """
    ins = stage.param("inputCols") or ([stage.param("inputCol")] if stage.param("inputCol") else [])
    outs = stage.param("outputCols") or ([stage.param("outputCol")] if stage.param("outputCol") else [])
    return mleap_ports(ins, outs, numbered=not single_port)


def mleap_ports(inputs: list[str], outputs: list[str], numbered: bool = False) -> Ports:
    """Ports for an op we build ourselves, numbered when there are several columns."""
    if not numbered and len(inputs) == 1 and len(outputs) == 1:
        return Ports({"input": inputs[0]}, {"output": outputs[0]})
    return Ports({f"input{i}": c for i, c in enumerate(inputs)}, {f"output{i}": c for i, c in enumerate(outputs)})
