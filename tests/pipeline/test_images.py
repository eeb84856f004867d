"""AWS image URIs, as the SageMaker Python SDK makes them, and what each means here.

The SDK is the reference: ``sagemaker.image_uris.retrieve`` gives the URIs users copy into
their specs, and its ``image_uri_config`` tables list the registry account of every region.
The account table in ``serving/pipeline/images.py`` is generated from those tables, and
checked against them here; after an SDK upgrade that changes them, regenerate it with::

    .venv/bin/python -m tests.pipeline.test_images --regenerate
"""

from __future__ import annotations

import functools
import json
import re
import sys
from importlib import metadata
from pathlib import Path

import botocore.loaders
import botocore.regions
import pytest
import sagemaker
from sagemaker import image_uris, utils

from serving.errors import ConfigurationError
from serving.pipeline import images
from serving.pipeline.images import AwsImage, docker_image, framework_for, parse

WHERE = "pipeline.json: container 2"
TABLES = Path(sagemaker.__file__).parent / "image_uri_config"
MODULE = Path(images.__file__)
BEGIN, END = "# BEGIN generated", "# END generated"
DIGEST = "sha256:" + "0123456789abcdef" * 4
SKLEARN_US_EAST_1 = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn"
XGBOOST_US_EAST_1 = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost"

# The built-in algorithms (SDK table names), and what their refusal must call them.
ALGORITHMS = {
    "factorization-machines": "Factorization Machines",
    "forecasting-deepar": "DeepAR",
    "image-classification": "Image Classification",
    "image-classification-neo": "Image Classification",
    "ipinsights": "IP Insights",
    "kmeans": "K-Means",
    "knn": "k-NN",
    "lda": "Latent Dirichlet Allocation",
    "linear-learner": "Linear Learner",
    "ntm": "Neural Topic Model",
    "object-detection": "Object Detection",
    "object2vec": "Object2Vec",
    "pca": "Principal Component Analysis",
    "randomcutforest": "Random Cut Forest",
    "semantic-segmentation": "Semantic Segmentation",
    "seq2seq": "Sequence-to-Sequence",
    "xgboost-neo": "XGBoost (compiled by SageMaker Neo)",
}


# -- the SDK's tables ----------------------------------------------------------------------


@functools.cache
def sdk_table(name: str) -> dict:
    return json.loads((TABLES / f"{name}.json").read_text())


def sdk_table_names() -> list[str]:
    return sorted(p.stem for p in TABLES.glob("*.json") if p.stem != "instance_gpu_info")


def registries(node) -> list[tuple[str, dict[str, str]]]:
    """Every (repository, {region: account}) of a table, however deep its versions nest."""
    found = []
    if isinstance(node, dict):
        if "registries" in node:
            found.append((node["repository"], node["registries"]))
        for value in node.values():
            found += registries(value)
    elif isinstance(node, list):
        for value in node:
            found += registries(value)
    return found


def sdk_accounts() -> set[str]:
    tables = [registries(sdk_table(name)) for name in sdk_table_names()]
    return {account for table in tables for _, regs in table for account in regs.values()}


def sdk_repositories() -> dict[str, set[tuple[str, str]]]:
    """Every repository of every table, with every (region, account) it is published from."""
    out: dict[str, set[tuple[str, str]]] = {}
    for name in sdk_table_names():
        for repository, regs in registries(sdk_table(name)):
            out.setdefault(repository, set()).update(regs.items())
    return out


@functools.cache
def resolver():
    return botocore.regions.EndpointResolver(botocore.loaders.create_loader().load_data("endpoints"))


def sdk_host(region: str) -> str:
    """ECR's host for ``region``, as the SDK finds it (botocore's endpoint data)."""
    endpoint = resolver().construct_endpoint("ecr", region)
    return endpoint["hostname"] if endpoint else f"ecr.{region}.amazonaws.com"


@pytest.fixture(scope="module")
def retrieve():
    """``image_uris.retrieve``, with botocore's endpoint data read once instead of per call."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utils, "_botocore_resolver", resolver)
        yield image_uris.retrieve


def versions(framework: str, scope: str) -> dict[str, dict]:
    """{version: its regions} of an SDK table's scope (tables without scopes have one)."""
    table = sdk_table(framework)
    table = table.get(scope, table) if scope in table else (table if scope == "inference" else {})
    return {v: registries(config)[0][1] for v, config in table.get("versions", {}).items()}


