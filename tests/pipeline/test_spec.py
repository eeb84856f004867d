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
     "the spec: container 1 (container-1) needs Framework (sklearn, sparkml or model), Image or Command"),
    ({"Containers": [container(ModelDataUrl="s3://bucket/model.tar.gz")]},
     "the spec: container 1: ModelDataUrl s3://bucket/model.tar.gz is remote; download it and give a local "
     "directory, .tar.gz or file:// URL"),
    ({"Containers": [container(Imagee="x")]},
     "the spec: container 1: unknown field(s) Imagee; known: Command, ContainerHostname, Environment, Framework, "
     "Image, ModelDataUrl"),
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
