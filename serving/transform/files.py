"""Where a job reads and writes: local files or S3 objects, output names, all-or-nothing
writes and the resume manifest.

- Input, ``S3DataType`` ``S3Prefix`` (the default): a file, a directory (every file under it,
  sorted) or a glob; or ``s3://bucket/prefix``: every object whose key starts with the prefix,
  in key order. ``ManifestFile``: the input names a manifest (a local file or an object), a
  JSON array ``[{"prefix": "s3://bucket/prefix/"}, "relative/key-1", ...]``, and the inputs
  are the prefix joined with each entry.
- Names: each input keeps a name relative to its root (the directory, the glob's folder, or
  the S3 prefix's folder: the prefix up to its last ``/``), and its output is
  ``<output>/<relative name>.out``, as SageMaker names ``data.csv`` → ``data.csv.out``.
  ``s3://b/data/part`` matching ``data/part-1.csv`` gives ``part-1.csv.out``: an output is
  always its input's whole name plus ``.out``.
- Output, a local folder: an output is written to a temporary name beside its final name and
  renamed when the whole file has succeeded. ``s3://bucket/prefix``: an output is a multipart
  upload completed only when the whole file has succeeded (aborted otherwise). Either way an
  ``.out`` is never partial, even if the job is killed.
- The manifest (``.transform-manifest.json`` in the output location) records, per output,
  the input's stamp (size, mtime and SHA-256 of a file; size and ETag of an object) and a
  fingerprint of the job's options. A rerun skips an input whose output exists and whose
  input is unchanged under the same options; a changed mtime alone (a copy, a ``touch``)
  falls back to comparing the hash.

``LocalFile``/``S3File`` (inputs) and ``LocalOutput``/``S3Output`` (outputs) are the only
places that know which kind of location they are; the job talks to them through the same
few methods.
"""

from __future__ import annotations

import glob as globlib
import gzip
import hashlib
import itertools
import json
import os
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import BadRequest, ConfigurationError, ServingError
from ..storage import s3

MANIFEST = ".transform-manifest.json"
REPORT = "transform-report.json"
BOOKKEEPING = (MANIFEST, REPORT)  # what a job writes beside its outputs; never read as input
TEMP_PREFIX = ".transform-tmp-"
S3_PREFIX, MANIFEST_FILE = "S3Prefix", "ManifestFile"
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class Unreadable(ServingError):
    """An input that could not be read (gone, changed since it was listed, refused): its file fails."""

    code = "InputUnreadable"


# -- locations --------------------------------------------------------------------------------

def checked(location: str, what: str, verb: str = "read") -> str:
    """``location`` as a local path or an ``s3://`` URI (``file://`` dropped); other schemes are refused."""
    location = str(location)
    if s3.is_s3(location):
        return location
    if location.startswith("file://"):
        return location[len("file://"):]
    if "://" in location:
        raise ConfigurationError(f"{what} {location}: the scheme is not one batch transform can {verb}; "
                                 "give an s3:// URI, a file:// URL or a local path")
    return location


def save(location: str, data: bytes) -> None:
    """One small document written whole, as a file or an object (the manifest, the report)."""
    location = checked(location, "report", "write")
    if s3.is_s3(location):
        s3.write(location, [data], "application/json")
    else:
        write_atomic(Path(location), [data])


