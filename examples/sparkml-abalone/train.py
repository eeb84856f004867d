"""Train the abalone featurizer in Spark, export it, and train a regressor on its output.

The featurizer is the Spark ML form of the public SageMaker Spark ML + XGBoost abalone
example: ``StringIndexer(sex) -> OneHotEncoder -> VectorAssembler -> StandardScaler``. It is
saved as a Spark model, then exported to an MLeap bundle (the model directory of our Spark
ML container, with a ``schema.json``). The scikit-learn regressor is trained on Spark's own
``transform`` of the training rows, so the two containers agree on every feature.

    python examples/sparkml-abalone/train.py --out build/sparkml-abalone
"""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import Ridge

from serving.frameworks.sparkml.export import export_model_dir

NUMERIC = ["length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]
COLUMNS = ["sex", *NUMERIC, "rings"]

SCHEMA = {
    "input": [{"name": "sex", "type": "string"}] + [{"name": n, "type": "double"} for n in NUMERIC],
    "output": {"name": "features", "type": "double", "struct": "vector"},
}


def spark_session():
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master("local[2]").appName("sparkml-abalone")
            .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2").getOrCreate())


def read_abalone(spark, path: str | Path):
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    schema = StructType([StructField("sex", StringType())] + [StructField(n, DoubleType()) for n in NUMERIC + ["rings"]])
    return spark.read.csv(str(path), schema=schema)


def featurizer():
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler

    return Pipeline(stages=[
        StringIndexer(inputCol="sex", outputCol="sex_index"),
        OneHotEncoder(inputCol="sex_index", outputCol="sex_vec"),
        VectorAssembler(inputCols=NUMERIC + ["sex_vec"], outputCol="assembled"),
        StandardScaler(inputCol="assembled", outputCol="features", withMean=True, withStd=True),
    ])


def featurize(data: str | Path, out: str | Path, spark=None) -> tuple[Path, np.ndarray, np.ndarray]:
    """Fit the featurizer, save it, export it to ``out/featurizer``; returns that directory and
    Spark's own ``transform`` of the training rows (features, rings), to train a model on."""
    spark = spark or spark_session()
    out = Path(out)
    frame = read_abalone(spark, data)
    model = featurizer().fit(frame)
    model.write().overwrite().save(str(out / "spark-featurizer"))
    featurizer_dir = export_model_dir(out / "spark-featurizer", out / "featurizer", SCHEMA)
    rows = model.transform(frame).select("features", "rings").collect()
    return featurizer_dir, np.array([r["features"].toArray() for r in rows]), np.array([r["rings"] for r in rows])


def train(data: str | Path, out: str | Path, spark=None) -> tuple[Path, Path]:
    """Returns (featurizer model dir, regressor model dir)."""
    featurizer_dir, features, rings = featurize(data, out, spark)
    regressor_dir = Path(out) / "regressor"
    regressor_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(Ridge(alpha=1.0).fit(features, rings), regressor_dir / "model.joblib")
    return featurizer_dir, regressor_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--data", default=str(here.parents[2] / "shared" / "data" / "abalone.data"))
    parser.add_argument("--out", default="build/sparkml-abalone")
    args = parser.parse_args()
    for path in train(args.data, args.out):
        print(f"saved {path}")


if __name__ == "__main__":
    main()
