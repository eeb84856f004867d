"""Linear and neural classifiers: ``logistic_regression``, ``linear_svc`` /
``support_vector_machine``, ``naive_bayes``, ``multi_layer_perceptron_classifier`` and
``one_vs_rest`` (``mleap-format.md`` 8.21, 8.25, 8.27, 8.28).

Raw scores, probabilities and the class decision follow Spark's own model classes, so the
values match ``model.transform`` (the binary logistic model's probability is the sigmoid of
each raw score; the multinomial one subtracts the largest margin only when it is positive).
"""

from __future__ import annotations


import numpy as np

from ....errors import BadRequest, ConfigurationError
from .. import encode as enc
from ..frame import as_dense, is_sparse
from ..spark_native import SparkStage, load_stage, matrix, vector
from . import OPS, register
from .base import Ports
from .predictor import (Classifier, argmax_thresholded, float_list, softmax_rows, spark_ports,
                        thresholds_from_spark, CLASSIFIER_OUTPUTS)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@register
class LogisticRegression(Classifier):
    """Binomial (``coefficients``, ``intercept``, ``threshold``) or multinomial
    (``coefficient_matrix`` classes x features, ``intercept_vector``, ``thresholds``)."""

    names = ("logistic_regression",)
    spark_classes = ("org.apache.spark.ml.classification.LogisticRegressionModel",)

    def __init__(self, name: str, ports: Ports, coefficients: np.ndarray, intercepts: np.ndarray,
                 multinomial: bool, threshold: float = 0.5, thresholds: list[float] | None = None):
        super().__init__(name, ports)
        self.coefficients = np.atleast_2d(np.asarray(coefficients, dtype=np.float64))
        self.intercepts = np.asarray(intercepts, dtype=np.float64).reshape(-1)
        self.multinomial = multinomial
        self.num_features = self.coefficients.shape[1]
        self.num_classes = self.coefficients.shape[0] if multinomial else 2
        self.threshold = float(threshold)
        self.thresholds = thresholds if multinomial else None

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        if attrs.get("coefficient_matrix") is not None:
            return cls(name, ports, attrs["coefficient_matrix"], attrs["intercept_vector"], True,
                       thresholds=float_list(attrs.get("thresholds")))
        threshold = attrs.get("threshold")
        pair = float_list(attrs.get("thresholds"))
        if threshold is None and pair is not None:
            threshold = 1.0 / (1.0 + pair[0] / pair[1])
        intercept = attrs.get("intercept")
        return cls(name, ports, attrs["coefficients"], [0.0 if intercept is None else intercept], False,
                   threshold=0.5 if threshold is None else threshold)

    @classmethod
    def from_spark(cls, stage):
        row = stage.row()
        coefficients = matrix(row["coefficientMatrix"])
        intercepts = vector(row["interceptVector"])
        ports = spark_ports(stage, CLASSIFIER_OUTPUTS)
        thresholds = thresholds_from_spark(stage)
        if row["isMultinomial"]:
            return cls(stage.uid, ports, coefficients, intercepts, True, thresholds=thresholds)
        # Spark derives the binary threshold from a 2-element ``thresholds`` when one is set.
        threshold = 1.0 / (1.0 + thresholds[0] / thresholds[1]) if thresholds else stage.param("threshold", 0.5)
        return cls(stage.uid, ports, coefficients, intercepts, False, threshold=threshold)

    def to_mleap(self):
        attrs = {"num_classes": enc.long(self.num_classes)}
        if self.multinomial:
            # MLeap's multinomial branch; a 2-class multinomial model keeps its matrix form.
            attrs["coefficient_matrix"] = enc.tensor(self.coefficients)
            attrs["intercept_vector"] = enc.tensor(self.intercepts)
            if self.thresholds is not None:
                attrs["thresholds"] = enc.doubles(self.thresholds)
        else:
            attrs["coefficients"] = enc.tensor(self.coefficients[0])
            attrs["intercept"] = enc.double(self.intercepts[0])
            attrs["threshold"] = enc.double(self.threshold)
        return "logistic_regression", attrs

    def raw(self, X):
        if self.multinomial:
            return np.asarray(X @ self.coefficients.T) + self.intercepts
        m = np.asarray(X @ self.coefficients[0]).reshape(-1) + self.intercepts[0]
        return np.column_stack([-m, m])

    def probability(self, raw):
        if not self.multinomial:
            return _sigmoid(raw)
        top = raw.max(axis=1, keepdims=True)
        e = np.exp(raw - np.where(top > 0, top, 0.0))
        total = np.zeros(raw.shape[0])
        for k in range(raw.shape[1]):
            total = total + e[:, k]
        out = e * (1.0 / total)[:, None]
        infinite = np.isposinf(top[:, 0])  # Spark: an infinite margin takes all the mass
        if infinite.any():
            out[infinite] = np.eye(raw.shape[1])[np.argmax(raw[infinite], axis=1)]
        return out

    def predict_from_probability(self, probability):
        if self.multinomial:
            return argmax_thresholded(probability, self.thresholds)
        return (probability[:, 1] > self.threshold).astype(np.float64)

    def predict_from_raw(self, raw):
        if self.multinomial:
            return super().predict_from_raw(raw)
        t = self.threshold
        cut = -np.inf if t == 0 else np.inf if t == 1 else np.log(t / (1 - t))
        return (raw[:, 1] > cut).astype(np.float64)