# -- inputs -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LocalFile:
    path: Path
    relative: str  # POSIX-style, relative to the input root

    @property
    def name(self) -> str:
        return str(self.path)

    def read(self) -> tuple[bytes, dict]:
        """The bytes and their stamp; the hash is of the bytes read here, so the file is read once."""
        try:
            stat = self.path.stat()
            raw = self.path.read_bytes()
        except OSError as exc:
            raise Unreadable(f"cannot read {self.path}: {exc.strerror or exc}") from None
        return raw, {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": hashlib.sha256(raw).hexdigest()}

    def unchanged(self, entry: dict) -> bool:
        try:
            stat = self.path.stat()
            if stat.st_size != entry.get("size"):
                return False
            return stat.st_mtime_ns == entry.get("mtime_ns") or file_digest(self.path) == entry.get("sha256")
        except OSError:
            return False

    def range(self, start: int, end: int, size: int) -> "FileRange":
        return FileRange(str(self.path.resolve()), start, end, size)


@dataclass(frozen=True)
class S3File:
    obj: s3.S3Object  # the version listed: every read is pinned to its ETag
    relative: str

    @property
    def name(self) -> str:
        return self.obj.uri

    def read(self) -> tuple[bytes, dict]:
        try:
            return s3.read(self.obj), self.obj.stamp()
        except s3.S3Error as exc:
            raise Unreadable(str(exc)) from None

    def unchanged(self, entry: dict) -> bool:
        return entry.get("size") == self.obj.size and entry.get("etag") == self.obj.etag

    def range(self, start: int, end: int, size: int) -> "S3Range":
        return S3Range(self.obj, start, end)


InputFile = LocalFile | S3File


@dataclass(frozen=True)
class FileRange:
    """Bytes ``start..end-1`` of a local input as the driver split it (``size`` bytes long then)."""

    path: str
    start: int
    end: int
    size: int

    def read(self) -> bytes:
        try:
            with open(self.path, "rb") as f:
                if os.fstat(f.fileno()).st_size != self.size:
                    raise Unreadable(f"{self.path} changed while the job ran ({self.size} bytes when it was split); "
                                     "rerun the job")
                return os.pread(f.fileno(), self.end - self.start, self.start)
        except OSError as exc:
            raise Unreadable(f"the executor cannot read {self.path} ({exc}); the spark engine reads uncompressed "
                             "input on the executors, so the input must be at the same path on every executor") from None


@dataclass(frozen=True)
class S3Range:
    """Bytes ``start..end-1`` of the object version the driver split (a ranged GET with ``If-Match``)."""

    obj: s3.S3Object
    start: int
    end: int

    def read(self) -> bytes:
        try:
            return s3.read_range(self.obj, self.start, self.end)
        except s3.S3Error as exc:
            raise Unreadable(str(exc)) from None


def discover(location: str, output: "Output", data_type: str = S3_PREFIX) -> list[InputFile]:
    """The inputs ``location`` names; nothing under the output location, and no job's manifest or
    report, is ever read as input."""
    location = checked(location, "input")
    if data_type == MANIFEST_FILE:
        found = _from_manifest(location)
    elif s3.is_s3(location):
        found = _under_prefix(location)
    else:
        found = _local(location)
    kept = [item for item in found if not output.contains(item) and PurePosixPath(item.relative).name not in BOOKKEEPING]
    if not kept:
        if found:
            raise ConfigurationError(f"input {location}: every input is a job's manifest or report, or lies under the "
                                     f"output location {output.location}, which is never read as input; give an "
                                     "--output outside the input")
        if s3.is_s3(location):
            raise ConfigurationError(f"no objects under {location}: S3Prefix reads every object whose key starts with "
                                     f"{s3.split(location)[1]!r}; check the bucket and the prefix, or upload the input there")
        raise ConfigurationError(f"no input files under {location}")
    for item in kept:
        output.check_name(item)
    return kept


def _local(pattern: str) -> list[LocalFile]:
    path = Path(pattern)
    if path.is_file():
        return [LocalFile(path, path.name)]
    if path.is_dir():
        root, candidates = path, (p for p in path.rglob("*") if p.is_file())
    elif globlib.has_magic(pattern):
        root = _glob_root(pattern)
        candidates = (Path(p) for p in globlib.glob(pattern, recursive=True) if Path(p).is_file())
    else:
        raise ConfigurationError(f"input {pattern} does not exist: give a file, a directory, a glob such as "
                                 "'data/*.csv' or an s3://bucket/prefix")
    return [LocalFile(p, p.relative_to(root).as_posix()) for p in sorted(candidates)]


def _glob_root(pattern: str) -> Path:
    """The folder before the first wildcard: outputs keep the path below it."""
    fixed = list(itertools.takewhile(lambda part: not globlib.has_magic(part), Path(pattern).parts))
    return Path(*fixed) if fixed else Path(".")


def _relative(key: str, prefix: str) -> str:
    """``key``'s name below the folder of ``prefix`` (the prefix up to its last ``/``)."""
    folder = prefix[: prefix.rfind("/") + 1]
    return key[len(folder):] if key.startswith(folder) else key


def _under_prefix(uri: str) -> list[S3File]:
    """S3Prefix: every object whose key starts with the prefix, in key order."""
    _, prefix = s3.split(uri)
    return [S3File(obj, _relative(obj.key, prefix)) for obj in s3.list_prefix(uri)]


def _from_manifest(location: str) -> list[InputFile]:
    """ManifestFile: ``[{"prefix": P}, "rel-1", "rel-2", ...]`` names P + rel-1, P + rel-2, ..."""
    shape = '[{"prefix": "s3://bucket/prefix/"}, "relative/key-1", "relative/key-2", ...]'
    if s3.is_s3(location):
        text = s3.read(s3.head(location))
    else:
        try:
            text = Path(location).read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"manifest {location} cannot be read: {exc.strerror or exc}; with S3DataType "
                                     "ManifestFile, --input names the manifest") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"manifest {location} is not JSON ({exc}); a manifest is a JSON array: {shape}") from None
    if not (isinstance(doc, list) and doc and isinstance(doc[0], dict) and isinstance(doc[0].get("prefix"), str)):
        raise ConfigurationError(f"manifest {location} must be a JSON array whose first element is "
                                 f'{{"prefix": ...}}, as in {shape}')
    prefix, entries = doc[0]["prefix"], doc[1:]
    bad = [e for e in entries if not isinstance(e, str) or not e]
    if bad:
        raise ConfigurationError(f"manifest {location}: {json.dumps(bad[0])} is not a key; after the prefix, every "
                                 f"element is a key relative to it, as in {shape}")
    if not entries:
        raise ConfigurationError(f"manifest {location} lists no objects after its prefix; a manifest is {shape}")
    prefix = checked(prefix, f"manifest {location}: the prefix")
    names = list(dict.fromkeys(prefix + e for e in entries))
    if s3.is_s3(prefix):
        _, key = s3.split(prefix)
        with ThreadPoolExecutor(max_workers=16) as pool:  # one HEAD per object, as S3 allows many at once
            objects = list(pool.map(s3.head, names))
        return [S3File(obj, _relative(obj.key, key)) for obj in objects]
    missing = [n for n in names if not Path(n).is_file()]
    if missing:
        raise ConfigurationError(f"manifest {location} lists {missing[0]}, which is not a file")
    return [LocalFile(Path(n), _relative(n, prefix)) for n in names]


