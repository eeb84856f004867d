"""Every feature stage against pyspark: fitted in Spark on abalone (numbers, the ``sex``
category) or on a generated text set, then compared row by row with Spark's ``transform``,
from the saved Spark model and from the exported MLeap bundle."""

from __future__ import annotations

import pytest

from .parity import abalone_df, check_parity, text_df

pytest.importorskip("pyspark")

NUMERIC = ["length", "diameter", "height", "whole_weight"]


@pytest.fixture(scope="module")
def abalone(spark, shared_dir):
    from pyspark.sql import functions as F

    df = abalone_df(spark, shared_dir)
    return (df.withColumn("age_group", F.when(F.col("rings") < 8, "young").when(F.col("rings") < 13, "adult")
                          .otherwise("old"))
              .withColumn("ring_class", (F.col("rings") / 10).cast("int").cast("double"))
              .withColumn("sparse_weight", F.when(F.col("rings") > 14, float("nan")).otherwise(F.col("shell_weight")))
              .cache())


@pytest.fixture(scope="module")
def text(spark):
    return text_df(spark).cache()


def assembled(*stages, columns=NUMERIC):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler

    return Pipeline(stages=[VectorAssembler(inputCols=columns, outputCol="vec"), *stages])


def tokenized(*stages):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import Tokenizer

    return Pipeline(stages=[Tokenizer(inputCol="text", outputCol="tokens"), *stages])


