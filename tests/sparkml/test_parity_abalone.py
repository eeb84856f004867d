"""The abalone featurizer of the AWS example, trained in pyspark and served by our runtime."""

from __future__ import annotations

import pytest

from .parity import ABALONE_COLUMNS, abalone_df, check_parity

pytest.importorskip("pyspark")

NUMERIC = ABALONE_COLUMNS[1:8]


def featurizer(with_mean: bool):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler

    return Pipeline(stages=[
        StringIndexer(inputCol="sex", outputCol="sex_index"),
        OneHotEncoder(inputCols=["sex_index"], outputCols=["sex_vec"]),
        VectorAssembler(inputCols=["sex_vec", *NUMERIC], outputCol="assembled"),
        StandardScaler(inputCol="assembled", outputCol="features", withMean=with_mean, withStd=True),
    ])


@pytest.mark.parametrize("with_mean", [True, False])
def test_abalone_featurizer_matches_spark_on_every_row(spark, shared_dir, tmp_path, with_mean):
    df = abalone_df(spark, shared_dir)
    fitted = featurizer(with_mean).fit(df)
    results = check_parity(fitted, df, tmp_path, ["sex_index", "sex_vec", "assembled", "features"])
    assert len(results["exported bundle"]) == 4177


def test_the_export_command_writes_a_directory_bundle_that_matches_spark(spark, shared_dir, tmp_path):
    import subprocess
    import sys

    import numpy as np

    from serving.frameworks.sparkml.model import load_model

    from .parity import frame_from_spark

    df = abalone_df(spark, shared_dir)
    fitted = featurizer(True).fit(df)
    fitted.write().save(str(tmp_path / "spark"))
    done = subprocess.run([sys.executable, "-m", "serving.cli", "sparkml", "export", str(tmp_path / "spark"),
                           str(tmp_path / "bundle")], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, f"wrote the MLeap bundle {tmp_path / 'bundle'}\n")
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == ["bundle.json", "root"]
    model = load_model(tmp_path / "bundle")
    frame = model.transform(frame_from_spark(df, model.inputs))
    expected = np.array([r[0].toArray() for r in fitted.transform(df).select("features").collect()])
    np.testing.assert_allclose(frame["features"], expected, rtol=1e-9, atol=1e-12)