def read_input(item: InputFile, compression: str) -> tuple[bytes, dict]:
    """The input's bytes (decompressed for Gzip) and its manifest stamp.

    The stamp is of the version read here (the bytes hashed, or the ETag the read was pinned
    to), so an output is recorded against the content it was made from.
    """
    raw, stamp = item.read()
    if compression != "Gzip":
        return raw, stamp
    try:
        return gzip.decompress(raw), stamp
    except (OSError, EOFError, zlib.error) as exc:
        raise BadRequest(f"{item.name} cannot be decompressed ({exc}); CompressionType Gzip needs gzip files") from None


# -- outputs ----------------------------------------------------------------------------------

class LocalOutput:
    """A folder: ``<folder>/<relative>.out`` per input, written through a temporary file."""

    def __init__(self, folder: str):
        self.location = folder
        self.folder = Path(folder)

    def path(self, name: str) -> Path:
        return self.folder / name

    def name(self, relative: str) -> str:
        return str(self.path(relative + ".out"))

    def location_of(self, name: str) -> str:
        return str(self.path(name))

    def contains(self, item: InputFile) -> bool:
        return isinstance(item, LocalFile) and self.folder.resolve() in item.path.resolve().parents

    def check_name(self, item: InputFile) -> None:
        """An S3 key may hold what a path cannot: an empty, ``.`` or ``..`` part would land elsewhere."""
        if any(part in ("", ".", "..") for part in item.relative.split("/")):
            raise ConfigurationError(f"{item.name}: its name below the input prefix, {item.relative!r}, has an empty, "
                                     f"'.' or '..' part and cannot be written under the folder {self.folder}; "
                                     "write to an s3:// output, which keeps any key")

    def check_writable(self) -> None:
        """Make the folder and write a file in it now, before any record is scored."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(prefix=TEMP_PREFIX, dir=self.folder):
                pass
        except OSError as exc:
            raise ConfigurationError(f"cannot write to the output location {self.folder}: {exc.strerror or exc}; "
                                     "give an --output folder this user can write") from None

    def exists(self, relative: str) -> bool:
        return self.path(relative + ".out").is_file()

    def write(self, relative: str, chunks, content_type: str | None = None) -> None:
        path = self.path(relative + ".out")
        try:
            write_atomic(path, chunks)
        except OSError as exc:
            raise ConfigurationError(f"cannot write {path}: {exc.strerror or exc}") from None

    def remove(self, relative: str) -> None:
        self.path(relative + ".out").unlink(missing_ok=True)

    def remove_stale_temps(self) -> None:
        """Temporary files left by a killed job (they are never outputs)."""
        if self.folder.is_dir():
            for temp in self.folder.rglob(TEMP_PREFIX + "*"):
                temp.unlink(missing_ok=True)

    def load(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except OSError:
            return None


class S3Output:
    """``s3://bucket/prefix``: the object ``<prefix>/<relative>.out`` per input, all or nothing.

    The prefix is a folder, as SageMaker's ``S3OutputPath`` is (``s3://b/out`` writes
    ``out/x.csv.out``). An output is a multipart upload completed only once its whole input has
    succeeded, so there are no temporary objects to clean up; the parts of an upload a killed
    job never finished are no object, and a lifecycle rule (AbortIncompleteMultipartUpload)
    removes them.
    """

    def __init__(self, uri: str):
        self.location = uri
        self.bucket, key = s3.split(uri)
        self.folder = key if not key or key.endswith("/") else key + "/"
        self._keys: set[str] | None = None  # what the output prefix held when first asked, kept current

    def location_of(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.folder}{name}"

    def name(self, relative: str) -> str:
        return self.location_of(relative + ".out")

    def contains(self, item: InputFile) -> bool:
        return isinstance(item, S3File) and item.obj.bucket == self.bucket and item.obj.key.startswith(self.folder)

    def check_name(self, item: InputFile) -> None:
        """Any name is a key."""

    def check_writable(self) -> None:
        """Write the manifest back as it is (an empty one if there is none): the bucket exists and the
        credentials may write under the prefix, before any record is scored."""
        current = self.load(MANIFEST)
        save(self.location_of(MANIFEST), current if current is not None else _manifest_body({}))

    def _existing(self) -> set[str]:
        if self._keys is None:
            self._keys = {obj.key for obj in s3.list_prefix(f"s3://{self.bucket}/{self.folder}")}
        return self._keys

    def exists(self, relative: str) -> bool:
        return f"{self.folder}{relative}.out" in self._existing()

    def write(self, relative: str, chunks, content_type: str | None = None) -> None:
        s3.write(self.name(relative), chunks, content_type or None)
        self._existing().add(f"{self.folder}{relative}.out")

    def remove(self, relative: str) -> None:
        if self.exists(relative):
            s3.delete(self.name(relative))
            self._existing().discard(f"{self.folder}{relative}.out")

    def remove_stale_temps(self) -> None:
        """Nothing to remove: an upload that was never completed is no object."""

    def load(self, name: str) -> bytes | None:
        try:
            return s3.read(s3.head(self.location_of(name)))
        except s3.S3Error as exc:
            if exc.code == "NoSuchKey":
                return None
            raise


Output = LocalOutput | S3Output


def output_for(location: str) -> Output:
    location = checked(location, "output", "write")
    return S3Output(location) if s3.is_s3(location) else LocalOutput(location)


def write_atomic(path: Path, chunks) -> None:
    """Write ``chunks`` to ``path`` through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.chmod(temp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual mode
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- resuming ---------------------------------------------------------------------------------

def _manifest_body(entries: dict) -> bytes:
    return json.dumps({"version": 1, "files": entries}, indent=1, sort_keys=True).encode()


class Manifest:
    """What earlier runs wrote, for resuming; saved whole after every output, beside the outputs."""

    def __init__(self, output: Output, fingerprint: str):
        self.output = output
        self.fingerprint = fingerprint
        try:
            self.entries: dict = json.loads(output.load(MANIFEST) or b"{}").get("files", {})
        except (ValueError, AttributeError):
            self.entries = {}

    def is_done(self, item: InputFile) -> bool:
        entry = self.entries.get(item.relative)
        if (not entry or entry.get("status", "Completed") != "Completed" or entry.get("job") != self.fingerprint
                or not self.output.exists(item.relative)):
            return False
        return item.unchanged(entry)

    def record(self, item: InputFile, stamp: dict, records: int) -> None:
        """``stamp`` is what :func:`read_input` returned for the input."""
        self.entries[item.relative] = {**stamp, "job": self.fingerprint, "records": records, "status": "Completed"}
        self.save()

    def record_failure(self, item: InputFile, entry: dict) -> None:
        """The input failed in this run: it has no output, and a rerun does it again."""
        self.entries[item.relative] = {"job": self.fingerprint, "status": "Failed", "message": entry["message"]}
        self.save()

    def save(self) -> None:
        save(self.output.location_of(MANIFEST), _manifest_body(self.entries))

    def forget(self, item: InputFile) -> None:
        self.entries.pop(item.relative, None)


def fingerprint(options: dict, model: str) -> str:
    """The job's identity: options and model; an output made under others is not reused."""
    text = json.dumps({"options": options, "model": model}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
