"""What every predictive model op shares: reading the features, writing the outputs.

Regressors write ``prediction``; classifiers write any of ``raw_prediction``,
``probability`` and ``prediction`` — only the sockets present in the node's shape, as the
MLeap runtime does (``mleap-format.md`` section 4). The class decision follows Spark's
``ProbabilisticClassificationModel``: from the probabilities when the model has them
(divided by ``thresholds`` when set), else from the raw scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....errors import BadRequest, ConfigurationError
from ..columns import vectors
from ..frame import as_dense
from .base import Op, Ports

CLASSIFIER_OUTPUTS = ("raw_prediction", "probability", "prediction")
# Spark param holding the column of each MLeap output port.
SPARK_OUTPUT_PARAMS = {
    "raw_prediction": "rawPredictionCol",
    "probability": "probabilityCol",
    "prediction": "predictionCol",
    "quantiles": "quantilesCol",
}


def spark_ports(stage, outputs: tuple[str, ...]) -> Ports:
    """Ports of a saved Spark model: ``featuresCol`` in, every non-empty output column out
    (Spark skips an output whose column param is ``""``)."""
    ports = Ports({"features": stage.param("featuresCol", "features")}, {})
    for port in outputs:
        column = stage.param(SPARK_OUTPUT_PARAMS[port])
        if column:
            ports.outputs[port] = column
    return ports


def thresholds_from_spark(stage) -> list[float] | None:
    """``thresholds`` only when the user set it (it has no default in Spark)."""
    values = stage.param("thresholds")
    return [float(t) for t in values] if values else None


def features(frame, op: Op, width: int | None) -> Any:
    """The op's feature vectors (dense 2-D or CSR), checked against the model's width."""
    column = op.ports.inputs["features"]
    X = vectors(frame, column)
    if width is not None and X.shape[1] != width:
        raise BadRequest(
            f"column '{column}' holds vectors of size {X.shape[1]}, but the model "
            f"'{op.name}' was trained on {width} features; send vectors of size {width}"
        )
    return X


def dense_columns(X: Any, columns: np.ndarray) -> np.ndarray:
    """The given feature columns as a dense array (trees read only the features they split on)."""
    return as_dense(X[:, columns])


def argmax_thresholded(probability: np.ndarray, thresholds: list[float] | None) -> np.ndarray:
    """Spark's ``probability2prediction``: argmax of ``p / t`` (first index on ties).

    A zero threshold makes ``p / 0`` infinite (that class always wins unless its
    probability is 0, which gives NaN and never wins)."""
    if thresholds is None:
        return np.argmax(probability, axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = probability / np.asarray(thresholds, dtype=np.float64)
    scaled = np.where(np.isnan(scaled), -np.inf, scaled)
    # Spark keeps the first strictly greater value, starting from -inf at index 0.
    return np.argmax(scaled, axis=1).astype(np.float64)


def normalize_rows(raw: np.ndarray) -> np.ndarray:
    """Spark's ``normalizeToProbabilitiesInPlace``: each value divided by the row sum."""
    total = np.zeros(raw.shape[0])
    for k in range(raw.shape[1]):  # sequential sum, as Scala's Array.sum
        total = total + raw[:, k]
    with np.errstate(divide="ignore", invalid="ignore"):
        return raw / total[:, None]


def softmax_rows(raw: np.ndarray) -> np.ndarray:
    """Softmax with the row maximum subtracted (Spark's NaiveBayes and MLP form)."""
    e = np.exp(raw - raw.max(axis=1, keepdims=True))
    total = np.zeros(raw.shape[0])
    for k in range(e.shape[1]):
        total = total + e[:, k]
    return e / total[:, None]


class Regressor(Op):
    """``features -> prediction``; subclasses implement ``predict(X) -> 1-D array``."""

    num_features: int | None = None

    def predict(self, X: Any) -> np.ndarray:
        raise NotImplementedError

    def transform(self, frame) -> None:
        X = features(frame, self, self.num_features)
        frame[self.ports.outputs["prediction"]] = np.asarray(self.predict(X), dtype=np.float64)


class Classifier(Op):
    """``features -> raw_prediction?, probability?, prediction?``.

    Subclasses implement ``raw(X)`` (n x classes) and, when probabilistic,
    ``probability(raw)``; ``predict_from_raw`` covers models without probabilities.
    """

    num_features: int | None = None
    num_classes: int = 2
    thresholds: list[float] | None = None
    probabilistic = True

    def raw(self, X: Any) -> np.ndarray:
        raise NotImplementedError

    def probability(self, raw: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_from_probability(self, probability: np.ndarray) -> np.ndarray:
        return argmax_thresholded(probability, self.thresholds)

    def predict_from_raw(self, raw: np.ndarray) -> np.ndarray:
        if self.probabilistic and self.thresholds is not None:
            return self.predict_from_probability(self.probability(raw))
        return np.argmax(raw, axis=1).astype(np.float64)

    def scores(self, X: Any) -> dict[str, np.ndarray]:
        """Every output this op's shape asks for, keyed by port."""
        wanted = self.ports.outputs
        raw = self.raw(X)
        out = {"raw_prediction": raw}
        if self.probabilistic and ("probability" in wanted or "prediction" in wanted):
            out["probability"] = self.probability(raw)
            out["prediction"] = self.predict_from_probability(out["probability"])
        else:
            out["prediction"] = self.predict_from_raw(raw)
        return out

    def transform(self, frame) -> None:
        X = features(frame, self, self.num_features)
        out = self.scores(X)
        for port, column in self.ports.outputs.items():
            if port not in out:
                raise ConfigurationError(f"the model '{self.name}' has no output '{port}'")
            frame[column] = out[port]

    def output_sizes(self, sizes: dict[str, int | None]) -> dict[str, int | None]:
        return {c: (None if p == "prediction" else self.num_classes) for p, c in self.ports.outputs.items()}


def float_list(values: Any) -> list[float] | None:
    """An optional list attribute (``thresholds``): ``None`` when absent or empty."""
    if values is None or len(values) == 0:
        return None
    return [float(v) for v in values]
