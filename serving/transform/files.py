"""Input files, output names, atomic writes and the resume manifest.

- Input: a file, a directory (every file under it, sorted) or a glob. Each input keeps a
  path relative to its root (the directory, or the glob's folder), and its output is
  ``<output dir>/<relative path>.out``, as SageMaker names ``data.csv`` → ``data.csv.out``.
- An output is written to a temporary name beside its final name and renamed when the whole
  file has succeeded, so an ``.out`` is never partial, even if the job is killed.
- The manifest (``.transform-manifest.json`` in the output directory) records, per output,
  the input's size, mtime and SHA-256 and a fingerprint of the job's options. A rerun skips
  an input whose output exists and whose input is unchanged under the same options; a
  changed mtime alone (a copy, a ``touch``) falls back to comparing the hash.
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
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadRequest, ConfigurationError

MANIFEST = ".transform-manifest.json"
TEMP_PREFIX = ".transform-tmp-"
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@dataclass(frozen=True)
class InputFile:
    path: Path
    relative: str  # POSIX-style, relative to the input root

    def output_path(self, output_dir: Path) -> Path:
        return output_dir / (self.relative + ".out")


def discover(pattern: str, output_dir: Path) -> list[InputFile]:
    """The input files named by ``pattern``; the output directory is never read as input."""
    path = Path(pattern)
    output_dir = output_dir.resolve()
    if path.is_file():
        return [InputFile(path, path.name)]
    if path.is_dir():
        root, candidates = path, (p for p in path.rglob("*") if p.is_file())
    elif globlib.has_magic(pattern):
        root = _glob_root(pattern)
        candidates = (Path(p) for p in globlib.glob(pattern, recursive=True) if Path(p).is_file())
    else:
        raise ConfigurationError(f"input {pattern} does not exist: give a file, a directory or a glob such as 'data/*.csv'")
    found = [InputFile(p, p.relative_to(root).as_posix()) for p in sorted(candidates)
             if output_dir not in p.resolve().parents]
    if not found:
        raise ConfigurationError(f"no input files under {pattern}")
    return found


def _glob_root(pattern: str) -> Path:
    """The folder before the first wildcard: outputs keep the path below it."""
    fixed = list(itertools.takewhile(lambda part: not globlib.has_magic(part), Path(pattern).parts))
    return Path(*fixed) if fixed else Path(".")


def read_input(path: Path, compression: str) -> tuple[bytes, dict]:
    """The file's bytes (decompressed for Gzip) and its manifest stamp: size, mtime, SHA-256.

    The hash is of the bytes read here, so the file is read once, and an output is recorded
    against the content it was made from even if the file changes while the job runs.
    """
    stat = path.stat()
    raw = path.read_bytes()
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": hashlib.sha256(raw).hexdigest()}
    if compression != "Gzip":
        return raw, stamp
    try:
        return gzip.decompress(raw), stamp
    except (OSError, EOFError, zlib.error) as exc:
        raise BadRequest(f"{path} cannot be decompressed ({exc}); CompressionType Gzip needs gzip files") from None


def check_writable(output_dir: Path) -> None:
    """Make ``output_dir`` and write a file in it now, before any record is scored."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(prefix=TEMP_PREFIX, dir=output_dir):
            pass
    except OSError as exc:
        raise ConfigurationError(f"cannot write to the output location {output_dir}: {exc.strerror or exc}; "
                                 "give an --output folder this user can write") from None


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


def remove_stale_temps(output_dir: Path) -> int:
    """Temporary files left by a killed job (they are never outputs)."""
    removed = 0
    if output_dir.is_dir():
        for temp in output_dir.rglob(TEMP_PREFIX + "*"):
            temp.unlink(missing_ok=True)
            removed += 1
    return removed


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Manifest:
    """What earlier runs wrote, for resuming; saved atomically after every output."""

    def __init__(self, output_dir: Path, fingerprint: str):
        self.path = output_dir / MANIFEST
        self.fingerprint = fingerprint
        try:
            self.entries: dict = json.loads(self.path.read_text()).get("files", {})
        except (OSError, ValueError):
            self.entries = {}

    def is_done(self, item: InputFile, output_dir: Path) -> bool:
        entry = self.entries.get(item.relative)
        if (not entry or entry.get("status", "Completed") != "Completed" or entry.get("job") != self.fingerprint
                or not item.output_path(output_dir).is_file()):
            return False
        stat = item.path.stat()
        if stat.st_size != entry["size"]:
            return False
        if stat.st_mtime_ns == entry["mtime_ns"]:
            return True
        return file_digest(item.path) == entry["sha256"]

    def record(self, item: InputFile, stamp: dict, records: int) -> None:
        """``stamp`` is what :func:`read_input` returned for the file."""
        self.entries[item.relative] = {**stamp, "job": self.fingerprint, "records": records, "status": "Completed"}
        self.save()

    def record_failure(self, item: InputFile, entry: dict) -> None:
        """The file failed in this run: it has no output, and a rerun does it again."""
        self.entries[item.relative] = {"job": self.fingerprint, "status": "Failed", "message": entry["message"]}
        self.save()

    def save(self) -> None:
        body = json.dumps({"version": 1, "files": self.entries}, indent=1, sort_keys=True).encode()
        write_atomic(self.path, [body])

    def forget(self, item: InputFile) -> None:
        self.entries.pop(item.relative, None)


def fingerprint(options: dict, model: str) -> str:
    """The job's identity: options and model; an output made under others is not reused."""
    text = json.dumps({"options": options, "model": model}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
