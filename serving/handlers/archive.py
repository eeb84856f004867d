"""Model and code archives: ``model.tar.gz`` / ``sourcedir.tar.gz`` extracted safely.

An entry with an absolute path, a ``..`` component, or a link pointing outside the
destination is refused with an error naming it, before anything is written: a model
archive from an untrusted place must not be able to write over the container's files.

An archive extracted to a temporary folder is removed when the process that extracted it
exits (the gunicorn master, or a batch job): a container that restarts often does not fill
the disk. Forked workers inherit the exit hook but remove nothing: the folder is the
master's.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tarfile
import tempfile
import threading
from pathlib import Path, PurePosixPath

from ..errors import ConfigurationError

log = logging.getLogger("serving")

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_extracted: list[tuple[int, str]] = []  # (pid of the extracting process, temporary folder)
_lock = threading.Lock()


def remove_extracted() -> None:
    """Remove the temporary folders this process extracted archives to."""
    with _lock:
        mine = [path for pid, path in _extracted if pid == os.getpid()]
        _extracted[:] = [(pid, path) for pid, path in _extracted if pid != os.getpid()]
    for path in mine:
        shutil.rmtree(path, ignore_errors=True)


def temporary_folder() -> str:
    """A new folder, removed when this process exits."""
    path = tempfile.mkdtemp(prefix="serving-")
    with _lock:
        if not _extracted:
            atexit.register(remove_extracted)
        _extracted.append((os.getpid(), path))
    return path


def is_archive(path: str | os.PathLike) -> bool:
    return str(path).endswith(ARCHIVE_SUFFIXES) and Path(path).is_file()


def check_members(tar: tarfile.TarFile, archive: str) -> None:
    for member in tar.getmembers():
        name = PurePosixPath(member.name)
        if name.is_absolute() or member.name.startswith("/"):
            raise ConfigurationError(f"{archive}: entry '{member.name}' has an absolute path; refusing to extract")
        if ".." in name.parts:
            raise ConfigurationError(f"{archive}: entry '{member.name}' climbs out with '..'; refusing to extract")
        if member.issym() or member.islnk():
            target = PurePosixPath(member.linkname)
            resolved = target if member.islnk() else name.parent / target
            if target.is_absolute() or ".." in _normalise(resolved):
                raise ConfigurationError(
                    f"{archive}: link '{member.name}' points outside the archive ('{member.linkname}'); refusing to extract"
                )
        if member.isdev():
            raise ConfigurationError(f"{archive}: entry '{member.name}' is a device file; refusing to extract")


def _normalise(path: PurePosixPath) -> tuple[str, ...]:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if not parts:
                return ("..",)
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return tuple(parts)


def extract(archive: str | os.PathLike, dest: str | os.PathLike | None = None) -> str:
    """Extract ``archive`` into ``dest`` (a new temporary directory by default)."""
    archive = str(archive)
    dest = str(dest) if dest else temporary_folder()
    log.info("extracting %s to %s", archive, dest)
    try:
        with tarfile.open(archive) as tar:
            check_members(tar, archive)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:  # pragma: no cover - Python < 3.10.12
                tar.extractall(dest)
    except tarfile.TarError as exc:
        raise ConfigurationError(f"{archive} is not a readable tar archive: {exc}") from None
    return dest


def resolve_model_dir(path: str) -> str:
    """The directory to load the model from.

    ``path`` may be a directory, a ``model.tar.gz`` file, or a directory holding only a
    ``model.tar.gz`` (what SageMaker's ``ModelDataUrl`` points at). Archives are extracted
    to a fresh directory, so a read-only model mount works.
    """
    p = Path(path)
    if is_archive(p):
        return extract(p)
    if not p.is_dir():
        raise ConfigurationError(f"model directory {path} does not exist")
    archive = p / "model.tar.gz"
    if archive.is_file():
        dest = extract(archive)
        for entry in p.iterdir():  # keep code/ and other files that sit beside the archive
            if entry.name != "model.tar.gz" and not (Path(dest) / entry.name).exists():
                os.symlink(entry.resolve(), Path(dest) / entry.name)
        return dest
    return str(p)
