"""Fixtures for pipeline tests: real endpoints of real processes on loopback ports.

Containers run with one gunicorn worker each; endpoints are shared by the tests of a module
where the tests do not change them. Every endpoint started here is brought down at the end,
and ``SERVING_HOME`` points at a temporary folder so no test sees a developer's endpoints.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from serving.pipeline.endpoint import Endpoint
from tests.conftest import REPO

PROBE = Path(__file__).resolve().parent / "containers" / "probe.py"


def probe(name: str, **environment: str) -> dict:
    """A container definition for the probe test container called ``name``."""
    return {"ContainerHostname": name, "Command": [sys.executable, str(PROBE)],
            "Environment": {"PROBE_NAME": name, **environment}}


def abalone_example(root: Path, abalone_models) -> Path:
    """examples/abalone/pipeline.yaml as written, copied under ``root`` with the trained models
    where its relative paths point (``build/abalone``); the path of the copied spec."""
    shutil.copytree(REPO / "examples" / "abalone", root / "examples" / "abalone",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(abalone_models[0].parent, root / "build" / "abalone")
    return root / "examples" / "abalone" / "pipeline.yaml"


def sklearn_rings(abalone_models, rows: str):
    """What scikit-learn itself predicts for CSV ``rows``: featurizer.transform, then regressor.predict."""
    import io

    import joblib
    import pandas as pd

    from tests.conftest import load_example

    featurizer, regressor = (joblib.load(d / "model.joblib") for d in abalone_models)
    frame = pd.read_csv(io.StringIO(rows), header=None, names=load_example("abalone/train.py").FEATURES)
    return regressor.predict(featurizer.transform(frame))


@pytest.fixture(scope="session", autouse=True)
def serving_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("serving-home")
    old = os.environ.get("SERVING_HOME")
    os.environ["SERVING_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("SERVING_HOME", None)
    else:
        os.environ["SERVING_HOME"] = old


@pytest.fixture(scope="module")
def endpoints():
    """``endpoints(spec, **options)`` starts an endpoint on a free port; all stop at module end."""
    started: list[Endpoint] = []

    def start(spec, **options) -> Endpoint:
        options = {"port": 0, "register": False, "stop_grace": 10, "workers": 1, **options}
        endpoint = Endpoint.up(spec, **options)
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        endpoint.down()

