"""The SageMaker guide's Spark ML -> XGBoost abalone pipeline, trained here.

The featurizer is the pyspark pipeline of ``examples/sparkml-abalone`` (``StringIndexer(sex) ->
OneHotEncoder -> VectorAssembler -> StandardScaler``), exported as an MLeap bundle for our
Spark ML container. The XGBoost regressor (``reg:squarederror``, saved as SageMaker's
training saves ``xgboost-model``) is trained on Spark's own ``transform`` of the rows, so
the two containers agree on every feature.

    python examples/sparkml-xgboost/train.py --out build/sparkml-xgboost
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import xgboost as xgb

HERE = Path(__file__).resolve().parent


def _sparkml_abalone():
    spec = importlib.util.spec_from_file_location("sparkml_abalone_train", HERE.parent / "sparkml-abalone" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train(data: str | Path, out: str | Path, spark=None) -> tuple[Path, Path]:
    """Returns (Spark ML featurizer model dir, XGBoost model dir)."""
    featurizer_dir, features, rings = _sparkml_abalone().featurize(data, out, spark)
    booster = xgb.train({"objective": "reg:squarederror", "max_depth": 5, "eta": 0.2, "subsample": 0.8,
                         "min_child_weight": 6, "seed": 7}, xgb.DMatrix(features, label=rings), 60)
    xgboost_dir = Path(out) / "xgboost"
    xgboost_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(xgboost_dir / "xgboost-model"))
    return featurizer_dir, xgboost_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parents[1].parent / "shared" / "data" / "abalone.data"))
    parser.add_argument("--out", default="build/sparkml-xgboost")
    args = parser.parse_args()
    for path in train(args.data, args.out):
        print(f"saved {path}")


if __name__ == "__main__":
    main()
