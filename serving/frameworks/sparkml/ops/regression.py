"""Linear-family regressors: ``linear_regression``, ``generalized_linear_regression``,
``isotonic_regression`` and ``aft_survival_regression`` (``mleap-format.md`` 8.20).

Each computes what Spark's model computes, in the same order of operations where the
order changes the last bits (e.g. the isotonic lookup reproduces Java's binary search,
which picks among duplicated boundaries the way Spark does).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import erf

from ....errors import ConfigurationError
from .. import encode as enc
from ..columns import vectors
from ..spark_native import vector
from . import register
from .base import Ports
from .predictor import Regressor, features, spark_ports


def _zero(value: Any) -> float:
    """A double attribute MLeap may have written as ``{}`` (zero omitted)."""
    return 0.0 if value is None else float(value)


class LinearModel(Regressor):
    """``w . x + b`` followed by an op-specific function of the margin."""

    def __init__(self, name: str, ports: Ports, coefficients: np.ndarray, intercept: float):
        super().__init__(name, ports)
        self.coefficients = np.asarray(coefficients, dtype=np.float64).reshape(-1)
        self.intercept = float(intercept)
        self.num_features = self.coefficients.size

    def margin(self, X: Any) -> np.ndarray:
        return np.asarray(X @ self.coefficients).reshape(-1) + self.intercept


@register
class LinearRegression(LinearModel):
    names = ("linear_regression",)
    spark_classes = ("org.apache.spark.ml.regression.LinearRegressionModel",)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs["coefficients"], _zero(attrs.get("intercept")))

    @classmethod
    def from_spark(cls, stage):
        row = stage.row()
        return cls(stage.uid, spark_ports(stage, ("prediction",)), vector(row["coefficients"]), row["intercept"])

    def to_mleap(self):
        return "linear_regression", {"coefficients": enc.tensor(self.coefficients),
                                     "intercept": enc.double(self.intercept)}

    def predict(self, X):
        return self.margin(X)


# Inverse link functions (Spark's GeneralizedLinearRegression.Link.unlink).
UNLINK = {
    "identity": lambda eta: eta,
    "log": np.exp,
    "logit": lambda eta: 1.0 / (1.0 + np.exp(-eta)),
    "inverse": lambda eta: 1.0 / eta,
    # Breeze's Gaussian cdf, 0.5 (1 + erf(x / √2)): less exact in the far tail than
    # scipy's ndtr, but it is what Spark returns.
    "probit": lambda eta: 0.5 * (1.0 + erf(eta / np.sqrt(2.0))),
    "cloglog": lambda eta: 1.0 - np.exp(-np.exp(eta)),
    "sqrt": lambda eta: eta * eta,
}
GLM_EPSILON = 1e-16
BIGGEST = np.finfo(np.float64).max


def project(family: str, mu: np.ndarray) -> np.ndarray:
    """Spark's ``Family.project``: keep the mean inside the family's support."""
    if family == "binomial":
        return np.clip(mu, GLM_EPSILON, 1.0 - GLM_EPSILON)
    if family in ("poisson", "gamma", "tweedie"):
        return np.where(mu < GLM_EPSILON, GLM_EPSILON, np.where(np.isposinf(mu), BIGGEST, mu))
    return np.where(np.isneginf(mu), -BIGGEST, np.where(np.isposinf(mu), BIGGEST, mu))


DEFAULT_LINK = {"gaussian": "identity", "binomial": "logit", "poisson": "log", "gamma": "inverse"}


@register
class GeneralizedLinearRegression(LinearModel):
    """``prediction = link⁻¹(w·x + b)``; the optional ``link_prediction`` port is ``w·x + b``."""

    names = ("generalized_linear_regression",)
    spark_classes = ("org.apache.spark.ml.regression.GeneralizedLinearRegressionModel",)

    def __init__(self, name, ports, coefficients, intercept, family: str, link: str,
                 link_power: float | None = None):
        super().__init__(name, ports, coefficients, intercept)
        self.family, self.link, self.link_power = family, link, link_power
        if link != "power" and link not in UNLINK:
            raise ConfigurationError(
                f"the generalized linear model '{name}' uses the link '{link}'; supported links: "
                f"{', '.join(sorted(UNLINK))}, power (tweedie)"
            )

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        family = attrs.get("family") or "gaussian"
        link = attrs.get("link") or DEFAULT_LINK.get(family, "identity")
        return cls(name, ports, attrs["coefficients"], _zero(attrs.get("intercept")), family, link)

    @classmethod
    def from_spark(cls, stage):
        row = stage.row()
        family = stage.param("family", "gaussian").lower()
        link = stage.param("link")
        power = None
        if family == "tweedie":
            link = "power"
            power = stage.param("linkPower")
            if power is None:
                power = 1.0 - float(stage.param("variancePower", 0.0))
        elif not link:
            link = DEFAULT_LINK[family]
        ports = spark_ports(stage, ("prediction",))
        if stage.param("linkPredictionCol"):
            ports.outputs["link_prediction"] = stage.param("linkPredictionCol")
        if stage.param("offsetCol"):
            raise ConfigurationError(
                f"the generalized linear model {stage.uid} reads an offset column "
                f"('{stage.param('offsetCol')}'), which this runtime does not support"
            )
        return cls(stage.uid, ports, vector(row["coefficients"]), row["intercept"], family, link.lower(), power)

    def to_mleap(self):
        if self.link == "power":
            raise ConfigurationError(
                f"the generalized linear model '{self.name}' (tweedie family, power link) "
                "has no MLeap encoding"
            )
        return "generalized_linear_regression", {
            "coefficients": enc.tensor(self.coefficients), "intercept": enc.double(self.intercept),
            "family": enc.string(self.family), "link": enc.string(self.link)}

    def unlink(self, eta: np.ndarray) -> np.ndarray:
        if self.link == "power":
            return np.exp(eta) if self.link_power == 0 else np.power(eta, 1.0 / self.link_power)
        return UNLINK[self.link](eta)

    def transform(self, frame) -> None:
        eta = self.margin(features(frame, self, self.num_features))
        outputs = self.ports.outputs
        if "prediction" in outputs:
            with np.errstate(over="ignore", divide="ignore"):
                frame[outputs["prediction"]] = project(self.family, self.unlink(eta))
        if "link_prediction" in outputs:
            frame[outputs["link_prediction"]] = eta


@register
class AFTSurvivalRegression(LinearModel):
    """Weibull AFT: ``prediction = exp(w·x + b)``; ``quantiles`` for the stored probabilities."""

    names = ("aft_survival_regression",)
    spark_classes = ("org.apache.spark.ml.regression.AFTSurvivalRegressionModel",)

    def __init__(self, name, ports, coefficients, intercept, scale: float, quantile_probabilities):
        super().__init__(name, ports, coefficients, intercept)
        self.scale = float(scale)
        self.quantile_probabilities = np.asarray(quantile_probabilities, dtype=np.float64)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs["coefficients"], _zero(attrs.get("intercept")),
                   _zero(attrs.get("scale")), attrs.get("quantile_probabilities") or [])

    @classmethod
    def from_spark(cls, stage):
        row = stage.row()
        return cls(stage.uid, spark_ports(stage, ("prediction", "quantiles")), vector(row["coefficients"]),
                   row["intercept"], row["scale"], stage.param("quantileProbabilities"))

    def to_mleap(self):
        return "aft_survival_regression", {
            "coefficients": enc.tensor(self.coefficients), "intercept": enc.double(self.intercept),
            "quantile_probabilities": enc.doubles(self.quantile_probabilities),
            "scale": enc.double(self.scale)}

    def transform(self, frame) -> None:
        lam = np.exp(self.margin(features(frame, self, self.num_features)))
        outputs = self.ports.outputs
        if "prediction" in outputs:
            frame[outputs["prediction"]] = lam
        if "quantiles" in outputs:
            k = 1.0 / self.scale
            with np.errstate(over="ignore", divide="ignore"):  # inf/0 as Java's Math gives
                factors = np.exp(np.log(-np.log1p(-self.quantile_probabilities)) / k)
            frame[outputs["quantiles"]] = lam[:, None] * factors[None, :]

    def output_sizes(self, sizes):
        return {c: (self.quantile_probabilities.size if p == "quantiles" else None)
                for p, c in self.ports.outputs.items()}


def java_binary_search(keys: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``java.util.Arrays.binarySearch`` over every value of ``x`` at once.

    Returns the index of a match, or ``-(insertion point) - 1``. With duplicated keys Java
    returns whichever equal key its halving meets first; Spark's isotonic model depends on
    that choice, so ``np.searchsorted`` (leftmost) would not do. NaN sorts above all keys.
    """
    low = np.zeros(x.shape, dtype=np.int64)
    high = np.full(x.shape, keys.size - 1, dtype=np.int64)
    found = np.full(x.shape, -1, dtype=np.int64)
    active = np.ones(x.shape, dtype=bool)
    is_nan = np.isnan(x)
    while active.any():
        mid = (low + high) >> 1
        mid_val = keys[np.clip(mid, 0, keys.size - 1)]
        less = active & ((mid_val < x) | is_nan)
        greater = active & (mid_val > x)
        equal = active & ~less & ~greater
        low = np.where(less, mid + 1, low)
        high = np.where(greater, mid - 1, high)
        found = np.where(equal, mid, found)
        active = active & ~equal & (low <= high)
    return np.where(found >= 0, found, -(low + 1))