def numeric_cases():
    from pyspark.ml import Pipeline
    from pyspark.ml import feature as f

    yield "min_max_scaler", lambda: (assembled(f.MinMaxScaler(inputCol="vec", outputCol="out", min=-2.0, max=3.0)), ["out"])
    yield "max_abs_scaler", lambda: (assembled(f.MaxAbsScaler(inputCol="vec", outputCol="out")), ["out"])
    yield "standard_scaler_mean_only", lambda: (assembled(
        f.StandardScaler(inputCol="vec", outputCol="out", withMean=True, withStd=False)), ["out"])
    for p in (1.0, 2.0, 3.0, float("inf")):
        yield f"normalizer_p{p}", lambda p=p: (assembled(f.Normalizer(inputCol="vec", outputCol="out", p=p)), ["out"])
    for degree in (2, 3):
        yield f"polynomial_expansion_{degree}", lambda degree=degree: (assembled(
            f.PolynomialExpansion(inputCol="vec", outputCol="out", degree=degree), columns=NUMERIC[:3]), ["out"])
    yield "elementwise_product", lambda: (assembled(f.ElementwiseProduct(
        inputCol="vec", outputCol="out", scalingVec=[2.0, -1.0, 0.5, 0.0])), ["out"])
    yield "vector_slicer", lambda: (assembled(f.VectorSlicer(inputCol="vec", outputCol="out", indices=[3, 0])), ["out"])
    yield "pca", lambda: (assembled(f.PCA(inputCol="vec", outputCol="out", k=2)), ["out"])
    yield "dct", lambda: (assembled(f.DCT(inputCol="vec", outputCol="out", inverse=False)), ["out"])
    yield "dct_inverse", lambda: (assembled(f.DCT(inputCol="vec", outputCol="out", inverse=True)), ["out"])
    yield "binarizer_scalar", lambda: (Pipeline(stages=[f.Binarizer(inputCol="height", outputCol="out", threshold=0.14)]), ["out"])
    yield "binarizer_vector", lambda: (assembled(f.Binarizer(inputCol="vec", outputCol="out", threshold=0.3)), ["out"])
    yield "binarizer_multi", lambda: (Pipeline(stages=[f.Binarizer(inputCols=["height", "length"], outputCols=["o1", "o2"],
                                                          thresholds=[0.14, 0.5])]), ["o1", "o2"])
    splits = [-float("inf"), 0.3, 0.45, 0.6, float("inf")]
    yield "bucketizer_inf_splits", lambda: (Pipeline(stages=[f.Bucketizer(inputCol="length", outputCol="out",
                                                                 splits=splits)]), ["out"])
    yield "bucketizer_multi", lambda: (Pipeline(stages=[f.Bucketizer(
        inputCols=["length", "diameter"], outputCols=["o1", "o2"],
        splitsArray=[splits, [0.0, 0.2, 0.4, 0.7]])]), ["o1", "o2"])
    for invalid in ("keep", "skip"):
        yield f"bucketizer_nan_{invalid}", lambda invalid=invalid: (Pipeline(stages=[f.Bucketizer(
            inputCol="sparse_weight", outputCol="out", splits=[0.0, 0.1, 0.3, 2.0], handleInvalid=invalid)]), ["out"])
    yield "quantile_discretizer", lambda: (Pipeline(stages=[f.QuantileDiscretizer(
        inputCol="whole_weight", outputCol="out", numBuckets=7)]), ["out"])
    yield "imputer_mean", lambda: (Pipeline(stages=[f.Imputer(inputCols=["sparse_weight"], outputCols=["out"])]), ["out"])
    yield "imputer_median_multi", lambda: (Pipeline(stages=[f.Imputer(
        inputCols=["height", "length"], outputCols=["o1", "o2"], strategy="median", missingValue=0.0)]), ["o1", "o2"])
    yield "interaction", lambda: (Pipeline(stages=[
        f.VectorAssembler(inputCols=["length", "diameter"], outputCol="a"),
        f.Interaction(inputCols=["height", "a", "whole_weight"], outputCol="out")]), ["out"])
    yield "chi_sq_selector", lambda: (Pipeline(stages=[
        f.VectorAssembler(inputCols=["ring_class", "length", "diameter", "height", "whole_weight"], outputCol="vec"),
        f.Bucketizer(inputCol="rings", outputCol="label", splits=[0, 8, 11, 100]),
        f.ChiSqSelector(featuresCol="vec", labelCol="label", outputCol="out", numTopFeatures=2)]), ["out"])
    yield "vector_indexer", lambda: (Pipeline(stages=[
        f.VectorAssembler(inputCols=["ring_class", "length", "height"], outputCol="vec"),
        f.VectorIndexer(inputCol="vec", outputCol="out", maxCategories=4)]), ["out"])
    yield "feature_hasher", lambda: (Pipeline(stages=[f.FeatureHasher(
        inputCols=["length", "sex", "rings"], categoricalCols=["rings"], outputCol="out", numFeatures=64)]), ["out"])
    yield "bucketed_random_projection_lsh", lambda: (assembled(f.BucketedRandomProjectionLSH(
        inputCol="vec", outputCol="out", bucketLength=0.2, numHashTables=3, seed=5)), ["out"])
    yield "min_hash_lsh", lambda: (assembled(f.MinHashLSH(inputCol="vec", outputCol="out", numHashTables=3, seed=5)), ["out"])
    yield "nested_pipeline", lambda: (Pipeline(stages=[
        Pipeline(stages=[f.StringIndexer(inputCol="sex", outputCol="sex_index"),
                         f.OneHotEncoder(inputCol="sex_index", outputCol="sex_vec")]),
        assembled(f.StandardScaler(inputCol="vec", outputCol="out"))]), ["sex_vec", "out"])


