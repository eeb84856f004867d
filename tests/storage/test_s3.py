"""S3 reads and writes against a real S3 protocol server (moto's, on loopback, over HTTP)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from serving.errors import ConfigurationError
from serving.storage import artifacts, s3 as storage
from tests.conftest import REPO


def tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_missing_key_names_the_uri_and_what_s3_said(s3):
    with pytest.raises(storage.S3Error) as caught:
        storage.head(f"s3://{s3.name}/nothing/here.tar.gz")
    assert str(caught.value) == (f"cannot read s3://{s3.name}/nothing/here.tar.gz: S3 said NoSuchKey "
                                 "(the object does not exist), HTTP 404")


def test_a_missing_bucket_is_named(s3):
    with pytest.raises(storage.S3Error) as caught:
        storage.list_prefix("s3://no-such-bucket-here/data/")
    assert "cannot list s3://no-such-bucket-here/data/: S3 said NoSuchBucket" in str(caught.value)


@pytest.mark.parametrize("uri, message", [
    ("http://bucket/key", "http://bucket/key is not an S3 URI; S3 locations are written s3://bucket/key"),
    ("s3:///key", "s3:///key names no bucket; S3 locations are written s3://bucket/key"),
])
def test_uris_that_are_not_s3_locations(uri, message):
    with pytest.raises(ConfigurationError) as caught:
        storage.split(uri)
    assert str(caught.value) == message


def test_no_credentials_is_a_message_not_a_traceback(s3, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL_S3=s3.url, AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true")
    code = f"from serving.storage import s3\ntry:\n    s3.head('s3://{s3.name}/m.tar.gz')\nexcept s3.S3Error as e:\n    print(e)"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == (f"cannot read s3://{s3.name}/m.tar.gz: no AWS credentials were found (set "
                                  "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where an "
                                  "instance role provides them)")


def test_reads_are_pinned_to_the_version_listed(s3):
    uri = f"s3://{s3.name}/data.csv"
    s3.put(uri, b"1,2\n3,4\n")
    obj = storage.head(uri)
    assert storage.read(obj) == b"1,2\n3,4\n"
    assert storage.read_range(obj, 4, 8) == b"3,4\n"
    s3.put(uri, b"5,6\n7,8\n")
    with pytest.raises(storage.ObjectChanged) as caught:
        storage.read_range(obj, 0, 4)
    assert str(caught.value).startswith(f"{uri} changed while it was being read")


def test_a_download_is_checked_against_the_etag(s3, tmp_path):
    uri = f"s3://{s3.name}/blob"
    s3.put(uri, b"x" * 1000)
    obj = storage.head(uri)
    assert obj.size == 1000 and obj.md5 is not None
    storage.download(obj, tmp_path / "blob")
    assert (tmp_path / "blob").read_bytes() == b"x" * 1000
    lying = storage.S3Object(obj.bucket, obj.key, 999, obj.etag)  # what a listing said before it changed
    with pytest.raises(storage.ObjectChanged, match="1000 bytes arrived, but S3 listed 999"):
        storage.download(lying, tmp_path / "again")


def test_a_large_object_is_written_in_parts_and_only_when_whole(s3):
    uri = f"s3://{s3.name}/out/big.out"
    body = bytes(range(256)) * (storage.PART_SIZE // 256 * 2 + 1000)  # two full parts and a tail
    storage.write(uri, (body[i:i + (1 << 20)] for i in range(0, len(body), 1 << 20)), "text/csv")
    assert s3.get(uri) == body
    head = s3.client.head_object(Bucket=s3.name, Key="out/big.out")
    assert head["ETag"].strip('"').endswith("-3") and head["ContentType"] == "text/csv"


def test_a_failed_write_leaves_no_object_and_no_upload(s3):
    uri = f"s3://{s3.name}/out/failed.out"

    def chunks():
        yield b"a" * (storage.PART_SIZE + 10)  # one part is uploaded
        raise RuntimeError("the job failed half way")

    with pytest.raises(RuntimeError):
        storage.write(uri, chunks())
    assert s3.keys(s3.name, "out/") == []
    assert s3.uploads(s3.name) == []


def test_a_model_archive_is_fetched_once_and_again_when_it_changes(s3, tmp_path):
    uri = f"s3://{s3.name}/model/model.tar.gz"
    body = tarball({"model.joblib": b"first", "code/inference.py": b"# hooks"})
    s3.put(uri, body)
    first = artifacts.fetch(uri, tmp_path)
    assert open(os.path.join(first, "model.joblib"), "rb").read() == b"first"
    assert open(os.path.join(first, "code", "inference.py"), "rb").read() == b"# hooks"
    marker = os.path.join(first, "touched")
    open(marker, "w").close()  # a reused copy keeps it; a new download would not
    assert artifacts.fetch(uri, tmp_path) == first and os.path.exists(marker)
    s3.put(uri, body)  # the same bytes again: the same ETag
    assert artifacts.fetch(uri, tmp_path) == first and os.path.exists(marker)
    s3.put(uri, tarball({"model.joblib": b"second"}))
    again = artifacts.fetch(uri, tmp_path)
    assert open(os.path.join(again, "model.joblib"), "rb").read() == b"second"
    assert not os.path.exists(marker) and not os.path.exists(os.path.join(again, "code"))
    entry = os.path.dirname(again)
    assert sorted(os.listdir(entry)) == ["content", "lock", "object.json"]
    assert json.load(open(os.path.join(entry, "object.json")))["uri"] == uri


def test_an_object_that_is_not_an_archive_is_a_start_up_error(s3, tmp_path):
    uri = f"s3://{s3.name}/model/model.tar.gz"
    s3.put(uri, b"this is not gzip")
    with pytest.raises(ConfigurationError) as caught:
        artifacts.fetch(uri, tmp_path)
    message = str(caught.value)
    assert message.startswith(f"ModelDataUrl {uri} is not a model archive SageMaker could read: it is not a readable "
                              "tar archive")
    assert message.endswith("(ModelDataUrl and SAGEMAKER_SUBMIT_DIRECTORY are gzip-compressed tar files, .tar.gz)")
    assert not (tmp_path / "s3").exists() or all(os.listdir(tmp_path / "s3" / d) == ["lock"]
                                                  for d in os.listdir(tmp_path / "s3"))


def test_an_archive_that_climbs_out_is_refused(s3, tmp_path):
    uri = f"s3://{s3.name}/evil.tar.gz"
    s3.put(uri, tarball({"../../etc/owned": b"x"}))
    with pytest.raises(ConfigurationError, match="entry '../../etc/owned' climbs out with '..'; refusing to extract"):
        artifacts.fetch(uri, tmp_path)


def test_an_uncompressed_prefix_model_is_every_object_under_it(s3, tmp_path):
    s3.put(f"s3://{s3.name}/models/m1/model.json", b"{}")
    s3.put(f"s3://{s3.name}/models/m1/code/inference.py", b"# hooks")
    s3.put(f"s3://{s3.name}/models/m10/other", b"not mine")
    got = artifacts.fetch(f"s3://{s3.name}/models/m1/", tmp_path, data_type="S3Prefix", compression="None")
    found = sorted(os.path.relpath(os.path.join(d, f), got) for d, _, fs in os.walk(got) for f in fs)
    assert found == ["code/inference.py", "model.json"]


def test_an_uncompressed_single_object_model(s3, tmp_path):
    s3.put(f"s3://{s3.name}/models/xgboost-model", b"booster")
    got = artifacts.fetch(f"s3://{s3.name}/models/xgboost-model", tmp_path, compression="None")
    assert os.listdir(got) == ["xgboost-model"]


@pytest.mark.parametrize("uri, data_type, message", [
    ("s3://{b}/empty/", "S3Prefix", "ModelDataUrl s3://{b}/empty/: no objects under this prefix; upload the model's "
                                    "files there, or point at the model.tar.gz"),
    ("s3://{b}/empty", "S3Prefix", "ModelDataUrl s3://{b}/empty: an S3Prefix model location must end with '/' "
                                   "(as SageMaker requires)"),
    ("s3://{b}/dir/", "S3Object", "s3://{b}/dir/ names a prefix, not an object; give the object's key "
                                  "(for example .../model.tar.gz)"),
])
def test_model_locations_that_hold_nothing(s3, tmp_path, uri, data_type, message):
    with pytest.raises(ConfigurationError) as caught:
        artifacts.fetch(uri.format(b=s3.name), tmp_path, data_type=data_type, compression="None")
    assert str(caught.value) == message.format(b=s3.name)


def test_a_download_shows_its_progress_when_asked(s3, tmp_path, capsys):
    uri = f"s3://{s3.name}/models/big.tar.gz"
    s3.put(uri, b"z" * 300_000)
    storage.download(storage.head(uri), tmp_path / "big", progress=True)
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert bar.startswith("download big.tar.gz: 100%") and "293k/293k" in bar
