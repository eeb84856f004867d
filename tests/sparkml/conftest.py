"""Spark ML test fixtures: one local pyspark session for the whole run, the fixture bundles.

``spark`` is session-scoped (one JVM for every module, ``local[2]``, no UI, 2 shuffle
partitions); tests that use it skip when pyspark is not installed. ``shared_dir`` comes
from ``tests/conftest.py``.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("serving-sparkml-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.driver.memory", "2g").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def mleap_fixtures(shared_dir) -> Path:
    return shared_dir / "fixtures" / "mleap"


@pytest.fixture(scope="session")
def parity_bundles(mleap_fixtures, tmp_path_factory) -> dict[str, Path]:
    """The 52 bundles inside spark-parity.zip, unpacked once: spec name -> zip path."""
    out = tmp_path_factory.mktemp("spark-parity")
    outer = zipfile.ZipFile(mleap_fixtures / "combust_mleap-docs/assets/bundles/spark-parity.zip")
    bundles = {}
    for name in outer.namelist():
        if name.endswith(".zip"):
            spec = name.rsplit("/", 1)[-1][len("org.apache.spark.ml."):-len(".zip")]
            path = out / f"{spec}.zip"
            path.write_bytes(outer.read(name))
            zipfile.ZipFile(io.BytesIO(path.read_bytes())).testzip()
            bundles[spec] = path
    return bundles