def indexer_cases():
    from pyspark.ml import Pipeline
    from pyspark.ml import feature as f

    for order in ("frequencyDesc", "frequencyAsc", "alphabetDesc", "alphabetAsc"):
        yield f"string_indexer_{order}", lambda order=order: (Pipeline(stages=[
            f.StringIndexer(inputCol="age_group", outputCol="out", stringOrderType=order)]), ["out"])
    yield "string_indexer_multi", lambda: (Pipeline(stages=[f.StringIndexer(
        inputCols=["sex", "age_group"], outputCols=["o1", "o2"])]), ["o1", "o2"])
    yield "string_indexer_numeric_input", lambda: (Pipeline(stages=[
        f.StringIndexer(inputCol="rings", outputCol="out")]), ["out"])
    yield "index_to_string", lambda: (Pipeline(stages=[
        f.StringIndexer(inputCol="age_group", outputCol="idx"),
        f.IndexToString(inputCol="idx", outputCol="out", labels=["young", "adult", "old"])]), ["idx", "out"])
    for drop_last in (True, False):
        for invalid in ("error", "keep"):
            yield f"one_hot_encoder_drop{drop_last}_{invalid}", lambda drop_last=drop_last, invalid=invalid: (Pipeline(stages=[
                f.StringIndexer(inputCol="age_group", outputCol="idx"),
                f.OneHotEncoder(inputCols=["idx", "ring_class"], outputCols=["o1", "o2"], dropLast=drop_last,
                                handleInvalid=invalid)]), ["o1", "o2"])


def text_cases():
    from pyspark.ml import feature as f

    yield "tokenizer", lambda: (tokenized(), ["tokens"])
    yield "regex_tokenizer_gaps", lambda: (tokenized(f.RegexTokenizer(inputCol="text", outputCol="out", pattern="\\W+",
                                                             minTokenLength=2)), ["out"])
    yield "regex_tokenizer_matches", lambda: (tokenized(f.RegexTokenizer(inputCol="text", outputCol="out", pattern="[a-z]+",
                                                                gaps=False, toLowercase=False)), ["out"])
    yield "stop_words_remover", lambda: (tokenized(f.StopWordsRemover(inputCol="tokens", outputCol="out")), ["out"])
    yield "stop_words_remover_case_sensitive", lambda: (tokenized(f.StopWordsRemover(
        inputCol="tokens", outputCol="out", stopWords=["the", "The", "fox"], caseSensitive=True)), ["out"])
    yield "ngram", lambda: (tokenized(f.NGram(inputCol="tokens", outputCol="out", n=3)), ["out"])
    yield "hashing_tf", lambda: (tokenized(f.HashingTF(inputCol="tokens", outputCol="out", numFeatures=128)), ["out"])
    yield "hashing_tf_binary", lambda: (tokenized(f.HashingTF(inputCol="tokens", outputCol="out", numFeatures=50,
                                                     binary=True)), ["out"])
    yield "count_vectorizer", lambda: (tokenized(f.CountVectorizer(inputCol="tokens", outputCol="out", minTF=2.0)), ["out"])
    yield "count_vectorizer_fraction_binary", lambda: (tokenized(f.CountVectorizer(
        inputCol="tokens", outputCol="out", minTF=0.2, binary=True, vocabSize=20)), ["out"])
    yield "idf", lambda: (tokenized(f.HashingTF(inputCol="tokens", outputCol="tf", numFeatures=64),
                           f.IDF(inputCol="tf", outputCol="out", minDocFreq=2)), ["tf", "out"])
    yield "word2vec", lambda: (tokenized(f.Word2Vec(inputCol="tokens", outputCol="out", vectorSize=5, minCount=1,
                                           seed=3, maxIter=1)), ["out"])


def _cases(factory):
    """Cases are built lazily: a Spark estimator needs the session, collection has none."""
    return [pytest.param(build, id=name) for name, build in factory()]


@pytest.mark.parametrize("build", _cases(numeric_cases) + _cases(indexer_cases))
def test_abalone_stage_matches_spark(abalone, tmp_path, build):
    pipeline, outputs = build()
    check_parity(pipeline.fit(abalone), abalone, tmp_path, outputs)


@pytest.mark.parametrize("build", _cases(text_cases))
def test_text_stage_matches_spark(text, tmp_path, build):
    pipeline, outputs = build()
    check_parity(pipeline.fit(text), text, tmp_path, outputs)
