"""S3, wherever SageMaker reads or writes it: model and code artifacts, transform input and output.

The client is boto3's, built the standard way, so credentials, region and endpoint come from
boto3's own chain (variables, profiles, instance roles) and ``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL`` point it at MinIO, a local S3 server or any S3-compatible store with no
option of ours. Every S3 failure becomes an :class:`S3Error` that names the URI and what S3
said (``NoSuchKey``, ``AccessDenied`` ...), never a botocore traceback.

Reads are pinned to the version that was looked at: a ``GET`` carries ``If-Match`` with the
ETag its ``HEAD`` or listing returned, so an object replaced while a job reads it fails with
a message saying so instead of mixing two versions. (boto3's ``download_file`` cannot send
``If-Match``, which is why :func:`download` streams ``get_object`` itself; it hashes as it
writes, so a download is read once.)

Writes are all-or-nothing: :class:`Upload` buffers parts and completes the multipart upload
only when the whole object has been written; any failure aborts it, so S3 never holds a
partial object under the final key. An object smaller than one part is a single ``PUT``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from contextlib import contextmanager, nullcontext
from typing import Iterable, Iterator

from ..errors import ConfigurationError

log = logging.getLogger("serving.s3")

PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB; 8 MiB is boto3's own default chunk
CHUNK = 1024 * 1024
PROGRESS_FROM = 64 * 1024 * 1024  # objects at least this large get a progress bar on a terminal

_client = None
_client_lock = threading.Lock()


class S3Error(ConfigurationError):
    """An S3 request that failed, with the URI and S3's answer in the message."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


class ObjectChanged(S3Error):
    """The object is not the version that was looked at (its ETag or size changed)."""


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int
    etag: str  # without the quotes
    encrypted_with_kms: bool = False

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def md5(self) -> str | None:
        """The object's MD5, where its ETag is one (a single-part upload, not encrypted with KMS)."""
        if self.encrypted_with_kms or "-" in self.etag or len(self.etag) != 32:
            return None
        return self.etag

    def stamp(self) -> dict:
        """What identifies this version of the object (a manifest or cache records it)."""
        return {"size": self.size, "etag": self.etag}


def is_s3(uri: str) -> bool:
    return str(uri).startswith("s3://")


def split(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``; the key may be empty (the whole bucket)."""
    if not is_s3(uri):
        raise ConfigurationError(f"{uri} is not an S3 URI; S3 locations are written s3://bucket/key")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket:
        raise ConfigurationError(f"{uri} names no bucket; S3 locations are written s3://bucket/key")
    return bucket, key


def client():
    """The process's S3 client (boto3 clients are thread-safe; making one is not, hence the lock)."""
    global _client
    with _client_lock:
        if _client is None:
            try:
                import boto3
                from botocore.config import Config
            except ModuleNotFoundError:
                raise ConfigurationError("reading s3:// locations needs boto3: pip install boto3") from None
            session = boto3.session.Session()
            _client = session.client(
                "s3", region_name=session.region_name or "us-east-1",
                config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32),
            )
        return _client


def reset_client() -> None:
    """Forget the client (after the endpoint variables changed, or in a forked child)."""
    global _client
    with _client_lock:
        _client = None


os.register_at_fork(after_in_child=reset_client)  # a client's connection pool must not cross a fork


