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
      "wheels": [
        {"sha256": "a3f1...", "filename": "demo-1.0-py3-none-any.whl",
         "size": 1234, "tags": ["py3-none-any"]}
      ]
    }

Pointers are never modified in place: a writer builds the new text, writes it
to a temp file in the same directory, fsyncs it and ``os.replace``-s it over
the old one (see :func:`wheelcache._fsutil.write_file_atomic`). A reader
therefore sees the old pointer or the new one, never a mix.

Compatibility rules, so old and new wheelcache versions can share a cache:
unknown fields are ignored; a pointer with a newer ``version`` is a miss for
this reader, not an error; and every version keeps ``wheels[*].sha256`` so an
older garbage collector still knows which entries it must not delete.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_POINTER_BYTES",
    "POINTER_VERSION",
    "Pointer",
    "WheelRef",
    "decode",
    "encode",
    "read_pointer",
    "referenced_digests",
]

logger = logging.getLogger("wheelcache")

POINTER_VERSION = 1
MAX_POINTER_BYTES = 1 << 20
_MARKER = "source-pointer"
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class WheelRef:
    """One wheel named by a pointer: the entry's digest and what it holds."""

    sha256: str
    filename: str
    size: int
    tags: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """The JSON object stored in the pointer."""
        return {
            "sha256": self.sha256,
            "filename": self.filename,
            "size": self.size,
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class Pointer:
    """The current revision of one source: its freshness and its wheels."""

    key: str
    freshness: str
    name: str | None
    wheels: tuple[WheelRef, ...]
    written: float


def encode(pointer: Pointer) -> bytes:
    """Serialise *pointer* to the bytes written to disk."""
    document = {
        "wheelcache": _MARKER,
        "version": POINTER_VERSION,
        "key": pointer.key,
        "name": pointer.name,
        "freshness": pointer.freshness,
        "written": pointer.written,
        "wheels": [wheel.as_json() for wheel in pointer.wheels],
    }
    # ensure_ascii keeps lone surrogates and NUL bytes in keys representable.
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _safe_filename(filename: object) -> bool:
    return (
        isinstance(filename, str)
        and filename.endswith(".whl")
        and "/" not in filename
        and "\\" not in filename
        and "\0" not in filename
        and not filename.startswith(".")
    )


def _wheel_ref(item: object) -> WheelRef | None:
    if not isinstance(item, dict):
        return None
    sha256 = item.get("sha256")
    filename = item.get("filename")
    size = item.get("size")
    tags = item.get("tags")
    if (
        not isinstance(sha256, str)
        or not _SHA256.fullmatch(sha256)
        or not _safe_filename(filename)
        or not isinstance(size, int)
        or isinstance(size, bool)
        or size < 0
        or not isinstance(tags, list)
        or not all(isinstance(tag, str) for tag in tags)
    ):
        return None
    assert isinstance(filename, str)  # for the type checker: checked above
    return WheelRef(sha256, filename, size, tuple(tags))


def _parse(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def decode(data: bytes) -> Pointer | None:
    """Parse pointer bytes; None when malformed or written by a newer format.

    A single malformed wheel record makes the whole pointer unusable: a
    half-understood revision could hand out the wrong wheel.
    """
    document = _parse(data)
    if not isinstance(document, dict) or document.get("wheelcache") != _MARKER:
        return None
    if document.get("version") != POINTER_VERSION:
        return None
    key = document.get("key")
    freshness = document.get("freshness")
    name = document.get("name")
    written = document.get("written", 0.0)
    raw_wheels = document.get("wheels")
    if (
        not isinstance(key, str)
        or not isinstance(freshness, str)
        or not (name is None or isinstance(name, str))
        or not isinstance(written, (int, float))
        or not isinstance(raw_wheels, list)
    ):
        return None
    wheels = []
    for item in raw_wheels:
        ref = _wheel_ref(item)
        if ref is None:
            return None
        wheels.append(ref)
    return Pointer(key, freshness, name, tuple(wheels), float(written))


def referenced_digests(data: bytes) -> frozenset[str]:
    """Every entry digest a pointer of *any* version names.

    The garbage collector uses this rather than :func:`decode` so that it never
    deletes an entry that a newer wheelcache's pointer still names.
    """
    document = _parse(data)
    if not isinstance(document, dict):
        return frozenset()
    wheels = document.get("wheels")
    if not isinstance(wheels, list):
        return frozenset()
    found = set()
    for item in wheels:
        if isinstance(item, dict):
            sha256 = item.get("sha256")
            if isinstance(sha256, str) and _SHA256.fullmatch(sha256):
                found.add(sha256)
    return frozenset(found)


def read_bytes(path: str | os.PathLike[str]) -> tuple[bytes, os.stat_result] | None:
    """Read a pointer file whole, with the stat of the file actually read.

    Returns None when there is no such file or it cannot be read right now
    (another process replacing it on Windows, permissions, a directory in its
    place, absurd size): to a reader, all of those are a miss.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if info.st_size > MAX_POINTER_BYTES:
            logger.debug("pointer %s is too large (%d bytes)", path, info.st_size)
            return None
        chunks = []
        remaining = info.st_size + 1  # one more, to notice a file that grew
        while remaining > 0:
            chunk = os.read(fd, remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError:
        logger.debug("could not read pointer %s", path, exc_info=True)
        return None
    finally:
        os.close(fd)
    return b"".join(chunks), info


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


def now() -> float:
    """Wall-clock seconds, the unit of ``written`` (a seam for tests)."""
    return time.time()
