"""Predictive model ops against pyspark on abalone: every output column, every row.

Each test fits a Spark model and hands it to ``parity.check_parity``, which scores with our
op read from Spark's saved model and from the MLeap bundle our exporter writes, and compares
with Spark's ``transform``: classes equal, doubles within 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

pyspark = pytest.importorskip("pyspark")

from pyspark.ml import classification as C  # noqa: E402
from pyspark.ml import clustering as K  # noqa: E402
from pyspark.ml import regression as R  # noqa: E402

from serving.errors import BadRequest  # noqa: E402
from serving.frameworks.sparkml.frame import Frame  # noqa: E402
from serving.frameworks.sparkml.spark_native import load_spark_model  # noqa: E402

from .parity import ABALONE_COLUMNS, abalone_df, check_parity as compare  # noqa: E402

pytestmark = [pytest.mark.spark, pytest.mark.slow]
CLASSIFIER = ["rawPrediction", "probability", "prediction"]


@pytest.fixture(scope="module")
def df(spark, shared_dir):
    """Abalone with ``sex_idx`` (nominal, so trees split it categorically), ``features`` =
    [sex_idx, the 7 measurements], ``big`` = rings > 9 and ``censor`` = 1."""
    from pyspark.ml.feature import StringIndexer, VectorAssembler
    from pyspark.sql import functions as F

    data = (abalone_df(spark, shared_dir).withColumn("big", (F.col("rings") > 9).cast("double"))
            .withColumn("censor", F.lit(1.0)))
    data = StringIndexer(inputCol="sex", outputCol="sex_idx").fit(data).transform(data)
    data = VectorAssembler(inputCols=["sex_idx", *ABALONE_COLUMNS[1:8]], outputCol="features").transform(data)
    return data.cache()


def check_parity(model, df, tmp_path, outputs, features="features"):
    """Compare on every row; return our op as read from the saved Spark model."""
    compare(model, df, tmp_path, outputs, inputs=[features])
    return load_spark_model(tmp_path / "spark-model")


# -- regression ----------------------------------------------------------------------------
def test_linear_regression(df, tmp_path):
    model = R.LinearRegression(labelCol="rings").fit(df)
    check_parity(model, df, tmp_path, ["prediction"])


@pytest.mark.parametrize("family,link,label", [
    ("gaussian", "identity", "rings"), ("poisson", "log", "rings"), ("gamma", "inverse", "rings"),
    ("binomial", "logit", "big"), ("binomial", "cloglog", "big"), ("binomial", "probit", "big"),
    ("poisson", "sqrt", "rings"),
])
def test_generalized_linear_regression(df, tmp_path, family, link, label):
    model = R.GeneralizedLinearRegression(family=family, link=link, labelCol=label, maxIter=10).fit(df)
    check_parity(model, df, tmp_path, ["prediction"])


def test_generalized_linear_regression_link_prediction_column(df, tmp_path):
    model = R.GeneralizedLinearRegression(family="poisson", labelCol="rings", linkPredictionCol="eta").fit(df)
    check_parity(model, df, tmp_path, ["prediction", "eta"])


def test_isotonic_regression_reads_the_feature_index(df, tmp_path):
    model = R.IsotonicRegression(labelCol="rings", featureIndex=2).fit(df)
    check_parity(model, df, tmp_path, ["prediction"])


def test_aft_survival_regression_with_quantiles(df, tmp_path):
    model = R.AFTSurvivalRegression(labelCol="rings", censorCol="censor", quantilesCol="quantiles").fit(df)
    check_parity(model, df, tmp_path, ["prediction", "quantiles"])


# -- linear classifiers --------------------------------------------------------------------
def test_binomial_logistic_regression(df, tmp_path):
    model = C.LogisticRegression(labelCol="big").fit(df)
    check_parity(model, df, tmp_path, CLASSIFIER)


def test_binomial_logistic_regression_threshold(df, tmp_path):
    model = C.LogisticRegression(labelCol="big", threshold=0.3).fit(df)
    op = check_parity(model, df, tmp_path, CLASSIFIER)
    assert op.threshold == 0.3


def test_multinomial_logistic_regression(df, tmp_path):
    model = C.LogisticRegression(labelCol="sex_idx").fit(df)
    check_parity(model, df, tmp_path, CLASSIFIER)


def test_multinomial_logistic_regression_thresholds(df, tmp_path):
    model = C.LogisticRegression(labelCol="sex_idx", thresholds=[0.2, 0.5, 0.3]).fit(df)
    op = check_parity(model, df, tmp_path, CLASSIFIER)
    assert op.thresholds == [0.2, 0.5, 0.3]


def test_logistic_regression_with_only_a_prediction_column(df, tmp_path):
    model = C.LogisticRegression(labelCol="big", rawPredictionCol="", probabilityCol="").fit(df)
    check_parity(model, df, tmp_path, ["prediction"])


def test_linear_svc(df, tmp_path):
    model = C.LinearSVC(labelCol="big", maxIter=20).fit(df)
    check_parity(model, df, tmp_path, ["rawPrediction", "prediction"])


@pytest.mark.parametrize("model_type", ["multinomial", "complement", "gaussian"])
def test_naive_bayes(df, tmp_path, model_type):
    model = C.NaiveBayes(labelCol="sex_idx", modelType=model_type).fit(df)
    check_parity(model, df, tmp_path, CLASSIFIER)


def test_bernoulli_naive_bayes(df, tmp_path):
    from pyspark.ml.feature import Binarizer

    binary = Binarizer(threshold=0.3, inputCol="features", outputCol="bits").transform(df)
    model = C.NaiveBayes(labelCol="big", modelType="bernoulli", featuresCol="bits").fit(binary)
    check_parity(model, binary, tmp_path, CLASSIFIER, features="bits")


def test_multilayer_perceptron(df, tmp_path):
    model = C.MultilayerPerceptronClassifier(labelCol="sex_idx", layers=[8, 6, 4, 3], maxIter=50, seed=7).fit(df)
    check_parity(model, df, tmp_path, CLASSIFIER)


def test_one_vs_rest(df, tmp_path):
    model = C.OneVsRest(classifier=C.LogisticRegression(maxIter=20), labelCol="sex_idx").fit(df)
    op = check_parity(model, df, tmp_path, ["rawPrediction", "prediction"])
    assert op.num_classes == 3


# -- trees -----------------------------------------------------------------------------------
def has_categorical_split(op) -> bool:
    return op.forest.table.shape[0] > 0


def test_decision_tree_regression(df, tmp_path):
    model = R.DecisionTreeRegressor(labelCol="rings", maxDepth=6).fit(df)
    op = check_parity(model, df, tmp_path, ["prediction"])
    assert has_categorical_split(op)


def test_decision_tree_classifier(df, tmp_path):
    model = C.DecisionTreeClassifier(labelCol="sex_idx", maxDepth=6).fit(df)
    op = check_parity(model, df, tmp_path, CLASSIFIER)
    assert has_categorical_split(op)


def test_random_forest_regression_sums_in_tree_order(df, tmp_path):
    model = R.RandomForestRegressor(labelCol="rings", numTrees=25, maxDepth=7, seed=5).fit(df)
    results = compare(model, df, tmp_path, ["prediction"], inputs=["features"])
    expected = np.array([r[0] for r in model.transform(df).select("prediction").collect()])
    for frame in results.values():  # bit for bit, not just within tolerance
        assert np.array_equal(frame["prediction"], expected)
    assert has_categorical_split(load_spark_model(tmp_path / "spark-model"))


def test_random_forest_classifier(df, tmp_path):
    model = C.RandomForestClassifier(labelCol="sex_idx", numTrees=15, maxDepth=6, seed=5).fit(df)
    op = check_parity(model, df, tmp_path, CLASSIFIER)
    assert has_categorical_split(op)


def test_random_forest_classifier_thresholds(df, tmp_path):
    model = C.RandomForestClassifier(labelCol="sex_idx", numTrees=5, seed=5).fit(df).setThresholds([0.5, 0.2, 0.3])
    check_parity(model, df, tmp_path, CLASSIFIER)


def test_gbt_regression(df, tmp_path):
    model = R.GBTRegressor(labelCol="rings", maxIter=15, maxDepth=4, seed=5).fit(df)
    op = check_parity(model, df, tmp_path, ["prediction"])
    assert has_categorical_split(op)


def test_gbt_classifier(df, tmp_path):
    model = C.GBTClassifier(labelCol="big", maxIter=15, maxDepth=4, seed=5).fit(df)
    op = check_parity(model, df, tmp_path, CLASSIFIER)
    assert has_categorical_split(op)


# -- clustering ----------------------------------------------------------------------------
def test_k_means(df, tmp_path):
    model = K.KMeans(k=4, seed=3).fit(df)
    check_parity(model, df, tmp_path, ["prediction"])


def test_bisecting_k_means(df, tmp_path):
    model = K.BisectingKMeans(k=5, seed=3).fit(df)
    check_parity(model, df, tmp_path, ["prediction"])


def test_gaussian_mixture(df, tmp_path):
    model = K.GaussianMixture(k=3, seed=3).fit(df)
    check_parity(model, df, tmp_path, ["probability", "prediction"])


# -- errors --------------------------------------------------------------------------------
def test_a_vector_of_the_wrong_size_is_a_bad_request(df, tmp_path):
    model = R.LinearRegression(labelCol="rings").fit(df)
    op = check_parity(model, df, tmp_path, ["prediction"])
    with pytest.raises(BadRequest) as err:
        op.transform(Frame({"features": np.ones((2, 5))}))
    assert str(err.value) == (f"column 'features' holds vectors of size 5, but the model '{op.name}' "
                              "was trained on 8 features; send vectors of size 8")


def test_negative_counts_for_multinomial_naive_bayes_are_a_bad_request(df, tmp_path):
    model = C.NaiveBayes(labelCol="sex_idx").fit(df)
    op = check_parity(model, df, tmp_path, CLASSIFIER)
    with pytest.raises(BadRequest) as err:
        op.transform(Frame({"features": -np.ones((1, 8))}))
    assert str(err.value) == (f"the multinomial naive Bayes model '{op.name}' needs non-negative feature "
                              "values; column 'features' has negative ones")
