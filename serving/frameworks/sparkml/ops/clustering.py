"""Clustering models: ``k_means``, ``bisecting_k_means`` and ``gaussian_mixture``
(``mleap-format.md`` 8.26, 8.28). Predictions are cluster indices (integers, as Spark's
``prediction`` column is ``int`` for these models).
"""

from __future__ import annotations

import json

import numpy as np

from ....errors import ConfigurationError
from .. import encode as enc
from ..frame import as_dense
from ..spark_native import matrix, vector
from . import register
from .base import Op, Ports
from .predictor import features, spark_ports

# Spark's MLUtils.EPSILON: the machine epsilon of double precision.
EPSILON = float(np.finfo(np.float64).eps)


def squared_distances(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Exact squared Euclidean distance of every row to every centre: (rows, centres).

    One pass per centre (centres are few) keeps memory at rows x features, and avoids the
    ``|x|² - 2x·c + |c|²`` shortcut, whose rounding can swap near-equal centres.
    """
    out = np.empty((X.shape[0], centers.shape[0]))
    for k, c in enumerate(centers):
        d = X - c
        out[:, k] = np.einsum("ij,ij->i", d, d)
    return out


class ClusterModel(Op):
    num_features: int | None = None

    def write(self, frame, outputs: dict[str, np.ndarray]) -> None:
        for port, column in self.ports.outputs.items():
            frame[column] = outputs[port]


@register
class KMeans(ClusterModel):
    """Index of the nearest centre (lowest index on ties); Spark's ``cosine`` measure too."""

    names = ("k_means",)
    spark_classes = ("org.apache.spark.ml.clustering.KMeansModel",)

    def __init__(self, name: str, ports: Ports, centers, distance_measure: str = "euclidean"):
        super().__init__(name, ports)
        self.centers = np.atleast_2d(np.asarray(centers, dtype=np.float64))
        self.num_features = self.centers.shape[1]
        if distance_measure not in ("euclidean", "cosine"):
            raise ConfigurationError(f"k-means '{name}' uses the distance '{distance_measure}'; "
                                     "supported: euclidean, cosine")
        self.distance_measure = distance_measure

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, np.vstack(attrs["cluster_centers"]), attrs.get("distance_measure") or "euclidean")

    @classmethod
    def from_spark(cls, stage):
        rows = sorted(stage.rows(), key=lambda r: r["clusterIdx"])
        return cls(stage.uid, spark_ports(stage, ("prediction",)), [vector(r["clusterCenter"]) for r in rows],
                   stage.param("distanceMeasure", "euclidean"))

    def to_mleap(self):
        if self.distance_measure != "euclidean":
            raise ConfigurationError(f"k-means '{self.name}' uses the {self.distance_measure} distance, "
                                     "which MLeap's k_means op cannot express")
        return "k_means", {"cluster_centers": enc.tensors(self.centers), "num_features": enc.long(self.num_features)}

    def transform(self, frame) -> None:
        X = as_dense(features(frame, self, self.num_features))
        if self.distance_measure == "cosine":
            norms = np.linalg.norm(X, axis=1)[:, None] * np.linalg.norm(self.centers, axis=1)[None, :]
            with np.errstate(divide="ignore", invalid="ignore"):
                distance = 1.0 - (X @ self.centers.T) / norms
        else:
            distance = squared_distances(X, self.centers)
        self.write(frame, {"prediction": np.argmin(distance, axis=1).astype(np.int64)})


