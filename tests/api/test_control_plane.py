"""SageMaker's control plane through boto3: models, configs, the registry, tags, lists and the
validation messages, against a real ``serving api``. Nothing here starts a container."""

from __future__ import annotations

import datetime

import pytest
import requests
from botocore.exceptions import ClientError

from tests.conftest import wait_for

ARN = "arn:aws:sagemaker:us-east-1:123456789012"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
CONTAINERS = [{"Image": SKLEARN, "ModelDataUrl": "s3://bucket/featurizer/model.tar.gz",
               "Environment": {"SAGEMAKER_PROGRAM": "featurizer.py"}},
              {"Image": XGBOOST, "ModelDataUrl": "s3://bucket/xgboost/model.tar.gz"}]
ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"


def error(call, *args, **kwargs) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_model_is_described_as_it_was_created(api):
    arn = api.sm.create_model(ModelName="Described", Containers=CONTAINERS, ExecutionRoleArn=ROLE,
                              InferenceExecutionConfig={"Mode": "Serial"})["ModelArn"]
    assert arn == f"{ARN}:model/described"  # SageMaker's ARNs are lower case
    described = api.sm.describe_model(ModelName="described")
    assert (described["ModelName"], described["ModelArn"], described["Containers"], described["ExecutionRoleArn"],
            described["InferenceExecutionConfig"], described["EnableNetworkIsolation"]) == (
        "Described", arn, CONTAINERS, ROLE, {"Mode": "Serial"}, False)
    assert isinstance(described["CreationTime"], datetime.datetime)


def test_a_second_model_of_the_same_name_is_refused(api):
    api.sm.create_model(ModelName="twice", PrimaryContainer=CONTAINERS[1])
    assert error(api.sm.create_model, ModelName="TWICE", PrimaryContainer=CONTAINERS[1]) == (
        "ValidationException", f'Cannot create already existing model "{ARN}:model/twice".', 400)


def test_a_missing_model_is_named_by_its_arn(api):
    assert error(api.sm.describe_model, ModelName="nowhere") == (
        "ValidationException", f'Could not find model "{ARN}:model/nowhere".', 400)
    assert error(api.sm.delete_model, ModelName="nowhere")[1] == f'Could not find model "{ARN}:model/nowhere".'


def test_a_name_outside_sagemakers_pattern_gets_sagemakers_message(api):
    assert error(api.sm.create_model, ModelName="my_model", PrimaryContainer=CONTAINERS[1]) == (
        "ValidationException", "1 validation error detected: Value 'my_model' at 'modelName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?", 400)