@register
class LinearSVC(Classifier):
    """Linear SVM: raw ``[-m, m]`` with ``m = w·x + b``; class 1 when ``m > threshold``.

    ``support_vector_machine`` (MLeap's extension op) also offers a ``probability``
    socket, which MLeap fills with the raw scores, and may carry ``thresholds``.
    """

    names = ("linear_svc", "support_vector_machine")
    spark_classes = ("org.apache.spark.ml.classification.LinearSVCModel",)

    def __init__(self, name, ports, coefficients, intercept: float, threshold: float = 0.0,
                 thresholds: list[float] | None = None, op_name: str = "linear_svc"):
        super().__init__(name, ports)
        self.coefficients = np.asarray(coefficients, dtype=np.float64).reshape(-1)
        self.intercept = float(intercept)
        self.num_features = self.coefficients.size
        self.threshold = float(threshold)
        self.thresholds = thresholds
        self.op_name = op_name
        self.probabilistic = op_name == "support_vector_machine"

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        op_name = "support_vector_machine" if "thresholds" in attrs or "probability" in ports.outputs else "linear_svc"
        intercept, threshold = attrs.get("intercept"), attrs.get("threshold")
        return cls(name, ports, attrs["coefficients"], 0.0 if intercept is None else intercept,
                   0.0 if threshold is None else threshold, float_list(attrs.get("thresholds")), op_name)

    @classmethod
    def from_spark(cls, stage):
        row = stage.row()
        return cls(stage.uid, spark_ports(stage, ("raw_prediction", "prediction")), vector(row["coefficients"]),
                   row["intercept"], stage.param("threshold", 0.0))

    def to_mleap(self):
        return "linear_svc", {"num_classes": enc.long(2), "coefficients": enc.tensor(self.coefficients),
                              "intercept": enc.double(self.intercept), "threshold": enc.double(self.threshold)}

    def raw(self, X):
        m = np.asarray(X @ self.coefficients).reshape(-1) + self.intercept
        return np.column_stack([-m, m])

    def probability(self, raw):
        return raw

    def predict_from_probability(self, probability):
        return self.predict_from_raw(probability)

    def predict_from_raw(self, raw):
        if self.thresholds is not None:
            return argmax_thresholded(raw, self.thresholds)
        return (raw[:, 1] > self.threshold).astype(np.float64)


