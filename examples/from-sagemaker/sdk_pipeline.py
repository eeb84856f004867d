"""A pipeline defined the way a team defines it for SageMaker, written out for ``serving``.

The abalone featurizer (scikit-learn, with the ``code/featurizer.py`` entry point) in front of
SageMaker's built-in XGBoost, as the SageMaker Python SDK builds it: the models are packed as
``model.tar.gz`` and uploaded to S3, ``SKLearnModel`` uploads the entry point as
``sourcedir.tar.gz``, and ``PipelineModel.pipeline_container_def`` gives the container list
``CreateModel`` takes: AWS image URIs, ``s3://`` model data and submit directory. Written to
JSON unchanged, it is what ``serving endpoint up`` and ``serving transform --model`` run::

    python examples/from-sagemaker/sdk_pipeline.py --bucket my-bucket --out build/from-sagemaker
    serving endpoint up build/from-sagemaker/pipeline.json

S3 is whatever boto3 is configured for: AWS itself, or ``AWS_ENDPOINT_URL_S3`` pointing at
MinIO or a local S3 server. The SDK is needed here only; serving itself does not import it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REGION = "us-east-1"
ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"  # recorded by the SDK, never assumed here
SKLEARN_VERSION, XGBOOST_VERSION = "1.2-1", "1.7-1"


def _train_module():
    spec = importlib.util.spec_from_file_location("abalone_xgboost_train", HERE.parent / "abalone-xgboost" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pack(folder: Path, archive: Path) -> Path:
    """``model.tar.gz`` as SageMaker's training jobs write it: the folder's files at the top."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def upload(bucket: str, out: str | Path, data: str | Path) -> dict[str, str]:
    """Train the featurizer and the regressor and upload each as ``model.tar.gz``; their S3 URIs by name."""
    import boto3

    out = Path(out)
    featurizer_dir, regressor_dir, _ = _train_module().train(data, out / "models")
    s3 = boto3.Session(region_name=REGION).client("s3")
    uris = {}
    for name, folder in (("featurizer", featurizer_dir), ("xgboost", regressor_dir)):
        archive = pack(folder, out / f"{name}.tar.gz")
        s3.upload_file(str(archive), bucket, f"abalone/{name}/model.tar.gz")
        uris[name] = f"s3://{bucket}/abalone/{name}/model.tar.gz"
    return uris


def session(bucket: str):
    """A SageMaker SDK session. With ``default_bucket`` given the SDK asks STS nothing."""
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    import boto3
    import sagemaker

    return sagemaker.Session(boto_session=boto3.Session(region_name=REGION), default_bucket=bucket)


def pipeline_model(sdk_session, uris: dict[str, str], bucket: str, xgboost_script: bool = False):
    """The SDK's ``PipelineModel``: ``SKLearnModel`` (entry point ``code/featurizer.py``), then
    SageMaker's XGBoost: the built-in algorithm's ``Model``, or with ``xgboost_script`` an
    ``XGBoostModel`` in script mode (entry point ``code/regressor.py``)."""
    import sagemaker
    from sagemaker.model import Model
    from sagemaker.pipeline import PipelineModel
    from sagemaker.sklearn.model import SKLearnModel
    from sagemaker.xgboost.model import XGBoostModel

    featurizer = SKLearnModel(model_data=uris["featurizer"], role=ROLE, entry_point="featurizer.py",
                              source_dir=str(HERE / "code"), framework_version=SKLEARN_VERSION,
                              code_location=f"s3://{bucket}/abalone/code", sagemaker_session=sdk_session,
                              env={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"})
    if xgboost_script:
        xgboost = XGBoostModel(model_data=uris["xgboost"], role=ROLE, entry_point="regressor.py",
                               source_dir=str(HERE / "code"), framework_version=XGBOOST_VERSION,
                               code_location=f"s3://{bucket}/abalone/code", sagemaker_session=sdk_session,
                               env={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"})
    else:
        xgboost = Model(image_uri=sagemaker.image_uris.retrieve("xgboost", REGION, XGBOOST_VERSION),
                        model_data=uris["xgboost"], role=ROLE, sagemaker_session=sdk_session)
    # predictor_cls: without one, PipelineModel.deploy returns None instead of a Predictor
    return PipelineModel(models=[featurizer, xgboost], role=ROLE, sagemaker_session=sdk_session,
                         predictor_cls=sagemaker.predictor.Predictor)


def build(bucket: str, out: str | Path, data: str | Path) -> Path:
    """Train, upload and define the pipeline; returns the path of ``pipeline.json``."""
    out = Path(out)
    pipeline = pipeline_model(session(bucket), upload(bucket, out, data), bucket)
    definition = {"ModelName": "abalone-from-sagemaker",
                  "Containers": pipeline.pipeline_container_def("ml.m5.large")}
    path = out / "pipeline.json"
    path.write_text(json.dumps(definition, indent=2) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", required=True, help="the S3 bucket the models and code are uploaded to")
    parser.add_argument("--out", default="build/from-sagemaker")
    parser.add_argument("--data", default=str(HERE.parents[1].parent / "shared" / "data" / "abalone.data"))
    args = parser.parse_args()
    print(f"wrote {build(args.bucket, args.out, args.data)}")


if __name__ == "__main__":
    main()
