"""Recognise wheels: read what a wheel's file name says, and check a file really is one.

:func:`parse_wheel_name` runs on the cache's hot path (every lookup parses the
names of the wheels it considers), so it is memoised. :func:`validate_wheel` is
the gate every file must pass before the cache accepts it: it reads the archive
once, end to end, so that a damaged, truncated or mislabelled wheel is refused
at the door rather than discovered by an installer later. Everything wrong with
a file is collected and reported in one :class:`InvalidWheelError`. What the
``.dist-info`` directory must hold and say is checked by :mod:`wheelcache._wheels.dist_info`.
"""

from __future__ import annotations

import io
import logging
import os
import pathlib
import re
import stat
import zipfile
import zlib
from typing import TYPE_CHECKING, BinaryIO, Protocol

# Imported at run time, not only for mypy, so typing.get_type_hints(WheelInfo) works.
from .._errors import InvalidWheelError
from .._fs.fsutil import CHUNK_SIZE
from .dist_info import (
    dist_info_name_problems,
    find_dist_info,
    metadata_problems,
    wheel_file_problems,
)
from .names import WheelInfo, describe, parse_wheel_name

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = [
    "INFLATE_ALLOWANCE",
    "MAX_INFLATE_RATIO",
    "ZIP_ERRORS",
    "WheelInfo",
    "parse_wheel_name",
    "read_chunks",
    "unsafe_path_reason",
    "validate_wheel",
]

logger = logging.getLogger("wheelcache")

#: Validation inflates every member, so the work it may do is bounded: a wheel
#: whose members add up to more than this many times its own size, and more
#: than :data:`INFLATE_ALLOWANCE`, is refused as a decompression bomb before
#: any member is inflated. Real wheels inflate 2-5x (numpy, torch); text-heavy
#: ones rarely 20x; a zip of zeros, 1000x.
MAX_INFLATE_RATIO = 100

#: Bytes any wheel may inflate to whatever its size (256 MiB).
INFLATE_ALLOWANCE = 256 << 20