@register
class NaiveBayes(Classifier):
    """Spark's NaiveBayes, all four model types (MLeap's runtime runs only multinomial and
    bernoulli; gaussian and complement are computed here as Spark computes them)."""

    names = ("naive_bayes",)
    spark_classes = ("org.apache.spark.ml.classification.NaiveBayesModel",)
    MODEL_TYPES = ("multinomial", "bernoulli", "gaussian", "complement")

    def __init__(self, name, ports, pi, theta, model_type: str, sigma=None, thresholds=None):
        super().__init__(name, ports)
        if model_type not in self.MODEL_TYPES:
            raise ConfigurationError(f"naive_bayes '{name}' has model_type '{model_type}'; "
                                     f"expected one of {', '.join(self.MODEL_TYPES)}")
        self.pi = np.asarray(pi, dtype=np.float64).reshape(-1)
        self.theta = np.atleast_2d(np.asarray(theta, dtype=np.float64))
        self.sigma = None if sigma is None or np.size(sigma) == 0 else np.atleast_2d(np.asarray(sigma, dtype=np.float64))
        if model_type == "gaussian" and self.sigma is None:
            raise ConfigurationError(f"gaussian naive_bayes '{name}' has no 'sigma' (variances)")
        self.model_type = model_type
        self.num_classes, self.num_features = self.theta.shape
        self.thresholds = thresholds
        if model_type == "bernoulli":
            neg = np.log1p(-np.exp(self.theta))  # log(1 - e^theta)
            self._weights = self.theta - neg
            self._offset = self.pi + neg.sum(axis=1)
        if model_type == "gaussian":
            self._log_var_sum = np.log(self.sigma).sum(axis=1)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs["pi"], attrs["theta"], attrs.get("model_type") or "multinomial",
                   attrs.get("sigma"), float_list(attrs.get("thresholds")))

    @classmethod
    def from_spark(cls, stage):
        row = stage.row()
        sigma = matrix(row["sigma"]) if row.get("sigma") is not None else None
        return cls(stage.uid, spark_ports(stage, CLASSIFIER_OUTPUTS), vector(row["pi"]), matrix(row["theta"]),
                   stage.param("modelType", "multinomial"), sigma, thresholds_from_spark(stage))

    def to_mleap(self):
        attrs = {"num_features": enc.long(self.num_features), "num_classes": enc.long(self.num_classes),
                 "pi": enc.tensor(self.pi), "theta": enc.tensor(self.theta),
                 "model_type": enc.string(self.model_type)}
        if self.sigma is not None:
            attrs["sigma"] = enc.tensor(self.sigma)
        if self.thresholds is not None:
            attrs["thresholds"] = enc.doubles(self.thresholds)
        return "naive_bayes", attrs

    def _check(self, X):
        values = X.data if is_sparse(X) else X  # a CSR's stored values
        if self.model_type in ("multinomial", "complement") and (values < 0).any():
            raise BadRequest(f"the {self.model_type} naive Bayes model '{self.name}' needs non-negative "
                             f"feature values; column '{self.ports.inputs['features']}' has negative ones")
        if self.model_type == "bernoulli" and ((values != 0) & (values != 1)).any():
            raise BadRequest(f"the bernoulli naive Bayes model '{self.name}' needs feature values 0 or 1; "
                             f"column '{self.ports.inputs['features']}' has others")

    def raw(self, X):
        self._check(X)
        if self.model_type == "multinomial":
            return np.asarray(X @ self.theta.T) + self.pi
        if self.model_type == "bernoulli":
            return np.asarray(X @ self._weights.T) + self._offset
        if self.model_type == "complement":
            scores = np.asarray(X @ self.theta.T)
            top = scores.max(axis=1, keepdims=True)
            return scores - (np.log(np.exp(scores - top).sum(axis=1, keepdims=True)) + top)
        X = as_dense(X)
        out = np.empty((X.shape[0], self.num_classes))
        for c in range(self.num_classes):  # classes are few; rows and features stay vectorised
            d = X - self.theta[c]
            out[:, c] = self.pi[c] - ((d * d / self.sigma[c]).sum(axis=1) + self._log_var_sum[c]) / 2
        return out

    def probability(self, raw):
        return softmax_rows(raw)


