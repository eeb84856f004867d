"""Fixtures for batch transform: the abalone pipeline as a spec, as real containers behind a
chaining proxy (see helpers.ChainProxy), and input files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ABALONE, ServerProcess, load_example

from .helpers import ChainProxy, abalone_rows, write_spec


@pytest.fixture(scope="module")
def abalone_dirs(tmp_path_factory):
    """Featurizer and regressor directories, trained once per module."""
    train = load_example("abalone/train.py")
    return train.train(ABALONE, tmp_path_factory.mktemp("abalone"))


@pytest.fixture(scope="module")
def abalone_spec(abalone_dirs, tmp_path_factory) -> Path:
    return write_spec(tmp_path_factory.mktemp("spec") / "pipeline.json", *abalone_dirs)


@pytest.fixture(scope="module")
def abalone_endpoint(abalone_dirs):
    """The abalone pipeline as two real containers behind a ChainProxy."""
    featurizer, regressor = abalone_dirs
    servers = [ServerProcess(featurizer, env={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}, workers=2),
               ServerProcess(regressor, workers=2)]
    proxy = ChainProxy([s.url for s in servers], ["featurizer", "regressor"])
    yield proxy.url
    proxy.close()
    for server in servers:
        server.stop()


@pytest.fixture
def abalone_inputs(tmp_path) -> Path:
    """Two CSV files of abalone features (no label), one in a subfolder."""
    root = tmp_path / "input"
    (root / "part").mkdir(parents=True)
    (root / "first.csv").write_text("\n".join(abalone_rows(0, 300)) + "\n")
    (root / "part" / "second.csv").write_text("\n".join(abalone_rows(300, 120)) + "\n")
    return root