def test_every_broken_constraint_is_listed(api):
    code, message, _ = error(api.raw.create_model, PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": "ftp://x/y"})
    assert (code, message) == ("ValidationException", (
        "2 validation errors detected: Value null at 'modelName' failed to satisfy constraint: Member must not be "
        "null; Value 'ftp://x/y' at 'primaryContainer.modelDataUrl' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: (https|s3)://([^/]+)/?(.*)"))


def test_sixteen_containers_are_one_too_many(api):
    containers = [{"Image": XGBOOST, "ContainerHostname": f"c{i}"} for i in range(16)]
    code, message, _ = error(api.sm.create_model, ModelName="sixteen", Containers=containers)
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value '[")
    assert message.endswith("' at 'containers' failed to satisfy constraint: Member must have length less than or "
                            "equal to 15")


def test_an_enum_names_its_values(api):
    assert error(api.sm.create_model, ModelName="mode", Containers=CONTAINERS,
                 InferenceExecutionConfig={"Mode": "Parallel"})[1] == (
        "1 validation error detected: Value 'Parallel' at 'inferenceExecutionConfig.mode' failed to satisfy "
        "constraint: Member must satisfy enum value set: [Serial, Direct]")


def test_a_value_of_the_wrong_type_is_a_serialization_error(api):
    # boto3 cannot even send this (its serializer fails on a list for a map), so the request is written by hand
    answer = requests.post(api.url + "/", json={"ModelName": "typed", "PrimaryContainer": {"Environment": ["A=1"]}},
                           headers={"X-Amz-Target": "SageMaker.CreateModel",
                                    "Content-Type": "application/x-amz-json-1.1"}, timeout=10)
    assert (answer.status_code, answer.headers["x-amzn-ErrorType"], answer.json()) == (400, "SerializationException", {
        "__type": "SerializationException",
        "message": 'primaryContainer.environment: expected a map (EnvironmentMap), got list ["A=1"]'})


def test_primary_container_and_containers_are_exclusive(api):
    assert error(api.sm.create_model, ModelName="both", PrimaryContainer=CONTAINERS[1], Containers=CONTAINERS)[1] == (
        "Exactly one of PrimaryContainer or Containers must be specified.")
    assert error(api.sm.create_model, ModelName="neither")[1] == (
        "Exactly one of PrimaryContainer or Containers must be specified.")


def test_direct_mode_needs_every_hostname(api):
    assert error(api.sm.create_model, ModelName="direct", Containers=CONTAINERS,
                 InferenceExecutionConfig={"Mode": "Direct"})[1] == (
        "direct: Direct mode requires a ContainerHostname on every container")


def test_an_aws_image_with_no_open_implementation_is_refused_at_create_model(api):
    image = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
    message = error(api.sm.create_model, ModelName="linear", PrimaryContainer={"Image": image})[1]
    assert message.startswith(f"linear: container 1 (container-1): {image} is AWS's Linear Learner algorithm image, which has no "
                              "open implementation here; substitute it")


@pytest.mark.parametrize("container, message", [
    ({"Image": XGBOOST, "AdditionalModelDataSources": [{"ChannelName": "extra", "S3DataSource": {
        "S3Uri": "s3://b/k/", "S3DataType": "S3Prefix", "CompressionType": "None"}}]},
     "Container 1: AdditionalModelDataSources is not supported by serving api; package the extra data into the "
     "model's ModelDataUrl archive."),
    ({"Image": XGBOOST, "Mode": "MultiModel"},
     "Container 1: Mode MultiModel is not supported by serving api; only SingleModel containers (one model per "
     "container) are served."),
])
def test_what_would_change_the_model_is_refused_not_ignored(api, container, message):
    assert error(api.sm.create_model, ModelName="refused", PrimaryContainer=container) == (
        "ValidationException", message, 400)


def test_listing_models_filters_sorts_and_pages(api):
    for name in ("list-b", "list-a", "list-c"):
        api.sm.create_model(ModelName=name, PrimaryContainer=CONTAINERS[1])
    by_name = api.sm.list_models(NameContains="LIST-", SortBy="Name", SortOrder="Ascending")["Models"]
    assert [m["ModelName"] for m in by_name] == ["list-a", "list-b", "list-c"]
    assert set(by_name[0]) == {"ModelName", "ModelArn", "CreationTime"}
    first = api.sm.list_models(NameContains="list-", MaxResults=2)  # newest first by default
    assert [m["ModelName"] for m in first["Models"]] == ["list-c", "list-a"]
    rest = api.sm.list_models(NameContains="list-", MaxResults=2, NextToken=first["NextToken"])
    assert ([m["ModelName"] for m in rest["Models"]], "NextToken" in rest) == (["list-b"], False)
    pages = api.sm.get_paginator("list_models").paginate(NameContains="list-", PaginationConfig={"PageSize": 1})
    assert [m["ModelName"] for page in pages for m in page["Models"]] == ["list-c", "list-a", "list-b"]


def test_an_endpoint_config_names_models_that_exist(api):
    assert error(api.sm.create_endpoint_config, EndpointConfigName="no-model", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "absent", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}])[1] == f'Could not find model "{ARN}:model/absent".'