@register
class MultilayerPerceptron(Classifier):
    """Sigmoid hidden layers, softmax output; raw = the last layer before the softmax.

    ``weights`` holds, layer by layer, the ``out x in`` matrix column-major then the bias.
    """

    names = ("multi_layer_perceptron_classifier",)
    spark_classes = ("org.apache.spark.ml.classification.MultilayerPerceptronClassificationModel",)

    def __init__(self, name, ports, layers: list[int], weights, thresholds=None):
        super().__init__(name, ports)
        self.layers = [int(n) for n in layers]
        self.weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        expected = sum(i * o + o for i, o in zip(self.layers, self.layers[1:]))
        if expected != self.weights.size:
            raise ConfigurationError(f"the perceptron '{name}' has layers {self.layers}, which need "
                                     f"{expected} weights; it has {self.weights.size}")
        self.num_features, self.num_classes = self.layers[0], self.layers[-1]
        self.thresholds = thresholds
        self._affine = []
        offset = 0
        for n_in, n_out in zip(self.layers, self.layers[1:]):
            w = self.weights[offset:offset + n_in * n_out].reshape((n_out, n_in), order="F")
            offset += n_in * n_out
            self._affine.append((w.T.copy(), self.weights[offset:offset + n_out]))
            offset += n_out

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs["layers"], attrs["weights"], float_list(attrs.get("thresholds")))

    @classmethod
    def from_spark(cls, stage):
        return cls(stage.uid, spark_ports(stage, CLASSIFIER_OUTPUTS), stage.param("layers"),
                   vector(stage.row()["weights"]), thresholds_from_spark(stage))

    def to_mleap(self):
        attrs = {"layers": enc.longs(self.layers), "weights": enc.tensor(self.weights)}
        if self.thresholds is not None:
            attrs["thresholds"] = enc.doubles(self.thresholds)
        return "multi_layer_perceptron_classifier", attrs

    def raw(self, X):
        out = X
        for i, (w, b) in enumerate(self._affine):
            out = np.asarray(out @ w) + b
            if i < len(self._affine) - 1:
                out = _sigmoid(out)
        return out

    def probability(self, raw):
        return softmax_rows(raw)


@register
class OneVsRest(Classifier):
    """One binary classifier per class; the class whose model gives the largest raw
    score for class 1 wins (Spark). ``raw_prediction`` holds those scores; the legacy
    ``probability`` socket of old MLeap bundles gets the winner's class-1 probability."""

    names = ("one_vs_rest",)
    spark_classes = ("org.apache.spark.ml.classification.OneVsRestModel",)
    probabilistic = False

    def __init__(self, name, ports, models: list[Classifier]):
        super().__init__(name, ports)
        self.models = models
        self.num_classes = len(models)
        self.num_features = models[0].num_features if models else None

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        models = []
        for i in range(int(attrs["num_classes"])):
            op_name, child_attrs = bundle.child_model(f"model{i}")
            model_cls = OPS.get(op_name)
            if model_cls is None or not issubclass(model_cls, Classifier):
                raise ConfigurationError(f"one_vs_rest '{name}' member model{i} is a '{op_name}', "
                                         "which is not a supported classifier")
            member_ports = Ports({"features": ports.inputs["features"]}, {})
            models.append(model_cls.from_mleap(f"{name}/model{i}", child_attrs, member_ports,
                                               bundle.child(f"model{i}")))
        return cls(name, ports, models)

    @classmethod
    def from_spark(cls, stage):
        count = int(stage.metadata["numClasses"])
        models = [load_stage(SparkStage(stage.path / f"model_{i}")) for i in range(count)]
        return cls(stage.uid, spark_ports(stage, ("raw_prediction", "prediction")), models)

    def to_mleap(self):
        return "one_vs_rest", {"num_classes": enc.long(self.num_classes),
                               "num_features": enc.long(self.num_features or 0)}

    def write_mleap_files(self, writer) -> None:
        """Member models as child models ``model<i>/`` (with any files of their own)."""
        for i, model in enumerate(self.models):
            writer.write_model(f"model{i}", *model.to_mleap())
            model.write_mleap_files(writer.child(f"model{i}"))

    def raw(self, X):
        return np.column_stack([m.raw(X)[:, 1] for m in self.models])

    def scores(self, X):
        raw = self.raw(X)
        winner = np.argmax(raw, axis=1)
        out = {"raw_prediction": raw, "prediction": winner.astype(np.float64)}
        if "probability" in self.ports.outputs:
            p1 = np.column_stack([m.probability(m.raw(X))[:, 1] for m in self.models])
            out["probability"] = p1[np.arange(raw.shape[0]), winner]
        return out

    def output_sizes(self, sizes):
        return {c: (self.num_classes if p == "raw_prediction" else None) for p, c in self.ports.outputs.items()}