def _failure(uri: str, exc: BaseException, doing: str) -> S3Error:
    """What went wrong, for a person: S3's error code and message, or why S3 could not be asked."""
    from botocore import exceptions as bex

    if isinstance(exc, bex.NoCredentialsError):
        return S3Error(f"cannot {doing} {uri}: no AWS credentials were found (set AWS_ACCESS_KEY_ID and "
                       "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where an instance role provides them)",
                       "NoCredentials")
    if isinstance(exc, bex.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        text = error.get("Message") or {"404": "Not Found", "403": "Forbidden"}.get(code, "")
        if code in ("404", "NoSuchKey"):
            code, text = "NoSuchKey", text if code == "NoSuchKey" else "the object does not exist"
        elif code == "403":
            code, text = "AccessDenied", "access denied (a HEAD request's 403: the credentials may not read it)"
        if code in ("PreconditionFailed", "412") or status == 412:
            return ObjectChanged(f"{uri} changed while it was being read (its ETag is no longer the one listed); "
                                 "run again once it stays unchanged", "PreconditionFailed")
        return S3Error(f"cannot {doing} {uri}: S3 said {code}" + (f" ({text})" if text else "")
                       + (f", HTTP {status}" if status else ""), code)
    if isinstance(exc, bex.EndpointConnectionError):
        return S3Error(f"cannot {doing} {uri}: S3 cannot be reached ({exc}); check AWS_ENDPOINT_URL_S3 / "
                       "AWS_ENDPOINT_URL and the network", "EndpointConnectionError")
    return S3Error(f"cannot {doing} {uri}: {exc}", type(exc).__name__)


@contextmanager
def _calling(uri: str, doing: str):
    """botocore's errors in the block become an :class:`S3Error` about ``uri``."""
    from botocore import exceptions as bex

    try:
        yield
    except (bex.BotoCoreError, bex.ClientError) as exc:
        raise _failure(uri, exc, doing) from None


def head(uri: str) -> S3Object:
    """The object at ``uri`` (its size and ETag); S3Error when it is missing or cannot be read."""
    bucket, key = split(uri)
    if not key or key.endswith("/"):
        raise S3Error(f"{uri} names a prefix, not an object; give the object's key (for example .../model.tar.gz)")
    with _calling(uri, "read"):
        answer = client().head_object(Bucket=bucket, Key=key)
    return S3Object(bucket, key, int(answer["ContentLength"]), answer["ETag"].strip('"'),
                    answer.get("ServerSideEncryption") == "aws:kms")


def list_prefix(uri: str) -> list[S3Object]:
    """Every object under the prefix ``uri``, in key order (S3's listing order), folder markers left out."""
    bucket, prefix = split(uri)
    found = []
    with _calling(uri, "list"):
        for page in client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                if item["Key"].endswith("/") and item["Size"] == 0:
                    continue
                found.append(S3Object(bucket, item["Key"], int(item["Size"]), item["ETag"].strip('"')))
    return found


def read(obj: S3Object) -> bytes:
    """The whole object, as the version ``obj`` describes."""
    return b"".join(_stream(obj, None))


def read_range(obj: S3Object, start: int, end: int) -> bytes:
    """Bytes ``start..end-1`` of the version ``obj`` describes (one ranged GET)."""
    if end <= start:
        return b""
    return b"".join(_stream(obj, f"bytes={start}-{end - 1}"))


def _stream(obj: S3Object, byte_range: str | None) -> Iterator[bytes]:
    args = {"Bucket": obj.bucket, "Key": obj.key, "IfMatch": f'"{obj.etag}"'}
    if byte_range:
        args["Range"] = byte_range
    with _calling(obj.uri, "read"):
        body = client().get_object(**args)["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()


def download(obj: S3Object, dest: str | os.PathLike, progress: bool | None = None) -> None:
    """Write the object to ``dest``, checking its size and (where the ETag is one) its MD5."""
    md5 = hashlib.md5(usedforsecurity=False)
    written = 0
    with open(dest, "wb") as out, _bar(obj, progress) as bar:
        for chunk in _stream(obj, None):
            out.write(chunk)
            md5.update(chunk)
            written += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    if written != obj.size:
        raise ObjectChanged(f"{obj.uri}: {written} bytes arrived, but S3 listed {obj.size}; the download was cut short "
                            "or the object changed: start again")
    if obj.md5 is not None and md5.hexdigest() != obj.md5:
        raise ObjectChanged(f"{obj.uri}: the bytes downloaded have MD5 {md5.hexdigest()}, not the ETag {obj.md5} "
                            "S3 gave: the object changed or was damaged in transit; start again")


def _bar(obj: S3Object, progress: bool | None):
    import sys

    enabled = (obj.size >= PROGRESS_FROM and sys.stderr.isatty()) if progress is None else progress
    if not enabled:
        return nullcontext()
    try:
        from tqdm import tqdm
    except ModuleNotFoundError:
        return nullcontext()
    return tqdm(total=obj.size, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                desc=f"download {obj.key.rsplit('/', 1)[-1]}")


class Upload:
    """One object written all-or-nothing: ``write`` bytes, then ``complete()``; ``abort()`` otherwise.

    As a context manager it completes on a clean exit and aborts on an exception. Parts are
    ``PART_SIZE`` bytes; an object that never fills one is a single ``PUT`` at completion.
    """

    def __init__(self, uri: str, content_type: str | None = None):
        self.uri = uri
        self.bucket, self.key = split(uri)
        if not self.key or self.key.endswith("/"):
            raise S3Error(f"{uri} names a prefix, not an object key to write")
        self.content_type = content_type
        self.upload_id: str | None = None
        self.parts: list[dict] = []
        self.buffer = bytearray()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.buffer += data
        self.size += len(data)
        while len(self.buffer) >= PART_SIZE:
            part, self.buffer = bytes(self.buffer[:PART_SIZE]), self.buffer[PART_SIZE:]
            self._part(part)

    def _extra(self) -> dict:
        return {"ContentType": self.content_type} if self.content_type else {}

    def _part(self, data: bytes) -> None:
        s3 = client()
        with _calling(self.uri, "write"):
            if self.upload_id is None:
                self.upload_id = s3.create_multipart_upload(Bucket=self.bucket, Key=self.key, **self._extra())["UploadId"]
            number = len(self.parts) + 1
            answer = s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=data)
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def complete(self) -> None:
        s3 = client()
        if self.upload_id is None:
            with _calling(self.uri, "write"):
                s3.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self.buffer), **self._extra())
            return
        if self.buffer:
            self._part(bytes(self.buffer))
            self.buffer = bytearray()
        with _calling(self.uri, "write"):
            s3.complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                         MultipartUpload={"Parts": self.parts})

    def abort(self) -> None:
        """Drop the parts uploaded so far; nothing appears under the key."""
        if self.upload_id is None:
            return
        try:
            client().abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
        except Exception as exc:  # noqa: BLE001 - the abort is best effort; S3's lifecycle rules clean up the rest
            log.warning("could not abort the multipart upload of %s (%s); its parts stay until a lifecycle rule "
                        "removes them", self.uri, exc)
        self.upload_id = None

    def __enter__(self) -> "Upload":
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None:
            self.complete()
        else:
            self.abort()
        return False


def write(uri: str, chunks: Iterable[bytes], content_type: str | None = None) -> None:
    """Write ``chunks`` as the object ``uri``, all or nothing."""
    with Upload(uri, content_type) as upload:
        for chunk in chunks:
            upload.write(chunk)


def delete(uri: str) -> None:
    bucket, key = split(uri)
    with _calling(uri, "delete"):
        client().delete_object(Bucket=bucket, Key=key)