def test_an_endpoint_config_is_recorded_with_what_is_accepted_and_ignored(api):
    api.sm.create_model(ModelName="configured", Containers=CONTAINERS)
    variant = {"VariantName": "AllTraffic", "ModelName": "configured", "InitialInstanceCount": 2,
               "InstanceType": "ml.c5.xlarge", "InitialVariantWeight": 1.0}
    capture = {"EnableCapture": True, "InitialSamplingPercentage": 50, "DestinationS3Uri": "s3://b/capture",
               "CaptureOptions": [{"CaptureMode": "Input"}]}
    arn = api.sm.create_endpoint_config(EndpointConfigName="configured", ProductionVariants=[variant],
                                        DataCaptureConfig=capture, KmsKeyId="alias/key")["EndpointConfigArn"]
    described = api.sm.describe_endpoint_config(EndpointConfigName="configured")
    assert (described["EndpointConfigArn"], described["ProductionVariants"], described["DataCaptureConfig"],
            described["KmsKeyId"]) == (arn, [variant], capture, "alias/key")
    assert error(api.sm.create_endpoint_config, EndpointConfigName="configured", ProductionVariants=[variant])[1] == (
        f'Cannot create already existing endpoint configuration "{arn}".')


def test_endpoint_config_rules(api):
    api.sm.create_model(ModelName="ruled", Containers=CONTAINERS)
    variant = {"VariantName": "v", "ModelName": "ruled", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    assert error(api.sm.create_endpoint_config, EndpointConfigName="dup", ProductionVariants=[variant, variant])[1] == (
        "The variant name(s) [v] is/are used more than once.")
    no_count = {k: v for k, v in variant.items() if k != "InitialInstanceCount"}
    assert error(api.sm.create_endpoint_config, EndpointConfigName="count", ProductionVariants=[no_count])[1] == (
        "Variant v: InitialInstanceCount is required unless the variant has a ServerlessConfig.")
    assert error(api.sm.create_endpoint_config, EndpointConfigName="async", ProductionVariants=[variant],
                 AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://b/async"}})[1] == (
        "AsyncInferenceConfig: asynchronous inference is not served by serving api; create the endpoint without it "
        "and call InvokeEndpoint.")


def test_an_endpoint_needs_its_config(api):
    assert error(api.sm.create_endpoint, EndpointName="orphan", EndpointConfigName="absent")[1] == (
        f'Could not find endpoint configuration "{ARN}:endpoint-config/absent".')
    assert error(api.sm.describe_endpoint, EndpointName="orphan")[1] == (
        f'Could not find endpoint "{ARN}:endpoint/orphan".')


def test_an_endpoint_that_does_not_exist_is_not_found_by_invoke_endpoint(api):
    assert error(api.runtime.invoke_endpoint, EndpointName="nowhere", Body=b"1", ContentType="text/csv") == (
        "ValidationError", "Endpoint nowhere of account 123456789012 not found.", 400)


def test_an_operation_not_implemented_says_so(api):
    code, message, status = error(api.sm.list_training_jobs)
    assert (code, message, status) == ("UnknownOperationException", "SageMaker.ListTrainingJobs is not implemented "
                                       "by serving api; see docs/sagemaker-api.md for the operations it answers", 400)


def test_other_routes_are_refused_naming_the_ones_there_are(api):
    answer = requests.get(api.url + "/models", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["Message"].startswith("GET /models is not a route of serving api")
    assert requests.get(api.url + "/ping", timeout=10).status_code == 200


def test_tags_are_kept_per_resource(api):
    arn = api.sm.create_model(ModelName="tagged", PrimaryContainer=CONTAINERS[1],
                              Tags=[{"Key": "team", "Value": "ml"}])["ModelArn"]
    api.sm.add_tags(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "test"}, {"Key": "team", "Value": "data"}])
    assert api.sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "data"},
                                                          {"Key": "stage", "Value": "test"}]
    api.sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert api.sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "test"}]
    assert error(api.sm.list_tags, ResourceArn=f"{ARN}:model/untagged")[1] == (
        f"Resource {ARN}:model/untagged does not exist or is not taggable here.")


