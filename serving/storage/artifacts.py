"""Model and code artifacts from S3, fetched into a local cache and reused while unchanged.

What SageMaker downloads before a container starts: a ``ModelDataUrl`` (``model.tar.gz``),
an uncompressed model (``ModelDataSource.S3DataSource`` with ``CompressionType: None``: one
object, or every object under an ``S3Prefix``), and a ``SAGEMAKER_SUBMIT_DIRECTORY``
(``sourcedir.tar.gz``). :func:`fetch` gives a local directory for each:

- The cache is ``<cache>/s3/<hash of the URI and its form>/``: ``content/`` (the extracted
  archive, or the objects by their key below the prefix) and ``object.json`` (what version
  of the object(s) it holds: size and ETag each). Before every use the object is looked at
  again (one ``HEAD``, or one listing for a prefix); an unchanged object is not downloaded
  again, a changed one replaces the cached copy.
- A download is checked (its size, and its MD5 where the ETag is one), an archive is
  extracted with the same safety checks as a local one (:mod:`serving.handlers.archive`:
  no absolute paths, no ``..``, no links out), and only a whole, checked copy is renamed
  into place, so a cache entry is never half written. Concurrent starts of the same artifact
  (two endpoints, an update) take a file lock on the entry and download it once.
- A missing object, a denied read, an empty prefix or an archive that is not one raises a
  :class:`~serving.errors.ConfigurationError` naming the URI and what S3 (or tar) said.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import ConfigurationError
from ..handlers.archive import extract, temporary_folder
from . import s3

log = logging.getLogger("serving.s3")

GZIP, NONE = "Gzip", "None"
OBJECT, PREFIX = "S3Object", "S3Prefix"


def fetch(uri: str, cache: str | os.PathLike | None, *, data_type: str = OBJECT, compression: str = GZIP,
          what: str = "ModelDataUrl") -> str:
    """A local directory holding the artifact at ``uri``; ``cache`` None means a temporary folder.

    ``data_type`` S3Object/S3Prefix and ``compression`` Gzip/None are CreateModel's
    ``S3DataSource`` fields; ``what`` names the field in messages.
    """
    versions = _versions(uri, data_type, what)
    if cache is None:
        dest = Path(temporary_folder())
        _download(versions, uri, data_type, compression, dest, what)
        return str(dest)
    entry = Path(cache) / "s3" / hashlib.sha256(f"{data_type}:{compression}:{uri}".encode()).hexdigest()[:24]
    entry.mkdir(parents=True, exist_ok=True)
    stamp = {"uri": uri, "data_type": data_type, "compression": compression,
             "objects": {o.key: o.stamp() for o in versions}}
    with open(entry / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one download per entry, whoever else starts the same model now
        content = entry / "content"
        try:
            cached = json.loads((entry / "object.json").read_text())
        except (OSError, ValueError):
            cached = None
        if cached == stamp and content.is_dir():
            log.info("%s %s is unchanged since it was cached in %s", what, uri, content)
            return str(content)
        fresh = Path(tempfile.mkdtemp(prefix="content-", dir=entry))
        os.chmod(fresh, 0o755)  # a container image's own user reads it (mkdtemp makes 0700)
        try:
            _download(versions, uri, data_type, compression, fresh, what)
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        (entry / "object.json").unlink(missing_ok=True)  # no record names a copy that is being replaced
        if content.exists():
            old = Path(tempfile.mkdtemp(prefix="old-", dir=entry))
            os.replace(content, old / "content")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(fresh, content)
        (entry / "object.json").write_text(json.dumps(stamp, indent=1, sort_keys=True))
    return str(content)


def _versions(uri: str, data_type: str, what: str) -> list[s3.S3Object]:
    """The object(s) the artifact is now: one ``HEAD``, or the listing of the prefix."""
    if data_type == OBJECT:
        return [s3.head(uri)]
    if data_type != PREFIX:
        raise ConfigurationError(f"{what} {uri}: S3DataType must be S3Object or S3Prefix, got {data_type!r}")
    if not uri.endswith("/"):
        raise ConfigurationError(f"{what} {uri}: an S3Prefix model location must end with '/' (as SageMaker requires)")
    found = s3.list_prefix(uri)
    if not found:
        raise ConfigurationError(f"{what} {uri}: no objects under this prefix; upload the model's files there, "
                                 "or point at the model.tar.gz")
    return found


def _download(versions: list[s3.S3Object], uri: str, data_type: str, compression: str, dest: Path, what: str) -> None:
    if compression not in (GZIP, NONE):
        raise ConfigurationError(f"{what} {uri}: CompressionType must be Gzip or None, got {compression!r}")
    if compression == GZIP:
        if data_type != OBJECT:
            raise ConfigurationError(f"{what} {uri}: a Gzip model is one object (S3Object), not a prefix")
        archive = dest.with_name(dest.name + ".tar.gz")  # beside, not inside, what it extracts to
        log.info("downloading %s %s (%d bytes)", what, uri, versions[0].size)
        s3.download(versions[0], archive)
        try:
            extract(archive, dest)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{what} {uri} is not a model archive SageMaker could read: "
                                     f"{str(exc).replace(str(archive), 'it')} (ModelDataUrl and "
                                     "SAGEMAKER_SUBMIT_DIRECTORY are gzip-compressed tar files, .tar.gz)") from None
        finally:
            archive.unlink(missing_ok=True)
        return
    prefix = s3.split(uri)[1] if data_type == PREFIX else versions[0].key.rsplit("/", 1)[0] + "/"
    for obj in versions:
        relative = obj.key[len(prefix):] if obj.key.startswith(prefix) else obj.key.rsplit("/", 1)[-1]
        target = dest / relative
        if ".." in Path(relative).parts or Path(relative).is_absolute():
            raise ConfigurationError(f"{what} {uri}: the key {obj.key} would be written outside the model directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        log.info("downloading %s (%d bytes)", obj.uri, obj.size)
        s3.download(obj, target)
