"""Unpacking an sdist safely, so that it can be built.

Archives are untrusted input: no member may land outside the destination
directory. Tar archives go through the standard library's ``"data"``
extraction filter where this Python has it (3.12+, and
3.9.17+/3.10.12+/3.11.4+); elsewhere, and for zip sdists, members are checked
here and written one by one, and anything but a regular file or a directory
(links, devices) is refused. A damaged archive, or one that holds no project,
is bad input (:class:`~wheelcache.InvalidSourceError`); a full disk is not.
"""

from __future__ import annotations

import errno
import functools
import gzip
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING

from .._errors import CacheError, InvalidSourceError, cache_error

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["extract_sdist"]

_PROJECT_FILES = ("pyproject.toml", "setup.py")
# What reading a damaged or truncated compressed archive raises.
_DAMAGED_ARCHIVE = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


def extract_sdist(archive: Path, destination: Path) -> Path:
    """Unpack the sdist *archive* into the empty directory *destination*.

    Returns the project directory: the archive's single top-level directory
    (``name-version/``), or *destination* itself for an archive without one.
    Raises :class:`~wheelcache.InvalidSourceError` when the archive is damaged,
    tries to write outside *destination*, holds links or special files (where
    the extraction filter is not available), or holds no ``pyproject.toml`` or
    ``setup.py`` at the top of the project.
    """
    if archive.name.lower().endswith(".zip"):
        _extract_zip(archive, destination)
    else:
        _extract_tar(archive, destination)
    try:
        top = list(destination.iterdir())
    except OSError as exc:
        raise cache_error(destination, "list", exc) from exc
    project = top[0] if len(top) == 1 and top[0].is_dir() else destination
    if not any((project / name).is_file() for name in _PROJECT_FILES):
        raise InvalidSourceError(
            archive, "not an sdist: no pyproject.toml or setup.py at the top of the project"
        )
    return project


def _extract_tar(archive: Path, destination: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(destination, filter="data")
                return
            for member in tar:
                opener = functools.partial(tar.extractfile, member)
                _unpack(archive, destination, member.name, _tar_kind(member), member.mode, opener)
    except InvalidSourceError:
        raise
    except _DAMAGED_ARCHIVE as exc:
        raise InvalidSourceError(archive, f"cannot unpack the sdist: {exc}") from None
    except OSError as exc:
        raise _unpack_error(archive, destination, exc) from exc


def _extract_zip(archive: Path, destination: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                mode = info.external_attr >> 16
                opener = functools.partial(bundle.open, info)
                _unpack(archive, destination, info.filename, _zip_kind(info), mode, opener)
    except InvalidSourceError:
        raise
    except (zipfile.BadZipFile, NotImplementedError, ValueError, *_DAMAGED_ARCHIVE) as exc:
        raise InvalidSourceError(archive, f"cannot unpack the sdist: {exc}") from None
    except OSError as exc:
        raise _unpack_error(archive, destination, exc) from exc


def _unpack_error(archive: Path, destination: Path, exc: OSError) -> CacheError:
    """Members that collide are the archive's fault; a full disk is not."""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
        return InvalidSourceError(archive, f"cannot unpack the sdist: conflicting members ({exc})")
    return cache_error(destination, "unpack the sdist into", exc)


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.isdir():
        return "dir"
    if member.isfile():
        return "file"
    return "link" if member.issym() or member.islnk() else "special file"


def _zip_kind(info: zipfile.ZipInfo) -> str:
    if info.is_dir():
        return "dir"
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type in (0, stat.S_IFREG):  # 0: written by a tool that records no Unix mode
        return "file"
    return "link" if file_type == stat.S_IFLNK else "special file"


def _unpack(
    archive: Path,
    destination: Path,
    name: str,
    kind: str,
    mode: int,
    open_member: Callable[[], IO[bytes] | None],
) -> None:
    """Write one member: a directory, or a regular file with tame permissions."""
    target = _contained(archive, destination, name)
    if kind == "dir":
        target.mkdir(parents=True, exist_ok=True)
        return
    if kind != "file":
        raise InvalidSourceError(archive, f"the sdist holds a {kind}, refused: {name!r}")
    if target == destination:
        raise InvalidSourceError(archive, f"the sdist holds a file without a name: {name!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    stream = open_member()
    if stream is None:  # pragma: no cover - a regular member always has data
        raise InvalidSourceError(archive, f"cannot read member {name!r}")
    with stream, open(target, "wb") as output:
        shutil.copyfileobj(stream, output)
    # The owner may read and write; an executable bit survives; nothing else does.
    os.chmod(target, 0o755 if mode & 0o111 else 0o644)


def _contained(archive: Path, destination: Path, name: str) -> Path:
    """The path member *name* unpacks to; refuses any name that could escape."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if (
        "\0" in name
        or name.startswith(("/", "\\"))
        or (parts and len(parts[0]) >= 2 and parts[0][1] == ":")
        or ".." in parts
    ):
        raise InvalidSourceError(archive, f"the sdist holds an unsafe path, refused: {name!r}")
    target = destination.joinpath(*parts)
    root = os.path.realpath(destination)
    if os.path.commonpath([root, os.path.realpath(target)]) != root:
        raise InvalidSourceError(archive, f"the sdist holds an unsafe path, refused: {name!r}")
    return target
