"""Pointer files: the one mutable thing in the cache.

Each source distribution has one small JSON file naming the wheels of its
current revision::

    {
      "wheelcache": "source-pointer",
      "version": 1,
      "key": "sha256:4f2a...",
      "name": "demo",
      "freshness": "tree-v1:9c1e...",
      "written": 1764288000.0,
      "filename": "demo-1.0.tar.gz",
      "wheels": [
        {"sha256": "a3f1...", "filename": "demo-1.0-py3-none-any.whl",
         "size": 1234, "tags": ["py3-none-any"]}
      ]
    }

Pointers are never modified in place: a writer builds the new text, writes it
to a temp file in the same directory, fsyncs it and ``os.replace``-s it over
the old one (see :func:`wheelcache._fs.fsutil.write_file_atomic`). A reader
therefore sees the old pointer or the new one, never a mix.

Compatibility rules, so old and new wheelcache versions can share a cache:
unknown fields are ignored; a pointer with a newer ``version`` is a miss for
this reader, not an error; and every version keeps ``wheels[*].sha256`` so an
older garbage collector still knows which entries it must not delete.

Every field is validated when read (:func:`decode`): types, a SHA-256 of 64
lowercase hex digits, a wheel file name that is printable (no control
characters, no lone surrogates), at most 255 characters and names no other
directory, a non-negative size, a finite ``written``. A pointer with any
invalid field is a miss to readers and "unreadable" to ``verify``, never an
exception.

Optional fields, added without a version change because older readers ignore
them: ``filename``, the sdist's file name when the source was added from an
archive (omitted otherwise). A reader treats a malformed optional field (one
that is not a printable file name of at most 255 characters) as absent: it
only labels the source, it never decides which wheel is handed out.
"""

from __future__ import annotations

import errno
import math
import os
from functools import lru_cache

from .._log import get_logger
from .parsing import loads
from .records import Pointer, WheelRef

TYPE_CHECKING = False  # no typing, logging or re at run time: every hit reads a pointer
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "MAX_POINTER_BYTES",
    "POINTER_VERSION",
    "Pointer",
    "WheelRef",
    "decode",
    "encode",
    "is_sha256",
    "open_pointer",
    "read_bytes",
    "read_open_pointer",
    "read_pointer",
    "replaced",
]

logger = get_logger()

POINTER_VERSION = 1

MAX_POINTER_BYTES = 1 << 20
_MARKER = "source-pointer"
_HEX = frozenset("0123456789abcdef")
# O_NOFOLLOW: a link where a pointer belongs is a miss, never followed.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
_FIRST_READ = 1 << 16


def is_sha256(text: str) -> bool:
    """True for 64 lowercase hex digits (what a pointer names entries by)."""
    return len(text) == 64 and _HEX.issuperset(text)


def encode(pointer: Pointer) -> bytes:
    """Serialise *pointer* to the bytes written to disk."""
    document: dict[str, Any] = {
        "wheelcache": _MARKER,
        "version": POINTER_VERSION,
        "key": pointer.key,
        "name": pointer.name,
        "freshness": pointer.freshness,
        "written": pointer.written,
        "wheels": [wheel.as_json() for wheel in pointer.wheels],
    }
    if pointer.filename is not None:
        document["filename"] = pointer.filename
    import json

    # ensure_ascii keeps lone surrogates and NUL bytes in keys representable.
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _safe_label(filename: object) -> bool:
    """True for an sdist file name a pointer may record: printable, short, no directory."""
    return (
        type(filename) is str
        and 0 < len(filename) <= _MAX_FILENAME
        and filename.isprintable()
        and "/" not in filename
        and "\\" not in filename
    )


def _safe_filename(filename: object) -> bool:
    # isprintable() refuses NUL and other control characters, and lone
    # surrogates, which no filesystem call can encode: a pointer naming such
    # a file is unusable (a miss), never a UnicodeEncodeError in a reader.
    return (
        type(filename) is str
        and filename.endswith(".whl")
        and len(filename) <= _MAX_FILENAME
        and filename.isprintable()
        and "/" not in filename
        and "\\" not in filename
        and not filename.startswith(".")
    )


_MAX_FILENAME = 255  # NAME_MAX: no filesystem holds a longer name


def _wheel_ref(item: object) -> WheelRef | None:
    # Exact type checks (``type(x) is str``) are deliberate: they are the
    # cheapest checks Python has, and JSON only ever produces exact types.
    if type(item) is not dict:
        return None
    sha256 = item.get("sha256")
    filename = item.get("filename")
    size = item.get("size")
    tags = item.get("tags")
    if (
        type(sha256) is not str
        or not is_sha256(sha256)
        or not _safe_filename(filename)
        or type(size) is not int
        or size < 0
        or type(tags) is not list
    ):
        return None
    for tag in tags:
        if type(tag) is not str:
            return None
    return WheelRef(sha256, filename, size, tuple(tags))  # type: ignore[arg-type]


