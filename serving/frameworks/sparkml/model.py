"""A loaded Spark ML model, whatever it was saved as: the op tree plus what the container
needs to know about it (its input columns and the column it answers with).

``load_model(path)`` accepts an MLeap bundle (zip or directory) or a Spark-native saved
model directory, or a model directory holding exactly one of those.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigurationError
from .bundle import load_bundle
from .frame import Frame
from .ops.base import Op
from .ops.pipeline import Pipeline
from .spark_native import is_spark_model, load_spark_model


@dataclass
class SparkMLModel:
    root: Op
    source: str  # "mleap <version>" or "spark <version>"
    path: Path

    @property
    def inputs(self) -> list[str]:
        """Columns a request must supply, in first-use order."""
        return self.root.required_inputs()

    def input_kinds(self) -> dict[str, str]:
        return self.root.input_kinds()

    @property
    def outputs(self) -> list[str]:
        return self.root.produced()

    def default_output(self) -> str:
        """The last stage's ``prediction`` if it has one, else its last output column."""
        last = self.root.last_stage() if isinstance(self.root, Pipeline) else self.root
        if last is None:
            raise ConfigurationError(f"the model at {self.path} has no stages, so it produces no column")
        outputs = last.ports.outputs
        if "prediction" in outputs:
            return outputs["prediction"]
        return list(outputs.values())[-1]

    def transform(self, frame: Frame) -> Frame:
        self.root.transform(frame)
        return frame

    def ops(self) -> list[Op]:
        return [self.root, *self.root.walk()] if isinstance(self.root, Pipeline) else [self.root]


def _candidates(directory: Path) -> list[Path]:
    if (directory / "bundle.json").is_file() or is_spark_model(directory):
        return [directory]
    found = sorted(directory.glob("*.zip"))
    found += [p for p in sorted(directory.iterdir()) if p.is_dir() and
              ((p / "bundle.json").is_file() or is_spark_model(p))]
    return found


def load_model(path: str | Path) -> SparkMLModel:
    path = Path(path)
    if not path.exists():
        raise ConfigurationError(f"the model path {path} does not exist")
    if path.is_dir():
        found = _candidates(path)
        if len(found) != 1:
            what = ", ".join(p.name for p in found) if found else "nothing"
            raise ConfigurationError(
                f"{path} must hold one model: an MLeap bundle (bundle.json + root/, or a .zip) or a "
                f"saved Spark model (metadata/ + stages/); found {what}"
            )
        path = found[0]
    if path.is_dir() and is_spark_model(path):
        root = load_spark_model(path)
        return SparkMLModel(root, "spark", path)
    bundle = load_bundle(path)
    return SparkMLModel(bundle.root, f"mleap {bundle.version}", path)
