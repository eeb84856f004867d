"""``pipeline``: run child stages in order over one shared frame (nested pipelines too)."""

from __future__ import annotations

from typing import Any

from .. import encode as enc
from . import register
from .base import Op, Ports


@register
class Pipeline(Op):
    names = ("pipeline",)
    # pyspark writes its own class name when it saves the pipeline from Python
    spark_classes = ("org.apache.spark.ml.PipelineModel", "pyspark.ml.pipeline.PipelineModel")

    def __init__(self, name: str, stages: list[Op], ports: Ports | None = None):
        super().__init__(name, ports or Ports())
        self.stages = stages

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle) -> "Pipeline":
        # Only the listed nodes count: a zip can hold stale *.node directories.
        return cls(name, [bundle.load_node(child) for child in attrs.get("nodes") or []], ports)

    @classmethod
    def from_spark(cls, stage) -> "Pipeline":
        from ..spark_native import load_stage

        return cls(stage.uid, [load_stage(child) for child in stage.stages()])

    def export_children(self) -> list[Op]:
        """The child nodes an exported bundle holds (a stage may export as several)."""
        return [node for stage in self.stages for node in stage.export_stages()]

    def to_mleap(self) -> tuple[str, dict[str, Any]]:
        return "pipeline", {"nodes": enc.strings(node.name for node in self.export_children())}

    def transform(self, frame) -> None:
        for stage in self.stages:
            stage.transform(frame)

    def required_inputs(self) -> list[str]:
        """Columns consumed before any stage produces them, in first-use order."""
        produced: set[str] = set()
        needed: list[str] = []
        for stage in self.stages:
            for column in stage.required_inputs():
                if column not in produced and column not in needed:
                    needed.append(column)
            produced.update(stage.produced())
        return needed

    def produced(self) -> list[str]:
        return [column for stage in self.stages for column in stage.produced()]

    def input_kinds(self) -> dict[str, str]:
        kinds: dict[str, str] = {}
        produced: set[str] = set()
        for stage in self.stages:
            for column, kind in stage.input_kinds().items():
                if column not in produced:
                    kinds.setdefault(column, kind)
            produced.update(stage.produced())
        return kinds

    def output_sizes(self, sizes: dict[str, int | None]) -> dict[str, int | None]:
        sizes = dict(sizes)
        for stage in self.stages:
            sizes.update(stage.output_sizes(sizes))
        return {c: sizes.get(c) for c in self.produced()}

    def walk(self):
        """Every op below this pipeline, depth first, pipelines included."""
        for stage in self.stages:
            yield stage
            if isinstance(stage, Pipeline):
                yield from stage.walk()

    def last_stage(self) -> Op | None:
        """The last leaf stage (the one whose output a featurizer answers with)."""
        for stage in reversed(self.stages):
            if isinstance(stage, Pipeline):
                leaf = stage.last_stage()
                if leaf is not None:
                    return leaf
            else:
                return stage
        return None

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, {len(self.stages)} stages)"