def _parse(data: bytes) -> Any:
    try:
        return loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def decode(data: bytes) -> Pointer | None:
    """Parse pointer bytes; None when malformed or written by a newer format.

    A single malformed wheel record makes the whole pointer unusable: a
    half-understood revision could hand out the wrong wheel.

    The result depends on the bytes alone and is immutable, so small pointers
    are parsed once per process and remembered by their exact bytes: a
    repeated hit pays for hashing a few hundred bytes instead of parsing and
    checking JSON. Equal bytes always mean an equal pointer, so what is
    remembered can never be a stale revision: the file is still read each time.
    """
    if len(data) <= _REMEMBERED_BYTES:
        return _decode_remembered(data)
    return _decode(data)


def _decode(data: bytes) -> Pointer | None:
    document = _parse(data)
    if type(document) is not dict or document.get("wheelcache") != _MARKER:
        return None
    if document.get("version") != POINTER_VERSION:
        return None
    key = document.get("key")
    freshness = document.get("freshness")
    name = document.get("name")
    written = document.get("written", 0.0)
    raw_wheels = document.get("wheels")
    if (
        type(key) is not str
        or type(freshness) is not str
        or (name is not None and type(name) is not str)
        or type(written) not in (int, float)
        or not math.isfinite(written)
        or type(raw_wheels) is not list
    ):
        return None
    wheels = []
    for item in raw_wheels:
        ref = _wheel_ref(item)
        if ref is None:
            return None
        wheels.append(ref)
    filename = document.get("filename")
    if not _safe_label(filename):
        filename = None  # optional, and only a label: malformed means absent
    return Pointer(key, freshness, name, tuple(wheels), float(written), filename)


# At most 256 pointers of at most 16 KiB (a one-wheel pointer is ~300 bytes):
# a bounded few MiB in the worst case, a few hundred KiB in practice.
_REMEMBERED_BYTES = 16 * 1024
_decode_remembered = lru_cache(maxsize=256)(_decode)


def read_bytes(
    path: str | os.PathLike[str], *, limit: int | None = MAX_POINTER_BYTES, strict: bool = False
) -> tuple[bytes, os.stat_result] | None:
    """Read a pointer file whole, with the stat of the file actually read.

    The one reader of pointer files by path. Returns None when there is no
    such file (or a directory in its place). By default every other failure
    is a miss too (another process replacing it on Windows, permissions, a
    file over *limit* bytes): that is what a reader wants. Garbage collection
    passes ``strict=True`` and ``limit=None``: it must know what every pointer
    names, so a pointer it cannot read raises :class:`OSError` instead.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError as exc:
        if strict and exc.errno != errno.ELOOP:  # a link is not a pointer: never followed
            raise
        return None
    try:
        info = os.fstat(fd)
        if limit is not None and info.st_size > limit:
            logger.debug("pointer %s is too large (%d bytes)", path, info.st_size)
            return None
        # Pointers are replaced, never rewritten in place, so the size from
        # fstat is the size of what we read; one read normally gets it all.
        data = _read_all(fd, info.st_size + 1, limit)
    except (FileNotFoundError, IsADirectoryError):
        # FileNotFoundError: removed since the open (a network filesystem may
        # answer an open file's fstat by its path), as if before it.
        return None
    except OSError:
        if strict:
            raise
        logger.debug("could not read pointer %s", path, exc_info=True)
        return None
    finally:
        os.close(fd)
    return (data, info) if data is not None else None


def _read_all(fd: int, first: int, limit: int | None) -> bytes | None:
    """Everything left in the file open at *fd*; None if it is over *limit* bytes."""
    data = os.read(fd, first)
    if len(data) < first:
        return data
    parts = [data]
    size = len(data)
    while chunk := os.read(fd, _FIRST_READ):
        parts.append(chunk)
        size += len(chunk)
        if limit is not None and size > limit:
            return None
    return b"".join(parts)


def open_pointer(path: str) -> int | None:
    """Open a pointer file for reading; None when it cannot be opened (a miss)."""
    try:
        return os.open(path, _READ_FLAGS)
    except OSError:
        return None


def read_open_pointer(fd: int) -> Pointer | None:
    """Read and parse the pointer open at *fd* (the lookup path); None on a miss.

    Reads in one call when the file is small, as pointers are; no ``fstat``
    needed first. The caller keeps *fd* open, so it can later ask the kernel
    whether this very file has since been replaced (its link count drops to 0).
    """
    try:
        data = _read_all(fd, _FIRST_READ, MAX_POINTER_BYTES)
    except OSError:
        return None
    return decode(data) if data is not None else None


def read_pointer(path: str | os.PathLike[str]) -> tuple[Pointer, os.stat_result] | None:
    """Read and parse a pointer file; None on any kind of miss."""
    result = read_bytes(path)
    if result is None:
        return None
    data, info = result
    pointer = decode(data)
    if pointer is None:
        logger.debug("ignoring unusable pointer %s", path)
        return None
    return pointer, info


def replaced(path: str, pointer: Pointer) -> bool:
    """Whether the pointer file at *path* no longer holds *pointer* (read afresh)."""
    again = read_pointer(path)
    return again is None or again[0] != pointer
