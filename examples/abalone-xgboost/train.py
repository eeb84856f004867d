"""The abalone featurizer in front of SageMaker's XGBoost: a regressor and a classifier.

The featurizer is the public scikit-learn one of the SageMaker abalone pipeline example
(``examples/abalone/train.py``). Two XGBoost models are trained on its output and saved as
SageMaker's XGBoost training saves them (``xgboost-model``, XGBoost's own format):

- ``regressor``: ``reg:squarederror`` on the rings;
- ``classifier``: ``multi:softprob`` on the rings binned into three age groups (young:
  up to 8 rings, adult: 9 to 11, old: 12 and more), served with selectable output.

    python examples/abalone-xgboost/train.py --out build/abalone-xgboost
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import xgboost as xgb

HERE = Path(__file__).resolve().parent
GROUPS = ("young", "adult", "old")


def _abalone():
    spec = importlib.util.spec_from_file_location("abalone_train", HERE.parent / "abalone" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def age_group(rings: np.ndarray) -> np.ndarray:
    """0 (young, up to 8 rings), 1 (adult, 9 to 11), 2 (old, 12 and more)."""
    return np.digitize(rings, [9, 12])


def train(data: str | Path, out: str | Path) -> tuple[Path, Path, Path]:
    """Returns (featurizer, regressor, classifier) model directories."""
    abalone = _abalone()
    out = Path(out)
    featurizer_dir, _ = abalone.train(data, out)  # the scikit-learn featurizer (and its Ridge, unused here)
    frame = abalone.load(data)
    import joblib

    features = joblib.load(featurizer_dir / "model.joblib").transform(frame[abalone.FEATURES])
    rings = frame[abalone.LABEL].to_numpy(dtype=float)
    params = {"max_depth": 5, "eta": 0.2, "subsample": 0.8, "min_child_weight": 6, "seed": 7}
    regressor = xgb.train({**params, "objective": "reg:squarederror"}, xgb.DMatrix(features, label=rings), 60)
    classifier = xgb.train({**params, "objective": "multi:softprob", "num_class": len(GROUPS)},
                           xgb.DMatrix(features, label=age_group(rings)), 40)
    paths = featurizer_dir, out / "xgboost-regressor", out / "xgboost-classifier"
    for path, booster in zip(paths[1:], (regressor, classifier)):
        path.mkdir(parents=True, exist_ok=True)
        booster.save_model(str(path / "xgboost-model"))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parents[1].parent / "shared" / "data" / "abalone.data"))
    parser.add_argument("--out", default="build/abalone-xgboost")
    args = parser.parse_args()
    for path in train(args.data, args.out):
        print(f"saved {path}")


if __name__ == "__main__":
    main()