# -- AWS's images of ours -------------------------------------------------------------------


@pytest.mark.parametrize("sdk_framework, ours", [("sklearn", "sklearn"), ("xgboost", "xgboost"),
                                                 ("sparkml-serving", "sparkml"), ("blazingtext", "blazingtext")])
def test_every_sdk_image_of_ours_maps_to_our_framework_in_every_region(retrieve, sdk_framework, ours):
    wrong, count = [], 0
    for scope, instance_type in (("inference", "ml.m5.xlarge"), ("inference_graviton", "ml.c7g.xlarge")):
        for version, regions in versions(sdk_framework, scope).items():
            for region in regions:
                uri = retrieve(sdk_framework, region=region, version=version, image_scope=scope,
                               instance_type=instance_type)
                count += 1
                if framework_for(uri, WHERE)[0] != ours or parse(uri).region != region:
                    wrong.append(uri)
    assert count > 25 and wrong == []


def test_the_sdk_covers_china_govcloud_and_the_isolated_partitions(retrieve):
    hosts = {retrieve("sklearn", region=r, version="1.2-1", image_scope="inference", instance_type="ml.m5.xlarge")
             .split("/")[0].split(".", 3)[3] for r in versions("sklearn", "inference")["1.2-1"]}
    for host in ("cn-north-1.amazonaws.com.cn", "us-gov-west-1.amazonaws.com", "us-iso-east-1.c2s.ic.gov",
                 "us-isob-east-1.sc2s.sgov.gov", "us-isof-south-1.csp.hci.ic.gov"):
        assert host in hosts


def test_parse_gives_the_parts_of_the_uri():
    uri = f"{SKLEARN_US_EAST_1}:1.2-1-cpu-py3"
    assert parse(uri) == AwsImage(uri, "683313688378", "us-east-1", "sagemaker-scikit-learn", "1.2-1-cpu-py3",
                                  "sklearn")


def test_a_china_uri_maps():
    uri = "450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-scikit-learn:1.2-1-cpu-py3"
    assert parse(uri) == AwsImage(uri, "450853457545", "cn-north-1", "sagemaker-scikit-learn", "1.2-1-cpu-py3",
                                  "sklearn")


def test_a_digest_after_the_tag_maps_and_keeps_the_tag():
    aws = parse(f"{SKLEARN_US_EAST_1}:1.2-1-cpu-py3@{DIGEST}")
    assert (aws.framework, aws.tag) == ("sklearn", "1.2-1-cpu-py3")


def test_a_digest_alone_maps_with_no_tag_and_no_version_warning():
    assert parse(f"{XGBOOST_US_EAST_1}@{DIGEST}").tag == ""
    assert framework_for(f"{XGBOOST_US_EAST_1}@{DIGEST}", WHERE) == ("xgboost", [])


def test_no_tag_maps():
    assert framework_for("811284229777.dkr.ecr.us-east-1.amazonaws.com/blazingtext", WHERE) == ("blazingtext", [])


def test_a_fips_host_maps():
    assert framework_for("683313688378.dkr.ecr-fips.us-east-1.amazonaws.com/sagemaker-sparkml-serving:3.3",
                         WHERE) == ("sparkml", [])


def test_the_older_xgboost_algorithm_image_maps_without_a_warning():
    for tag in ("1", "latest"):
        assert framework_for(f"811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:{tag}", WHERE) == ("xgboost", [])


# -- images that are not AWS's ---------------------------------------------------------------


def test_a_users_own_ecr_repository_named_like_aws_is_the_users_image():
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"
    assert parse(uri) is None
    assert framework_for(uri, WHERE) == (None, [])


@pytest.mark.parametrize("uri", ["serving-sklearn:latest", "python:3.11-slim", "docker.io/library/python:3.11",
                                 "public.ecr.aws/docker/library/python:3.11", "",
                                 "683313688378.dkr.ecr.us-east-1.example.com/sagemaker-scikit-learn:1.2-1",
                                 "683313688378.dkr.ecr.us-east-1.amazonaws.com.evil.com/sagemaker-xgboost:1.7-1"])
