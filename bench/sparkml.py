"""Spark ML runtime benchmark: the abalone featurizer, our NumPy runtime against pyspark.

The featurizer (StringIndexer -> OneHotEncoder -> VectorAssembler -> StandardScaler) is
fitted with pyspark on the abalone data, saved, exported to an MLeap bundle, and run:

- one row, in-process: ``transform`` of a one-row frame (the container's work for a
  single-row request, minus HTTP), and the whole handler path (CSV text in, CSV out);
- 100k rows: rows per second for one ``transform`` of 100,000 rows;
- pyspark in the same run: ``PipelineModel.transform`` of a one-row DataFrame (collected),
  and of 100k rows (written to the ``noop`` sink, so no Python conversion is counted).

Run: ``python bench/sparkml.py`` (about a minute). Prints a table.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serving.frameworks.sparkml.export import export  # noqa: E402
from serving.frameworks.sparkml.frame import Frame  # noqa: E402
from serving.frameworks.sparkml.handler import SparkMLFramework  # noqa: E402
from serving.frameworks.sparkml.model import load_model  # noqa: E402
from serving.codecs.mediatype import MediaType  # noqa: E402
from serving.settings import Settings  # noqa: E402

ABALONE = REPO / ".." / "shared" / "data" / "abalone.data"
NUMERIC = ["length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]
ROWS = 100_000


def per_call(fn, repeat: int) -> float:
    """Median seconds per call over ``repeat`` calls, in 5 timed batches."""
    fn()
    batches = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat // 5):
            fn()
        batches.append((time.perf_counter() - start) / (repeat // 5))
    return statistics.median(batches)


def train(spark, workdir: Path):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    schema = StructType([StructField("sex", StringType())] + [StructField(c, DoubleType()) for c in NUMERIC]
                        + [StructField("rings", DoubleType())])
    df = spark.read.csv(str(ABALONE), schema=schema).cache()
    model = Pipeline(stages=[
        StringIndexer(inputCol="sex", outputCol="sex_index"),
        OneHotEncoder(inputCols=["sex_index"], outputCols=["sex_vec"]),
        VectorAssembler(inputCols=["sex_vec", *NUMERIC], outputCol="assembled"),
        StandardScaler(inputCol="assembled", outputCol="features", withMean=True, withStd=True),
    ]).fit(df)
    model.write().overwrite().save(str(workdir / "spark"))
    export(workdir / "spark", workdir / "bundle" / "model.zip")
    return model, df


def batch_frame(rows: list[list], n: int) -> Frame:
    reps = -(-n // len(rows))
    sex = np.array([r[0] for r in rows] * reps, dtype=object)[:n]
    numbers = np.tile(np.array([r[1:8] for r in rows], dtype=np.float64), (reps, 1))[:n]
    return Frame({"sex": sex, **{c: numbers[:, j].copy() for j, c in enumerate(NUMERIC)}})


def main() -> None:
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        spark_model, df = train(spark, workdir)
        rows = [[r[0], *map(float, r[1:8])] for r in (line.split(",") for line in ABALONE.read_text().split())]
        ours = load_model(workdir / "bundle" / "model.zip")

        one = rows[0]
        one_frame = lambda: Frame({"sex": np.array([one[0]], dtype=object),  # noqa: E731
                                   **{c: np.array([v]) for c, v in zip(NUMERIC, one[1:])}})
        results.append(("ours: transform, 1 row", per_call(lambda: ours.transform(one_frame()), 20000), 1))

        framework = SparkMLFramework(Settings.from_env({}))
        served = framework.model_fn(str(workdir / "bundle"))
        csv_type, line = MediaType.parse("text/csv"), ",".join(map(str, one)) + "\n"

        def handler_path():
            prediction = framework.predict_fn(framework.input_fn(line, csv_type), served)
            framework.output_fn(prediction, csv_type)

        results.append(("ours: CSV in -> CSV out (handler), 1 row", per_call(handler_path, 5000), 1))
        big = batch_frame(rows, ROWS)
        results.append((f"ours: transform, {ROWS:,} rows",
                        per_call(lambda: ours.transform(Frame(dict(big.columns))), 10), ROWS))

        one_df = spark.createDataFrame([tuple(one)], df.drop("rings").schema)
        results.append(("pyspark: transform + collect, 1 row",
                        per_call(lambda: spark_model.transform(one_df).select("features").collect(), 20), 1))
        big_df = df.drop("rings")
        while big_df.count() < ROWS:
            big_df = big_df.union(big_df)
        big_df = big_df.limit(ROWS).cache()
        big_df.count()
        results.append((f"pyspark: transform, {ROWS:,} rows (noop sink)", per_call(
            lambda: spark_model.transform(big_df).write.format("noop").mode("overwrite").save(), 5), ROWS))
    spark.stop()

    print(f"{'measurement':48} {'per call':>12} {'rows/s':>14}")
    for name, seconds, n in results:
        shown = f"{seconds * 1e6:,.1f} µs" if seconds < 0.01 else f"{seconds * 1e3:,.1f} ms"
        print(f"{name:48} {shown:>12} {n / seconds:>14,.0f}")


if __name__ == "__main__":
    main()
