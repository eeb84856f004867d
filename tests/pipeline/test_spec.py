"""The pipeline spec: CreateModel's shape, SageMaker's validation rules, clear messages."""

from __future__ import annotations

import pytest

from serving.errors import ConfigurationError
from serving.pipeline import spec as specs


def container(**fields):
    return {"Framework": "model", **fields}


def test_unnamed_containers_get_positional_hostnames():
    spec = specs.from_dict({"Containers": [container(), container(), container()]})
    assert spec.hostnames == ["container-1", "container-2", "container-3"]
    assert spec.mode == "Serial"


def test_a_primary_container_is_a_pipeline_of_one():
    assert specs.from_dict({"PrimaryContainer": container()}).hostnames == ["container-1"]


def test_relative_model_data_is_read_from_the_spec_folder(tmp_path):
    (tmp_path / "models" / "m").mkdir(parents=True)
    path = tmp_path / "spec.yaml"
    path.write_text("Containers:\n  - Framework: sklearn\n    ModelDataUrl: models/m\n")
    assert specs.load(path).containers[0].model_data == str(tmp_path / "models" / "m")


def test_s3_model_data_is_kept_as_a_uri_until_the_pipeline_starts():
    spec = specs.from_dict({"Containers": [{
        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "ModelDataUrl": "s3://bucket/xgb/model.tar.gz", "Mode": "SingleModel"}]})
    (c,) = spec.containers
    assert (c.framework, c.model_data, c.model_data_type, c.model_compression) == (
        "xgboost", "s3://bucket/xgb/model.tar.gz", "S3Object", "Gzip")
    assert spec.to_dict()["Containers"][0]["ModelDataUrl"] == "s3://bucket/xgb/model.tar.gz"
    assert spec.notices == ()  # 1.7 is not newer than the XGBoost served here


def test_framework_overrides_what_an_aws_image_means():
    spec = specs.from_dict({"Containers": [{
        "Image": "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1", "Framework": "model"}]})
    assert spec.containers[0].framework == "model"


def test_file_urls_are_local_paths(tmp_path):
    spec = specs.from_dict({"Containers": [container(ModelDataUrl=f"file://{tmp_path}")]})
    assert spec.containers[0].model_data == str(tmp_path)