def test_the_model_registry_versions_approves_and_deploys_packages(api):
    group = api.sm.create_model_package_group(ModelPackageGroupName="abalone-models",
                                              ModelPackageGroupDescription="the pipeline")["ModelPackageGroupArn"]
    assert group == f"{ARN}:model-package-group/abalone-models"
    spec = {"Containers": CONTAINERS, "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}
    arns = [api.sm.create_model_package(ModelPackageGroupName="abalone-models",
                                        InferenceSpecification=spec)["ModelPackageArn"] for _ in range(2)]
    assert arns == [f"{ARN}:model-package/abalone-models/1", f"{ARN}:model-package/abalone-models/2"]
    first = api.sm.describe_model_package(ModelPackageName=arns[0])
    assert (first["ModelPackageVersion"], first["ModelApprovalStatus"], first["ModelPackageStatus"],
            first["InferenceSpecification"]) == (1, "PendingManualApproval", "Completed", spec)
    api.sm.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="Approved")
    approved = api.sm.list_model_packages(ModelPackageGroupName="abalone-models", ModelApprovalStatus="Approved")
    assert [p["ModelPackageArn"] for p in approved["ModelPackageSummaryList"]] == [arns[1]]

    api.sm.create_model(ModelName="from-package", PrimaryContainer={"ModelPackageName": arns[1]})
    assert api.sm.describe_model(ModelName="from-package")["PrimaryContainer"] == {"ModelPackageName": arns[1]}
    api.sm.update_model_package(ModelPackageArn=arns[0], ModelApprovalStatus="Rejected")
    assert error(api.sm.create_model, ModelName="rejected", PrimaryContainer={"ModelPackageName": arns[0]})[1] == (
        f"Model package {arns[0]} is Rejected; approve it (UpdateModelPackage ModelApprovalStatus=Approved) before "
        "creating a model from it.")
    assert error(api.sm.delete_model_package_group, ModelPackageGroupName="abalone-models")[:2] == (
        "ConflictException", f"Model Package Group {group} still has model packages; delete them first "
                             "(DeleteModelPackage).")
    for arn in arns:
        api.sm.delete_model_package(ModelPackageName=arn)
    api.sm.delete_model_package_group(ModelPackageGroupName="abalone-models")
    assert error(api.sm.describe_model_package_group, ModelPackageGroupName="abalone-models")[1] == (
        "ModelPackageGroup abalone-models does not exist.")


def test_a_transform_job_of_a_missing_model_or_taken_name_is_refused(api, s3):
    assert error(api.sm.describe_transform_job, TransformJobName="never") == (
        "ResourceNotFound", "Could not find requested job with name never", 400)
    api.sm.create_model(ModelName="batch-model", Containers=CONTAINERS)
    job = dict(TransformJobName="empty-input", ModelName="batch-model",
               TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                               "S3Uri": f"s3://{s3.name}/nothing/"}}},
               TransformOutput={"S3OutputPath": f"s3://{s3.name}/out/"},
               TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    assert error(api.sm.create_transform_job, **{**job, "ModelName": "absent"})[1] == (
        f'Could not find model "{ARN}:model/absent".')
    assert error(api.sm.create_transform_job, **{**job, "BatchStrategy": "MultiRecord"})[1].startswith(
        "BatchStrategy MultiRecord requires SplitType Line or RecordIO")
    joined = {**job, "DataProcessing": {"JoinSource": "Input"},
              "TransformInput": {**job["TransformInput"], "ContentType": "text/csv", "SplitType": "Line"},
              "TransformOutput": {**job["TransformOutput"], "Accept": "application/json", "AssembleWith": "Line"}}
    assert error(api.sm.create_transform_job, **joined)[:2] == ("ValidationException", (
        "JoinSource Input needs Accept to equal ContentType (both text/csv); got Accept application/json"))
    api.sm.create_transform_job(**job)
    assert error(api.sm.create_transform_job, **job)[:2] == (
        "ResourceInUse", "Job name must be unique within an AWS account and region, and a job with this name already "
                         f"exists ({ARN}:transform-job/empty-input)")
    wait_for(lambda: api.sm.describe_transform_job(TransformJobName="empty-input")["TransformJobStatus"] != "InProgress")
    job = api.sm.describe_transform_job(TransformJobName="empty-input")
    assert (job["TransformJobStatus"], job["FailureReason"]) == ("Failed", (
        f"no objects under s3://{s3.name}/nothing/: S3Prefix reads every object whose key starts with 'nothing/'; "
        "check the bucket and the prefix, or upload the input there"))
    assert job["TransformEndTime"] >= job["TransformStartTime"]