def test_images_outside_aws_registries_are_the_users(uri):
    assert parse(uri) is None
    assert framework_for(uri, WHERE) == (None, [])


# -- AWS's images we do not run ---------------------------------------------------------------


def refusal(uri: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        framework_for(uri, WHERE)
    return str(caught.value)


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_a_builtin_algorithm_is_refused_in_every_region_naming_it(retrieve, algorithm):
    (version, regions), = versions(algorithm, "inference").items()
    for region in regions:
        uri = retrieve(algorithm, region=region, version=version, image_scope="inference", instance_type="ml.m5.xlarge")
        message = refusal(uri)
        assert message.startswith(f"{WHERE}: {uri} is AWS's "), message
        assert ALGORITHMS[algorithm] in message and "algorithm image" in message
        assert "has no open implementation here" in message


def test_the_refusal_says_how_to_substitute():
    message = refusal("382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1")
    assert message == (
        f"{WHERE}: 382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1 is AWS's Linear Learner algorithm "
        "image, which has no open implementation here; substitute it: give the container a Framework (sklearn, "
        "sparkml, model, xgboost, blazingtext) and a ModelDataUrl, or a Command, or, with --backend docker, "
        "an Image of your own")


@pytest.mark.parametrize("framework, options, name", [
    ("pytorch", {"version": "2.1", "py_version": "py310"}, "AWS's PyTorch image"),
    ("tensorflow", {"version": "2.13"}, "AWS's TensorFlow image"),
    ("mxnet", {"version": "1.9", "py_version": "py38"}, "AWS's MXNet image"),
    ("huggingface", {"version": "4.37", "base_framework_version": "pytorch2.1"}, "AWS's Hugging Face image"),
    ("djl-lmi", {"version": "0.29.0"}, "AWS's DJL Serving (large model inference) image"),
    ("sagemaker-tritonserver", {"version": "23.12"}, "AWS's NVIDIA Triton Inference Server image"),
])
def test_a_deep_learning_framework_image_is_refused_naming_it(retrieve, framework, options, name):
    uri = retrieve(framework, region="eu-west-1", image_scope="inference", instance_type="ml.m5.xlarge", **options)
    message = refusal(uri)
    assert message.startswith(f"{WHERE}: {uri} is {name}, which has no open implementation here; "), message
    assert "Framework" in message and "Command" in message


def test_every_other_repository_of_the_sdk_is_refused_with_a_name_in_every_region():
    unnamed, count = [], 0
    for repository, regs in sdk_repositories().items():
        if repository in images.OURS:
            continue
        for region, account in sorted(regs):
            message = refusal(f"{account}.dkr.{sdk_host(region)}/{repository}:1")
            count += 1
            if not re.search(r" is AWS's .+ image, which has no open implementation here; ", message):
                unnamed.append(repository)
    assert count > 1000 and sorted(set(unnamed)) == []


def test_an_unknown_repository_in_an_aws_account_is_refused():
    uri = "763104351884.dkr.ecr.us-east-1.amazonaws.com/something-new:1.0"
    assert refusal(uri).startswith(
        f"{WHERE}: {uri} is an image in AWS's registry (account 763104351884) that we do not know, "
        "which has no open implementation here; substitute it: give the container a Framework")


# -- versions ------------------------------------------------------------------------------


def minor(distribution: str) -> str:
    return ".".join(metadata.version(distribution).split(".")[:2])


def test_a_scikit_learn_image_of_another_release_warns_with_what_to_do():
    ours = metadata.version("scikit-learn")
    uri = f"{SKLEARN_US_EAST_1}:0.23-1-cpu-py3"
    assert framework_for(uri, WHERE) == ("sklearn", [
        f"{WHERE}: {uri} serves scikit-learn 0.23 and scikit-learn {ours} is installed here: a model pickled with "
        f"scikit-learn 0.23 may not load or may predict differently under {ours}; retrain and save it with "
        f"scikit-learn {ours}, or run it in an image of your own that has scikit-learn 0.23 (--backend docker)"])


def test_a_scikit_learn_image_of_our_release_gives_no_warning():
    sdk = [v for v in versions("sklearn", "inference") if v.split("-")[0] == minor("scikit-learn")]
    tag = f"{sdk[0]}-cpu-py3" if sdk else f"{minor('scikit-learn')}-1-cpu-py3"
    assert framework_for(f"{SKLEARN_US_EAST_1}:{tag}", WHERE) == ("sklearn", [])


def xgboost_version() -> str:
    return images.installed("xgboost", "xgboost-cpu")


def test_an_xgboost_image_newer_than_ours_warns():
    ours = xgboost_version()
    newer = f"{int(ours.split('.')[0]) + 1}.0"
    uri = f"{XGBOOST_US_EAST_1}:{newer}-1"
    assert framework_for(uri, WHERE) == ("xgboost", [
        f"{WHERE}: {uri} serves XGBoost {newer}, newer than the XGBoost {ours} installed here: a model saved by "
        f"XGBoost {newer} may not load; retrain it with XGBoost {ours} (models of older releases load), or run it "
        f"in an image of your own that has XGBoost {newer} (--backend docker)"])


def test_xgboost_images_of_our_release_or_older_give_no_warning():
    ours = ".".join(xgboost_version().split(".")[:2])
    for tag in ("0.90-2-cpu-py3", "1.7-1", f"{ours}-1"):
        assert framework_for(f"{XGBOOST_US_EAST_1}:{tag}", WHERE) == ("xgboost", [])


def test_sparkml_serving_images_give_no_warning_whatever_the_spark_version(retrieve):
    for version in versions("sparkml-serving", "inference"):
        uri = retrieve("sparkml-serving", region="us-east-1", version=version)
        assert framework_for(uri, WHERE) == ("sparkml", [])


def test_no_installed_framework_means_no_version_warning(monkeypatch):
    monkeypatch.setattr(images, "installed", lambda *names: None)
    assert framework_for(f"{SKLEARN_US_EAST_1}:0.23-1-cpu-py3", WHERE) == ("sklearn", [])
    assert framework_for(f"{XGBOOST_US_EAST_1}:99.0-1", WHERE) == ("xgboost", [])


# -- our images ----------------------------------------------------------------------------


def test_docker_image_names_our_image_of_the_framework():
    assert docker_image("sklearn") == "serving-sklearn:latest"
    assert docker_image("xgboost", prefix="registry.local/serving", tag="0.1.0") == \
        "registry.local/serving-xgboost:0.1.0"


def test_docker_image_of_an_unknown_framework_is_refused():
    with pytest.raises(ConfigurationError, match="unknown framework 'pytorch'; choose one of: sklearn, sparkml"):
        docker_image("pytorch")


# -- the tables stay the SDK's -------------------------------------------------------------


def test_the_shipped_accounts_are_the_sdk_tables_accounts():
    assert images.ACCOUNTS == sdk_accounts(), "run: .venv/bin/python -m tests.pipeline.test_images --regenerate"


def test_the_dns_suffixes_are_botocores_partitions():
    partitions = botocore.loaders.create_loader().load_data("endpoints")["partitions"]
    assert set(images.DNS_SUFFIXES) == {p["dnsSuffix"] for p in partitions}


def test_every_algorithm_named_here_is_in_the_sdk_and_refused_by_its_name():
    assert set(ALGORITHMS) <= set(sdk_table_names())
    assert {r for name in ALGORITHMS for r, _ in registries(sdk_table(name))} <= set(images.ALGORITHMS)


# -- the generator ---------------------------------------------------------------------------


def generated_block() -> str:
    accounts = sorted(sdk_accounts())
    lines = [" ".join(accounts[i:i + 8]) for i in range(0, len(accounts), 8)]
    return (f'{BEGIN} (sagemaker {sagemaker.__version__}): every account of every image_uri_config "registries"\n'
            'ACCOUNTS = frozenset("""\n' + "\n".join(lines) + '\n""".split())\n' + END)


def regenerate() -> None:
    text = MODULE.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    MODULE.write_text(text[:start] + generated_block() + text[end:])
    print(f"{MODULE}: {len(sdk_accounts())} accounts from sagemaker {sagemaker.__version__}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit("usage: python -m tests.pipeline.test_images --regenerate")
    regenerate()
