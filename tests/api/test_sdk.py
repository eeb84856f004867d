"""The SageMaker Python SDK against ``serving api``, its code unchanged (docs/sagemaker-api.md's, run as written): ``PipelineModel.deploy``,
``Predictor.predict`` with its serializers, ``transformer().transform()`` (which tails the job's
logs through CloudWatch Logs' operations), ``delete_endpoint``; and the registry path,
``PipelineModel.register`` then ``ModelPackage(...).deploy()``.

The one thing the SDK needs outside SageMaker is a default bucket, given to ``Session`` so it asks
STS nothing (examples/from-sagemaker/sdk_pipeline.py's ``session``). Its deploy polls every 30 s,
sleeping first, so each deploy here takes at least 30 s.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest
from sagemaker.deserializers import CSVDeserializer
from sagemaker.serializers import CSVSerializer

from tests.conftest import ABALONE, REPO, load_example

from .conftest import ROWS

pytestmark = pytest.mark.slow


@pytest.fixture
def sdk(api, abalone, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", api.url)  # S3 stays on AWS_ENDPOINT_URL_S3, the moto server
    module = load_example("from-sagemaker/sdk_pipeline.py")
    return module, module.session(abalone.bucket)


def docs_snippet() -> str:
    doc = (REPO / "docs" / "sagemaker-api.md").read_text()
    return doc.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_docs_sdk_snippet_deploys_predicts_transforms_and_deletes(api, abalone, sdk, monkeypatch, capsys):
    """docs/sagemaker-api.md's SDK code, run as written from the checkout's root, with its bucket."""
    code = docs_snippet()
    if ABALONE != (REPO / "../shared/data/abalone.data").resolve():  # SERVING_SHARED_DIR elsewhere
        code = code.replace('"../shared/data/abalone.data"', repr(str(ABALONE)))
    abalone.s3.client.create_bucket(Bucket="my-bucket")
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO / "examples" / "from-sagemaker"))
    exec(compile(code, "docs/sagemaker-api.md", "exec"), {"__name__": "docs"})

    printed = capsys.readouterr().out.splitlines()
    one = ",".join(ABALONE.read_text().splitlines()[0].split(",")[:8])
    assert one == "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"
    line = next(line for line in printed if "[['" in line)  # after the SDK's deploy progress ("---!")
    (answer,) = ast.literal_eval(line[line.index("[['"):])
    assert [float(v) for v in answer] == abalone.expected(one)
    assert any("container-1: " in line for line in printed) and any("container-2: " in line for line in printed)

    rows = ABALONE.read_text().splitlines()
    written = [line.split(",") for line in abalone.s3.get("s3://my-bucket/batch/out/abalone.data.out").decode().splitlines()]
    assert [w[0] for w in written] == [row.split(",")[8] for row in rows]
    assert [float(w[1]) for w in written] == abalone.expected("\n".join(row.rsplit(",", 1)[0] for row in rows))
    (job,) = api.sm.list_transform_jobs()["TransformJobSummaries"]  # the module's one job
    described = api.sm.describe_transform_job(TransformJobName=job["TransformJobName"])
    assert described["TransformJobStatus"] == "Completed"
    assert described["DataProcessing"] == {"InputFilter": "$[0:7]", "OutputFilter": "$[8,-1]", "JoinSource": "Input"}
    api.wait("abalone-sdk", "endpoint_deleted")
    assert api.sm.list_endpoint_configs(NameContains="abalone-sdk")["EndpointConfigs"] == []


def test_a_registered_pipeline_deploys_from_its_model_package(api, abalone, sdk):
    from sagemaker import ModelPackage
    from sagemaker.predictor import Predictor

    module, session = sdk
    pipeline = module.pipeline_model(session, abalone.uris, abalone.bucket, xgboost_script=True)
    package = pipeline.register(content_types=["text/csv"], response_types=["text/csv"],
                                inference_instances=["ml.m5.large"], transform_instances=["ml.m5.large"],
                                model_package_group_name="sdk-abalone-group", approval_status="Approved")
    arn = package.model_package_arn
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:model-package/sdk-abalone-group/1"
    containers = api.sm.describe_model_package(ModelPackageName=arn)["InferenceSpecification"]["Containers"]
    assert len(containers) == 2

    model = ModelPackage(role=module.ROLE, model_package_arn=arn, sagemaker_session=session, predictor_cls=Predictor)
    predictor = model.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name="sdk-registered",
                             serializer=CSVSerializer(), deserializer=CSVDeserializer())
    # XGBoost's script mode writes the float32 predictions as NumPy prints them, as AWS's container does
    assert predictor.predict([row.split(",") for row in ROWS]) == [[str(np.float32(v))] for v in abalone.expected()]
    predictor.delete_endpoint()
    api.wait("sdk-registered", "endpoint_deleted")
