"""The SageMaker Python SDK against ``serving api``, its code unchanged: ``PipelineModel.deploy``,
``Predictor.predict`` with its serializers, ``transformer().transform()`` (which tails the job's
logs through CloudWatch Logs' operations), ``delete_endpoint``; and the registry path,
``PipelineModel.register`` then ``ModelPackage(...).deploy()``.

The one thing the SDK needs outside SageMaker is a default bucket, given to ``Session`` so it asks
STS nothing (examples/from-sagemaker/sdk_pipeline.py's ``session``). Its deploy polls every 30 s,
sleeping first, so each deploy here takes at least 30 s.
"""

from __future__ import annotations

import numpy as np
import pytest
from sagemaker.deserializers import CSVDeserializer
from sagemaker.serializers import CSVSerializer

from tests.conftest import load_example

from .conftest import ROWS

pytestmark = pytest.mark.slow


@pytest.fixture
def sdk(api, abalone, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", api.url)  # S3 stays on AWS_ENDPOINT_URL_S3, the moto server
    module = load_example("from-sagemaker/sdk_pipeline.py")
    return module, module.session(abalone.bucket)


def test_pipeline_model_deploy_predict_transform_and_delete(api, abalone, sdk, capsys):
    module, session = sdk
    pipeline = module.pipeline_model(session, abalone.uris, abalone.bucket, xgboost_script=True)
    predictor = pipeline.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name="sdk-abalone",
                                serializer=CSVSerializer(), deserializer=CSVDeserializer())
    rows = [row.split(",") for row in ROWS]
    # XGBoost's script mode writes the float32 predictions as NumPy prints them, as AWS's container does
    assert predictor.predict(rows) == [[str(np.float32(v))] for v in abalone.expected()]

    abalone.s3.put(f"s3://{abalone.bucket}/sdk/in/rows.csv", "\n".join(ROWS).encode())
    transformer = pipeline.transformer(instance_count=1, instance_type="ml.m5.large", accept="text/csv",
                                       assemble_with="Line", output_path=f"s3://{abalone.bucket}/sdk/out")
    capsys.readouterr()
    transformer.transform(f"s3://{abalone.bucket}/sdk/in/", content_type="text/csv", split_type="Line")
    printed = capsys.readouterr().out
    assert "container-1: " in printed and "container-2: " in printed  # the job's log lines, tailed by the SDK
    body = abalone.s3.get(f"s3://{abalone.bucket}/sdk/out/rows.csv.out").decode()
    assert body.split() == [str(np.float32(v)) for v in abalone.expected()]
    job = api.sm.describe_transform_job(TransformJobName=transformer.latest_transform_job.name)
    assert job["TransformJobStatus"] == "Completed"

    predictor.delete_endpoint()
    api.wait("sdk-abalone", "endpoint_deleted")
    assert api.sm.list_endpoint_configs(NameContains="sdk-abalone")["EndpointConfigs"] == []


def test_a_registered_pipeline_deploys_from_its_model_package(api, abalone, sdk):
    from sagemaker import ModelPackage
    from sagemaker.predictor import Predictor

    module, session = sdk
    pipeline = module.pipeline_model(session, abalone.uris, abalone.bucket)
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
    answer = predictor.predict([row.split(",") for row in ROWS])
    assert [[float(v) for v in line] for line in answer] == [[v] for v in abalone.expected()]
    predictor.delete_endpoint()
    api.wait("sdk-registered", "endpoint_deleted")
