"""Parity harness: run a fitted Spark pipeline and our runtime on the same rows, compare.

``check_parity`` transforms ``df`` with Spark, saves the model, and checks our output for
every named column twice: from the saved Spark model and from the MLeap bundle our
exporter writes. Strings and indices must be equal; doubles within 1e-9 relative.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from serving.frameworks.sparkml.export import export
from serving.frameworks.sparkml.frame import Frame, as_dense
from serving.frameworks.sparkml.model import load_model

RTOL = 1e-9
ATOL = 1e-12  # for values that are 0 on one side and rounding noise on the other
ABALONE_COLUMNS = ["sex", "length", "diameter", "height", "whole_weight", "shucked_weight",
                   "viscera_weight", "shell_weight", "rings"]


def abalone_df(spark, shared_dir: Path):
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    fields = [StructField("sex", StringType())] + [StructField(c, DoubleType()) for c in ABALONE_COLUMNS[1:]]
    return spark.read.csv(str(shared_dir / "data" / "abalone.data"), schema=StructType(fields))


WORDS = ("the quick brown fox jumps over a lazy dog and then it runs to the river where some "
         "birds were singing while children played games in green fields near old stone houses").split()


def text_rows(count: int = 300, seed: int = 7) -> list[tuple[str]]:
    """Generated documents: mixed case, punctuation, repeated and tab/double-space gaps."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 12))]
        words = [w.capitalize() if rng.random() < 0.2 else w for w in words]
        words = [w + rng.choice([",", ".", "!"]) if rng.random() < 0.1 else w for w in words]
        rows.append((" ".join(w + ("\t" if rng.random() < 0.05 else "") for w in words),))
    return rows


def text_df(spark, count: int = 300):
    return spark.createDataFrame(text_rows(count), "text string")


def frame_from_spark(df, columns: list[str]) -> Frame:
    """The input columns of ``df`` as our runtime's typed columns."""
    from pyspark.ml.linalg import Vector
    from pyspark.sql import types as T

    rows = df.select(*columns).collect()
    frame = Frame(n_rows=len(rows))
    for j, name in enumerate(columns):
        dtype = df.schema[name].dataType
        values = [r[j] for r in rows]
        if isinstance(dtype, T.StringType):
            frame[name] = np.array(values, dtype=object)
        elif isinstance(dtype, T.ArrayType):
            column = np.empty(len(values), dtype=object)
            column[:] = [list(v) for v in values]
            frame[name] = column
        elif isinstance(dtype, (T.IntegerType, T.LongType, T.ShortType, T.ByteType)):
            frame[name] = np.array(values, dtype=np.int64)
        elif isinstance(dtype, T.BooleanType):
            frame[name] = np.array(values, dtype=bool)
        elif values and isinstance(values[0], Vector):
            frame[name] = np.array([v.toArray() for v in values])
        else:
            frame[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return frame


def _spark_values(values: list):
    from pyspark.ml.linalg import Vector

    first = next((v for v in values if v is not None), None)
    if isinstance(first, Vector):
        return np.array([v.toArray() for v in values])
    if isinstance(first, list) and first and isinstance(first[0], Vector):  # LSH: array<vector>
        return np.array([[x.toArray()[0] for x in v] for v in values])
    if isinstance(first, (str, list)) or first is None:
        return values
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def assert_same(ours, theirs, name: str, where: str) -> None:
    theirs = _spark_values(theirs)
    if isinstance(theirs, list):
        got = list(ours)
        assert got == theirs, f"{where}: column {name} differs: first difference at row " \
            f"{next(i for i, (a, b) in enumerate(zip(got, theirs)) if a != b) if len(got) == len(theirs) else 'count'}"
        return
    got = np.asarray(as_dense(ours), dtype=np.float64)
    assert got.shape == theirs.shape, f"{where}: column {name} has shape {got.shape}, Spark's {theirs.shape}"
    np.testing.assert_allclose(got, theirs, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=f"{where}: {name}")


def check_parity(fitted, df, tmp_path: Path, outputs: list[str], inputs: list[str] | None = None):
    """Compare Spark's transform with ours (saved model and exported bundle) on every row."""
    expected = fitted.transform(df).select(*outputs).collect()
    spark_dir = tmp_path / "spark-model"
    fitted.write().overwrite().save(str(spark_dir))
    bundle = export(spark_dir, tmp_path / "model.zip")
    results = {}
    for label, path in (("spark-native", spark_dir), ("exported bundle", bundle)):
        model = load_model(path)
        frame = frame_from_spark(df, inputs or model.inputs)
        model.transform(frame)
        assert len(frame) == len(expected), f"{label}: {len(frame)} rows, Spark kept {len(expected)}"
        for j, name in enumerate(outputs):
            assert_same(frame[name], [row[j] for row in expected], name, label)
        results[label] = frame
    return results
