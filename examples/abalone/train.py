"""Train the abalone featurizer and regressor of the public SageMaker pipeline example.

The featurizer follows the public ``sklearn_abalone_featurizer.py``: numeric columns get a
median imputer and a standard scaler, ``sex`` a constant imputer and a one-hot encoder that
ignores unknown values. The regressor is trained on the featurizer's output. Each is saved
as its own model directory, as SageMaker would unpack two ``model.tar.gz`` archives.

    python examples/abalone/train.py --data ../shared/data/abalone.data --out build/abalone
"""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

FEATURES = ["sex", "length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]
LABEL = "rings"
NUMERIC = FEATURES[1:]


def load(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, header=None, names=FEATURES + [LABEL])


def featurizer() -> ColumnTransformer:
    return ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
        ("sex", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore")), ["sex"]),
    ])


def train(data: str | Path, out: str | Path) -> tuple[Path, Path]:
    frame = load(data)
    features = featurizer().fit(frame[FEATURES])
    regressor = Ridge(alpha=1.0).fit(features.transform(frame[FEATURES]), frame[LABEL])
    out = Path(out)
    paths = out / "featurizer", out / "regressor"
    for path, model in zip(paths, (features, regressor)):
        path.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, path / "model.joblib")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--data", default=str(here.parents[2] / "shared" / "data" / "abalone.data"))
    parser.add_argument("--out", default="build/abalone")
    args = parser.parse_args()
    for path in train(args.data, args.out):
        print(f"saved {path / 'model.joblib'}")


if __name__ == "__main__":
    main()