@pytest.mark.parametrize("data,message", [
    ({"Containers": []}, "the spec: 'Containers' must be a list of 1 to 15 container definitions"),
    ({"Containers": [container()] * 16}, "the spec: 16 containers; a pipeline has at most 15"),
    ({"Containers": [container(ContainerHostname="a"), container()]},
     "the spec: ContainerHostname is set on some containers but not on container(s) 2; SageMaker requires it on "
     "all containers or on none (then they are container-1, container-2, ...)"),
    ({"Containers": [container(ContainerHostname="a"), container(ContainerHostname="a")]},
     "the spec: ContainerHostname 'a' is used twice; hostnames must be unique"),
    ({"Containers": [container(ContainerHostname="-a")]},
     "the spec: container 1: ContainerHostname '-a' is not valid: use letters, digits and inner hyphens, at most 63 "
     "characters, starting and ending with a letter or digit"),
    ({"Containers": [container()], "InferenceExecutionConfig": {"Mode": "Direct"}},
     "the spec: Direct mode requires a ContainerHostname on every container"),
    ({"Containers": [container()], "InferenceExecutionConfig": {"Mode": "Parallel"}},
     "the spec: InferenceExecutionConfig.Mode must be Serial or Direct, got 'Parallel'"),
    ({"Containers": [{"Environment": {}}]},
     "the spec: container 1 (container-1) needs Framework (sklearn, sparkml, model, xgboost, blazingtext), Image or "
     "Command"),
    ({"Containers": [container(ModelDataUrl="https://example.com/model.tar.gz")]},
     "the spec: container 1: ModelDataUrl https://example.com/model.tar.gz: the scheme is not one that can be read; "
     "give an s3:// URI, a file:// URL, or a local directory or .tar.gz"),
    ({"Containers": [container(ModelDataUrl="s3://bucket/models/")]},
     "the spec: container 1: ModelDataUrl s3://bucket/models/ names a prefix; it must name the model's .tar.gz object. "
     "For a model stored uncompressed under a prefix, use ModelDataSource.S3DataSource with S3DataType S3Prefix and "
     "CompressionType None"),
    ({"Containers": [container(ModelDataUrl="s3://b/m.tar.gz", ModelDataSource={"S3DataSource": {"S3Uri": "s3://b/m/"}})]},
     "the spec: container 1: give ModelDataUrl or ModelDataSource, not both"),
    ({"Containers": [container(ModelDataSource={"S3DataSource": {"S3Uri": "s3://b/m", "S3DataType": "S3Prefix"}})]},
     "the spec: container 1: an S3Prefix S3Uri must end with '/', got s3://b/m"),
    ({"Containers": [container(ModelDataSource={"S3DataSource": {"S3Uri": "s3://b/m/", "S3DataType": "S3Prefix",
                                                                 "CompressionType": "Gzip"}})]},
     "the spec: container 1: an S3Prefix model is uncompressed (CompressionType None); a Gzip model is one S3Object"),
    ({"Containers": [container(ModelDataSource={"S3Uri": "s3://b/m/"})]},
     "the spec: container 1: ModelDataSource must be {'S3DataSource': {'S3Uri': 's3://...', 'S3DataType': 'S3Object' "
     "or 'S3Prefix', 'CompressionType': 'None' or 'Gzip'}}"),
    ({"Containers": [container(Mode="MultiModel")]},
     "the spec: container 1: Mode 'MultiModel' is not served here; only SingleModel (the default) is: one model per "
     "container"),
    ({"Containers": [container(Environment={"SAGEMAKER_SUBMIT_DIRECTORY": "gs://b/code.tar.gz"})]},
     "the spec: container 1: SAGEMAKER_SUBMIT_DIRECTORY=gs://b/code.tar.gz: the scheme is not one that can be read; "
     "give an s3:// URI, a file:// URL or a local path"),
    ({"Containers": [{"Image": "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"}]},
     "the spec: container 1 (container-1): 382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1 is AWS's "
     "Linear Learner algorithm image, which has no open implementation here; substitute it: give the container a "
     "Framework (sklearn, sparkml, model, xgboost, blazingtext) and a ModelDataUrl, or a Command, or, with --backend "
     "docker, an Image of your own"),
    ({"Containers": [container(Imagee="x")]},
     "the spec: container 1: unknown field(s) Imagee; known: Command, ContainerHostname, Environment, Framework, "
     "Image, Mode, ModelDataSource, ModelDataUrl"),
])
def test_invalid_specs_say_what_is_wrong(data, message):
    with pytest.raises(ConfigurationError) as caught:
        specs.from_dict(data)
    assert str(caught.value) == message


def test_missing_model_data_names_the_path(tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        specs.from_dict({"Containers": [container(ModelDataUrl="nowhere")]}, base_dir=tmp_path)
    assert str(caught.value) == f"the spec: container 1: ModelDataUrl nowhere does not exist (looked at {tmp_path / 'nowhere'})"


def test_environment_beyond_sagemaker_limits_is_a_warning_not_an_error():
    spec = specs.from_dict({"Containers": [container(Environment={"BIG": "x" * 1025, "FLAG": True})]})
    assert spec.warnings == ("container-1: Environment value of BIG is 1025 bytes; SageMaker allows 1024",)
    assert spec.containers[0].environment["FLAG"] == "true"


def test_the_process_backend_refuses_an_image_of_the_users_own():
    from serving.pipeline.process import ProcessBackend

    spec = specs.from_dict({"Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"}]})
    container = ProcessBackend().create("e", spec.containers[0])
    try:
        with pytest.raises(ConfigurationError) as caught:
            container.start()
    finally:
        container.stop()
    assert str(caught.value) == (
        "container container-1 names only an Image (123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1), which is "
        "not one of SageMaker's framework images; the process backend runs a Framework (sklearn, sparkml, model, "
        "xgboost, blazingtext) or a Command: add one, or use --backend docker")
