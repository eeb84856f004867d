"""The SageMaker SDK's container list under the docker backend: AWS's images run as ours.

The spec is the one ``examples/from-sagemaker/sdk_pipeline.py`` writes (AWS image URIs, model
data and submit directory in S3, moto's server on loopback); the host fetches the artifacts
into its cache and mounts them, as SageMaker downloads them before a container starts.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
import requests

from docker_helpers import IMAGES, docker_client, image  # noqa: F401  (fixtures)
from serving.pipeline.endpoint import Endpoint
from tests.conftest import ABALONE, load_example
from tests.pipeline.test_from_sagemaker import BODY, expected

pytestmark = pytest.mark.docker


@pytest.fixture
def readable_home(monkeypatch):
    """A SERVING_HOME the images' user (uid 10001) can read the cache of; pytest's folders are private."""
    home = tempfile.mkdtemp(prefix="serving-home-")
    os.chmod(home, 0o755)
    monkeypatch.setenv("SERVING_HOME", home)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_aws_images_run_as_our_images_with_the_artifacts_mounted(s3_server, readable_home, tmp_path, image,
                                                                 docker_client):
    image("sklearn"), image("xgboost")
    path = load_example("from-sagemaker/sdk_pipeline.py").build(s3_server.bucket(), tmp_path, ABALONE)
    with Endpoint.up(str(path), backend_name="docker", port=0, register=False, workers=1, stop_grace=10) as ep:
        r = requests.post(ep.url + "/invocations", data=BODY, headers={"Content-Type": "text/csv"}, timeout=60)
        assert (r.status_code, r.headers["Content-Type"]) == (200, "text/csv"), r.text
        assert [float(v) for v in r.text.splitlines()] == expected(tmp_path / "models")
        running = docker_client.containers.list(filters={"label": "serving.endpoint=abalone-from-sagemaker"})
        by_name = {c.attrs["Config"]["Hostname"]: c for c in running}
        assert {h: c.attrs["Config"]["Image"] for h, c in by_name.items()} == {
            "container-1": IMAGES["sklearn"], "container-2": IMAGES["xgboost"]}
        featurizer = by_name["container-1"]
        mounts = {m["Destination"]: m["Source"] for m in featurizer.attrs["Mounts"]}
        assert sorted(mounts) == ["/opt/ml/code", "/opt/ml/model"]
        assert all(source.startswith(os.path.join(readable_home, "cache", "s3")) for source in mounts.values())
        env = dict(item.split("=", 1) for item in featurizer.attrs["Config"]["Env"])
        assert (env["SAGEMAKER_SUBMIT_DIRECTORY"], env["SAGEMAKER_PROGRAM"]) == ("/opt/ml/code", "featurizer.py")
