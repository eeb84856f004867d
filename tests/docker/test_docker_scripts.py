"""Public inference scripts written for the AWS sklearn container, run in our sklearn image.

The image has neither ``sagemaker_inference`` nor ``sagemaker_containers`` installed: the
stand-ins of ``serving.compat`` are what the scripts import there.
"""

from __future__ import annotations

import io
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest

from docker_helpers import IMAGES, docker_client, image, readable_dir, run  # noqa: F401
from tests.conftest import ABALONE
from tests.server.test_hooks import ABALONE_NAMES, CURRENT_FORM, OLD_FORM


@pytest.mark.parametrize("script", [CURRENT_FORM, OLD_FORM], ids=["sagemaker_inference", "sagemaker_containers"])
def test_public_abalone_featurizer_script_runs_in_the_sklearn_image(script, run, image, readable_dir, abalone_models, tmp_path):
    image("sklearn")
    source = tmp_path / "inference.py"
    source.write_text(textwrap.dedent(script))
    model_dir = readable_dir({"model.joblib": abalone_models[0] / "model.joblib", "code/inference.py": source})
    container = run(IMAGES["sklearn"], model_dir=model_dir, env={"SAGEMAKER_PROGRAM": "inference.py"})
    assert container.wait_ready().status_code == 200, container.logs()

    rows = ABALONE.read_text().splitlines()[:4]
    frame = pd.read_csv(io.StringIO("\n".join(rows)), header=None, names=ABALONE_NAMES + ["rings"])
    expected = joblib.load(abalone_models[0] / "model.joblib").transform(frame[ABALONE_NAMES])

    r = container.invoke("\n".join(rows))
    assert r.status_code == 200, container.logs()
    np.testing.assert_allclose([i["features"] for i in r.json()["instances"]], expected, rtol=1e-12)
    r = container.invoke("\n".join(rows), accept="text/csv")
    assert r.headers["Content-Type"] == "text/csv"
    np.testing.assert_allclose(np.loadtxt(io.StringIO(r.text), delimiter=","), expected, rtol=1e-12)
