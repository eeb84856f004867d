"""Model ops on the fixture models that are not bundles written by us.

The Spark-native fixtures from Hydrosphere (written by Spark 2.3: a sparse, transposed
coefficient matrix; a forest whose tree table has the 2.x column names) are read by our
runtime and by pyspark 4.3 itself, and scored on the same vectors.
"""

from __future__ import annotations

import numpy as np
import pytest

from serving.frameworks.sparkml.frame import Frame
from serving.frameworks.sparkml.spark_native import load_spark_model

pytestmark = [pytest.mark.spark, pytest.mark.slow]
NATIVE = "spark_native__Hydrospheredata_spark-ml-serving/spark-2_2/src/test/resources/pyspark_models"
OUTPUTS = ["rawPrediction", "probability", "prediction"]


def vectors(spark, column: str, width: int, rows: int = 200):
    """Sparse-ish non-negative vectors like the libsvm digits these models were fitted on."""
    from pyspark.ml.linalg import Vectors

    rng = np.random.default_rng(11)
    X = rng.integers(0, 256, (rows, width)) * (rng.random((rows, width)) < 0.2)
    return X.astype(np.float64), spark.createDataFrame([(Vectors.dense(x),) for x in X], [column])


@pytest.mark.parametrize("name,spark_class,features", [
    ("py_log_reg", "LogisticRegressionModel", "features"),
    ("py_rforest_cls", "RandomForestClassificationModel", "indexedFeatures"),
])
def test_spark_2_3_native_models_match_pyspark(spark, mleap_fixtures, name, spark_class, features):
    from pyspark.ml import classification

    path = mleap_fixtures / NATIVE / name
    theirs = getattr(classification, spark_class).load(str(path))
    X, df = vectors(spark, features, theirs.numFeatures)
    rows = theirs.transform(df).select(*OUTPUTS).collect()
    ours = load_spark_model(path)
    frame = Frame({features: X})
    ours.transform(frame)
    for j, column in enumerate(OUTPUTS):
        expected = np.array([r[j].toArray() if hasattr(r[j], "toArray") else r[j] for r in rows])
        np.testing.assert_allclose(frame[column], expected, rtol=1e-9, atol=1e-12, err_msg=column)