@register
class IsotonicRegression(Regressor):
    """Piecewise-linear interpolation between ``boundaries`` / ``predictions``, constant
    outside them (Spark's ``IsotonicRegressionModel.predict``)."""

    names = ("isotonic_regression",)
    spark_classes = ("org.apache.spark.ml.regression.IsotonicRegressionModel",)

    def __init__(self, name, ports, boundaries, predictions, isotonic: bool, feature_index: int | None):
        super().__init__(name, ports)
        self.boundaries = np.asarray(boundaries, dtype=np.float64)
        self.predictions = np.asarray(predictions, dtype=np.float64)
        self.isotonic = bool(isotonic)
        self.feature_index = feature_index

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        index = attrs.get("feature_index")
        return cls(name, ports, attrs["boundaries"], attrs["predictions"],
                   bool(attrs.get("isotonic")), None if index is None else int(index))

    @classmethod
    def from_spark(cls, stage):
        row = stage.row()
        return cls(stage.uid, spark_ports(stage, ("prediction",)), row["boundaries"], row["predictions"],
                   row["isotonic"], int(stage.param("featureIndex", 0)))

    def to_mleap(self):
        attrs = {"boundaries": enc.doubles(self.boundaries), "predictions": enc.doubles(self.predictions),
                 "isotonic": enc.boolean(self.isotonic)}
        if self.feature_index is not None:
            attrs["feature_index"] = enc.long(self.feature_index)
        return "isotonic_regression", attrs

    def input_kinds(self):
        kind = "double" if self.feature_index is None else "vector"
        return {c: kind for c in self.ports.inputs.values()}

    def transform(self, frame) -> None:
        column = frame[self.ports.inputs["features"]]
        if getattr(column, "ndim", 1) == 2:  # a vector column: Spark reads featureIndex
            x = vectors(frame, self.ports.inputs["features"])[:, self.feature_index or 0]
            x = np.asarray(x.todense()).reshape(-1) if hasattr(x, "todense") else x
        else:
            x = vectors(frame, self.ports.inputs["features"])[:, 0]
        frame[self.ports.outputs["prediction"]] = self.predict(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        b, p = self.boundaries, self.predictions
        found = java_binary_search(b, x)
        insert = -found - 1
        inner = np.clip(insert, 1, b.size - 1)
        x1, x2, y1, y2 = b[inner - 1], b[inner], p[inner - 1], p[inner]
        with np.errstate(divide="ignore", invalid="ignore"):
            interpolated = y1 + (y2 - y1) * (x - x1) / (x2 - x1)
        exact = p[np.clip(found, 0, b.size - 1)]
        return np.where(found >= 0, exact,
                        np.where(insert == 0, p[0], np.where(insert == b.size, p[-1], interpolated)))