# What reading a damaged archive can raise: a bad header or CRC (BadZipFile), a
# corrupt deflate stream (zlib.error), data that ends early (EOFError), an I/O
# failure (OSError), a compression method this Python lacks
# (NotImplementedError) and nonsensical offsets or sizes (ValueError).
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError)
_LOCAL_FILE_HEADER = b"PK\x03\x04"
_ENCRYPTED_FLAG = 0x1
_DRIVE = re.compile(r"[A-Za-z]:")
_MAX_LISTED_PROBLEMS = 10
_FILE_KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def read_chunks(stream: _Readable, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield the rest of *stream* in pieces of at most *size* bytes.

    Streaming keeps memory flat however large the file is. This module reads
    METADATA and WHEEL with it.
    """
    while chunk := stream.read(size):
        yield chunk


class _UnusableFileError(Exception):
    """The path cannot even be opened as a wheel; ``args[0]`` says why."""


def validate_wheel(path: pathlib.Path, *, check_crcs: bool = True) -> WheelInfo:
    """Check that the file at *path* is a complete, intact, correctly named wheel.

    The archive is read once, member by member in :data:`CHUNK_SIZE` pieces, so
    every CRC is checked without holding a large member in memory. The name,
    the ``.dist-info`` directory, ``METADATA`` and ``WHEEL`` must agree on the
    project and version. A symlink is followed; anything but a regular file is
    refused without being opened.

    With *check_crcs* false, only ``METADATA`` and ``WHEEL`` are read (and
    their CRCs checked); every other member is opened, which checks its
    local header against the zip directory and that its compression method
    is one this Python reads, but its data is not inflated, so neither its
    CRC nor its compressed stream is checked. The rest above is checked all
    the same. That is for bytes whose SHA-256 is already known to be that
    of a wheel that passed this check in full: the digest is the stronger
    test of the data.

    Returns the :class:`WheelInfo` parsed from the file name. Raises
    :class:`InvalidWheelError` listing every problem found.
    """
    path = pathlib.Path(path)
    problems: list[str] = []
    info: WheelInfo | None = None
    try:
        info = parse_wheel_name(path.name)
    except InvalidWheelError as exc:
        problems.append(exc.problem)
    try:
        stream, size = _open_regular_file(path)
    except _UnusableFileError as exc:
        problems.append(str(exc))
    else:
        with stream:
            problems.extend(_check_archive(stream, size, info, check_crcs=check_crcs))
    if problems or info is None:
        raise InvalidWheelError(path, _summarise(problems))
    logger.debug("%s: a valid wheel (%d bytes)", path, size)
    return info


def _open_regular_file(path: pathlib.Path) -> tuple[BinaryIO, int]:
    """Open *path* for reading if it is (or links to) a regular file; return it and its size."""
    try:
        status = path.stat()
    except FileNotFoundError:
        problem = "it is a dangling symbolic link" if path.is_symlink() else "no such file"
        raise _UnusableFileError(problem) from None
    except OSError as exc:
        raise _UnusableFileError(f"cannot examine the file ({describe(exc)})") from None
    if stat.S_ISDIR(status.st_mode):
        raise _UnusableFileError("it is a directory, not a file")
    if not stat.S_ISREG(status.st_mode):
        kind = _FILE_KINDS.get(stat.S_IFMT(status.st_mode), "a special file")
        raise _UnusableFileError(f"it is {kind}, not a regular file")
    # O_NONBLOCK: should the path be swapped for a FIFO after the check above,
    # opening it still returns at once, and the fstat below refuses it.
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _UnusableFileError(f"cannot read the file ({describe(exc)})") from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise _UnusableFileError("it stopped being a regular file while being checked")
        return os.fdopen(fd, "rb"), status.st_size
    except BaseException:
        os.close(fd)
        raise


def _check_archive(
    stream: BinaryIO, size: int, info: WheelInfo | None, *, check_crcs: bool
) -> list[str]:
    """Return every problem with the wheel archive open as *stream*."""
    if size == 0:
        return ["the file is empty"]
    try:
        archive = zipfile.ZipFile(stream)
    except ZIP_ERRORS as exc:
        return [_not_a_zip_problem(stream, exc)]
    with archive:
        members = archive.infolist()
        bomb = _inflation_problem(members, size)
        if bomb is not None:
            return [bomb]
        problems = _member_name_problems(members)
        dist_info, layout_problems = find_dist_info(members)
        problems += layout_problems
        wanted = {f"{dist_info}/METADATA", f"{dist_info}/WHEEL"} if dist_info else set()
        contents, read_problems = _read_members(archive, members, wanted, every=check_crcs)
        problems += read_problems
    if dist_info is None:
        return problems
    if info is not None:
        problems += dist_info_name_problems(dist_info, info)
    if f"{dist_info}/METADATA" in contents:
        problems += metadata_problems(contents[f"{dist_info}/METADATA"], info)
    if f"{dist_info}/WHEEL" in contents:
        problems += wheel_file_problems(contents[f"{dist_info}/WHEEL"])
    return problems


def _inflation_problem(members: Sequence[zipfile.ZipInfo], size: int) -> str | None:
    """Refuse an archive that would inflate to far more than a real wheel does.

    zipfile inflates a member only up to its declared size (and fails the
    CRC check beyond), so the declared sizes bound the work.
    """
    declared = sum(member.file_size for member in members)
    limit = max(MAX_INFLATE_RATIO * size, INFLATE_ALLOWANCE)
    if declared <= limit:
        return None
    return (
        f"its members would inflate to {declared} bytes, more than the {limit} bytes"
        f" allowed ({MAX_INFLATE_RATIO} times its size of {size} bytes, and at least"
        f" {INFLATE_ALLOWANCE} bytes); refused as a likely decompression bomb"
    )


def _not_a_zip_problem(stream: BinaryIO, exc: BaseException) -> str:
    try:
        stream.seek(0)
        looks_like_zip = stream.read(len(_LOCAL_FILE_HEADER)) == _LOCAL_FILE_HEADER
    except OSError:
        looks_like_zip = False
    if looks_like_zip:
        return f"the zip archive is truncated or damaged ({describe(exc)})"
    return "it is not a zip archive"


def _member_name_problems(members: Sequence[zipfile.ZipInfo]) -> list[str]:
    """Refuse names an installer would refuse: ones that could land outside its target."""
    problems = []
    seen: set[str] = set()
    for member in members:
        name = member.filename
        reason = unsafe_path_reason(name)
        if reason:
            problems.append(f"member {name!r} has an unsafe path ({reason})")
        if name in seen:
            problems.append(f"member {name!r} appears more than once")
        seen.add(name)
    return problems


def unsafe_path_reason(name: str) -> str | None:
    if name.startswith("/"):
        return "it is absolute"
    if _DRIVE.match(name):
        return "it starts with a drive letter"
    if "\\" in name:
        return "it contains a backslash"
    if ".." in name.split("/"):
        return "it contains a '..' component"
    return None


def _read_members(
    archive: zipfile.ZipFile, members: Sequence[zipfile.ZipInfo], wanted: set[str], *, every: bool
) -> tuple[dict[str, bytes], list[str]]:
    """Open every member and read members to their end, so zipfile checks their CRCs.

    The *wanted* ones are kept. Every member is read, or with *every* false
    only the *wanted* ones (the others are opened, not read).
    """
    contents: dict[str, bytes] = {}
    problems = []
    # In file order, so the file is read front to back exactly once.
    for member in sorted(members, key=lambda member: member.header_offset):
        name = member.filename
        if member.flag_bits & _ENCRYPTED_FLAG:
            problems.append(f"member {name!r} is encrypted")
            continue
        try:
            # Opening a member checks its local header against the directory
            # (name, method, flags); only reading it to its end checks its data.
            with archive.open(member) as data:
                if name in wanted:
                    contents[name] = b"".join(read_chunks(data))
                elif every:
                    # read1 hands back each inflated piece as is; read() would
                    # copy pieces together to make up exactly CHUNK_SIZE bytes.
                    read = data.read1 if isinstance(data, io.BufferedIOBase) else data.read
                    while read(CHUNK_SIZE):
                        pass
        except ZIP_ERRORS as exc:
            if isinstance(exc, zipfile.BadZipFile) and "CRC" in str(exc):
                problems.append(f"member {name!r} fails its CRC check (its data is corrupt)")
            else:
                problems.append(f"member {name!r} cannot be read ({describe(exc)})")
    return contents, problems


def _summarise(problems: list[str]) -> str:
    listed = problems[:_MAX_LISTED_PROBLEMS]
    hidden = len(problems) - len(listed)
    if hidden:
        listed.append(f"and {hidden} more problem{'s' if hidden > 1 else ''}")
    return "; ".join(listed)