@register
class BisectingKMeans(ClusterModel):
    """Walk the cluster tree from the root, always into the nearest child centre, until a
    leaf; its ``index`` is the cluster. All rows descend together, one level per step."""

    names = ("bisecting_k_means",)
    spark_classes = ("org.apache.spark.ml.clustering.BisectingKMeansModel",)

    def __init__(self, name, ports, index, centers, norms, children: list[list[int]]):
        super().__init__(name, ports)
        self.index = np.asarray(index, dtype=np.int64)
        self.centers = np.atleast_2d(np.asarray(centers, dtype=np.float64))
        self.norms = np.asarray(norms, dtype=np.float64)
        self.children = children
        self.num_features = self.centers.shape[1]
        width = max((len(c) for c in children), default=0)
        self.child_table = np.full((len(children), max(width, 1)), -1, dtype=np.int64)
        for node, kids in enumerate(children):
            self.child_table[node, :len(kids)] = kids
        self.depth = self._depth()

    def _depth(self) -> int:
        best, stack = 0, [(0, 0)]
        while stack:
            node, d = stack.pop()
            best = max(best, d)
            stack += [(k, d + 1) for k in self.children[node]]
        return best

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        records = [json.loads(line) for line in bundle.read_text("tree.json").splitlines() if line.strip()]
        index, centers, norms, children = [], [], [], []
        position = iter(range(len(records)))

        def build() -> int:  # pre-order: a node, then each of its children's subtrees
            node = next(position)
            record = records[node]
            index.append(record["index"])
            centers.append(record["values"])
            norms.append(record.get("norm", 0.0))
            children.append([])
            for _ in range(record.get("numChildren", 0)):
                children[node].append(build())
            return node

        build()
        return cls(name, ports, index, centers, norms, children)

    @classmethod
    def from_spark(cls, stage):
        rows = stage.rows("data/data")
        meta = json.loads(next((stage.path / "data" / "metadata").glob("part-*")).read_text().splitlines()[0])
        if meta.get("distanceMeasure", "euclidean") != "euclidean":
            raise ConfigurationError(f"bisecting k-means {stage.uid} uses the {meta['distanceMeasure']} "
                                     "distance; only euclidean is supported")
        by_index = {r["index"]: r for r in rows}
        order: list[int] = []
        stack = [meta["rootId"]]
        while stack:  # pre-order, children in their stored order
            node = stack.pop()
            order.append(node)
            stack += reversed(by_index[node]["children"])
        position = {idx: i for i, idx in enumerate(order)}
        return cls(stage.uid, spark_ports(stage, ("prediction",)), order,
                   [vector(by_index[i]["center"]) for i in order], [by_index[i]["norm"] for i in order],
                   [[position[c] for c in by_index[i]["children"]] for i in order])

    def to_mleap(self):
        return "bisecting_k_means", {}

    def write_mleap_files(self, writer) -> None:
        lines = [json.dumps({"index": int(self.index[n]), "norm": float(self.norms[n]),
                             "values": self.centers[n].tolist(), "numChildren": len(self.children[n])})
                 for n in range(len(self.children))]  # nodes are stored in pre-order
        writer.write_text("tree.json", "\n".join(lines) + "\n")

    def transform(self, frame) -> None:
        X = as_dense(features(frame, self, self.num_features))
        node = np.zeros(X.shape[0], dtype=np.int64)
        for _ in range(self.depth):
            kids = self.child_table[node]  # (rows, max children), -1 = none
            best = np.full(X.shape[0], np.inf)
            choice = node.copy()
            for slot in range(kids.shape[1]):
                child = kids[:, slot]
                valid = child >= 0
                d = X - self.centers[child.clip(0)]
                cost = np.where(valid, np.einsum("ij,ij->i", d, d), np.inf)
                better = cost < best
                best = np.where(better, cost, best)
                choice = np.where(better, child, choice)
            node = choice
        self.write(frame, {"prediction": self.index[node]})


@register
class GaussianMixture(ClusterModel):
    """Posterior of each component (``probability``) and the most likely one (``prediction``).

    Densities use Spark's ``MultivariateGaussian``: the covariance's eigen-decomposition,
    with eigenvalues under ``EPSILON · max · k`` treated as zero (pseudo-inverse and
    pseudo-determinant), so singular covariances behave as in Spark.
    """

    names = ("gaussian_mixture",)
    spark_classes = ("org.apache.spark.ml.clustering.GaussianMixtureModel",)

    def __init__(self, name, ports, weights, means, covariances):
        super().__init__(name, ports)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.means = np.atleast_2d(np.asarray(means, dtype=np.float64))
        self.covariances = [np.asarray(c, dtype=np.float64) for c in covariances]
        self.num_features = self.means.shape[1]
        self._constants = [self._gaussian_constants(c) for c in self.covariances]

    @staticmethod
    def _gaussian_constants(sigma: np.ndarray) -> tuple[np.ndarray, float]:
        d, u = np.linalg.eigh(sigma)
        tol = EPSILON * d.max() * d.size
        kept = d > tol
        log_det = float(np.log(d[kept]).sum())
        root_inv = (np.where(kept, np.sqrt(1.0 / np.where(kept, d, 1.0)), 0.0)[:, None]) * u.T
        return root_inv, -0.5 * (d.size * np.log(2.0 * np.pi) + log_det)

    @classmethod
    def from_mleap(cls, name, attrs, ports, bundle):
        return cls(name, ports, attrs["weights"], np.vstack(attrs["means"]), attrs["covs"])

    @classmethod
    def from_spark(cls, stage):
        row = stage.row()
        return cls(stage.uid, spark_ports(stage, ("probability", "prediction")), row["weights"],
                   [vector(m) for m in row["mus"]], [matrix(s) for s in row["sigmas"]])

    def to_mleap(self):
        return "gaussian_mixture", {"means": enc.tensors(self.means), "covs": enc.tensors(self.covariances),
                                    "weights": enc.doubles(self.weights)}

    def log_densities(self, X: np.ndarray) -> np.ndarray:
        out = np.empty((X.shape[0], self.weights.size))
        for k, (root_inv, constant) in enumerate(self._constants):
            z = (X - self.means[k]) @ root_inv.T
            out[:, k] = constant - 0.5 * np.einsum("ij,ij->i", z, z)
        return out

    def transform(self, frame) -> None:
        X = as_dense(features(frame, self, self.num_features))
        p = EPSILON + self.weights * np.exp(self.log_densities(X))
        total = np.zeros(p.shape[0])
        for k in range(p.shape[1]):
            total = total + p[:, k]
        probability = p / total[:, None]
        self.write(frame, {"probability": probability,
                           "prediction": np.argmax(probability, axis=1).astype(np.int64)})

    def output_sizes(self, sizes):
        return {c: (self.weights.size if p == "probability" else None) for p, c in self.ports.outputs.items()}
