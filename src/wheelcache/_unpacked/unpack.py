"""Unpack a wheel into a directory, checking every path and hash, and describe it in a manifest.

:func:`unpack_wheel` writes each member below ``files/`` exactly as the archive
holds it (the tree's files are the wheel's files, no more, no fewer), hashing
the bytes as it writes them. It refuses, in one :class:`InvalidWheelError`,
members whose path could land outside the tree, files whose bytes disagree with
the hash RECORD gives them, and ``.data`` directories no installer knows. Files
are made read-only (``0o444``, ``0o555`` when the archive marks them
executable), and so are the directories below ``files/``: a tree is never
changed once written.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from typing import TYPE_CHECKING

from .._errors import InvalidWheelError, cache_error
from .._fs.fsutil import CHUNK_SIZE
from .._wheels.wheelfile import ZIP_ERRORS, unsafe_path_reason
from .manifest import Manifest, TreeFile, record_hash

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["SCHEMES", "unpack_wheel"]

SCHEMES = frozenset({"purelib", "platlib", "headers", "scripts", "data"})
"""The install schemes a wheel's ``.data`` directory may name."""

_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_READ_ONLY_DIR = stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH
_READ_ONLY_DIR |= stat.S_IXOTH


def unpack_wheel(wheel: Path, sha256: str, destination: Path) -> Manifest:
    """Unpack *wheel* into ``destination/files`` and return its manifest (see the module doc).

    *destination* must exist and be empty; *sha256* is the wheel's digest,
    recorded in the manifest. Raises :class:`InvalidWheelError` naming *wheel*.
    """
    from installer.records import parse_record_file
    from installer.utils import parse_entrypoints, parse_metadata_file

    files_dir = os.path.join(destination, "files")
    os.mkdir(files_dir)
    problems: list[str] = []
    written: dict[str, tuple[str, int, bool]] = {}
    directories = {files_dir}
    try:
        archive = zipfile.ZipFile(wheel)
    except FileNotFoundError as exc:
        raise cache_error(wheel, "unpack", exc) from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise InvalidWheelError(wheel, f"cannot be opened ({exc})") from None
    with archive:
        members = sorted(archive.infolist(), key=lambda m: m.header_offset)
        for member in members:
            name = member.filename
            reason = unsafe_path_reason(name) or _outside(files_dir, name)
            if reason:
                problems.append(f"member {name!r} has an unsafe path ({reason})")
                continue
            target = os.path.join(files_dir, *name.split("/"))
            if name.endswith("/"):
                _make_dirs(target.rstrip(os.sep), directories)
                continue
            _make_dirs(os.path.dirname(target), directories)
            executable = bool((member.external_attr >> 16) & 0o111)
            try:
                digest, size = _extract(archive, member, target, executable)
            except ZIP_ERRORS as exc:  # a pulled wheel's members were not inflated (§14.2)
                problems.append(f"member {name!r} cannot be unpacked ({exc})")
                continue
            written[name] = (record_hash(digest), size, executable)
    dist_info = _dist_info(written)
    if dist_info is None:
        problems.append("there is not exactly one top-level .dist-info directory")
    if problems or dist_info is None:
        raise InvalidWheelError(wheel, "; ".join(problems[:10]))

    def text(name: str) -> str:
        with open(os.path.join(files_dir, dist_info, name), encoding="utf-8") as handle:
            return handle.read()

    metadata = parse_metadata_file(text("METADATA"))
    root_is_purelib = parse_metadata_file(text("WHEEL")).get("Root-Is-Purelib", "true")
    purelib = root_is_purelib.strip().lower() == "true"
    record_name = f"{dist_info}/RECORD"
    if record_name in written:
        rows = text("RECORD").splitlines()
        for path, hash_, _size in parse_record_file(rows):
            found = written.get(path)
            if hash_ and found is not None and found[0] != hash_ and hash_.startswith("sha256="):
                problems.append(f"member {path!r} does not match its hash in RECORD")
    entry_points: tuple[tuple[str, str, str, str], ...] = ()
    if f"{dist_info}/entry_points.txt" in written:
        entry_points = tuple(parse_entrypoints(text("entry_points.txt")))
    data_dir = dist_info[: -len(".dist-info")] + ".data/"
    files = []
    for name, (hash_, size, executable) in written.items():
        scheme, relative = ("purelib" if purelib else "platlib"), name
        if name.startswith(data_dir):
            scheme, _, relative = name[len(data_dir) :].partition("/")
            if scheme not in SCHEMES or not relative:
                problems.append(f"member {name!r} is in no known .data scheme")
        files.append(TreeFile(name, hash_, size, executable, scheme, relative))
    if problems:
        raise InvalidWheelError(wheel, "; ".join(problems[:10]))
    for directory in sorted(directories, key=len, reverse=True):
        os.chmod(directory, _READ_ONLY_DIR)
    return Manifest(
        wheel_sha256=sha256,
        name=str(metadata.get("Name", "")),
        version=str(metadata.get("Version", "")),
        dist_info=dist_info,
        root_is_purelib=purelib,
        files=tuple(files),
        entry_points=entry_points,
    )


def _outside(root: str, name: str) -> str | None:
    """Why *name* would land outside *root* once joined and normalised (None if it stays in)."""
    joined = os.path.normpath(os.path.join(root, *name.split("/")))
    if joined == root or not joined.startswith(root + os.sep):
        return "it resolves outside the tree"
    return None


def _make_dirs(path: str, made: set[str]) -> None:
    if path in made:
        return
    os.makedirs(path, exist_ok=True)
    while path not in made:
        made.add(path)
        path = os.path.dirname(path)


def _extract(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: str, executable: bool
) -> tuple[bytes, int]:
    """Write one member to *target* (which must not exist), hashing it; return (digest, size)."""
    digest = hashlib.sha256()
    mode = 0o555 if executable else 0o444
    fd = os.open(target, _WRITE_FLAGS, 0o600)
    try:
        size = 0
        if member.file_size <= CHUNK_SIZE:
            data = archive.read(member)
            digest.update(data)
            size = _write_all(fd, data)
        else:
            with archive.open(member) as stream:
                while chunk := stream.read(CHUNK_SIZE):
                    digest.update(chunk)
                    size += _write_all(fd, chunk)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return digest.digest(), size


def _write_all(fd: int, data: bytes) -> int:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    return len(data)


def _dist_info(names: Mapping[str, object]) -> str | None:
    tops = {
        top
        for top, slash, _ in (name.partition("/") for name in names)
        if slash and top.endswith(".dist-info")
    }
    return tops.pop() if len(tops) == 1 else None
