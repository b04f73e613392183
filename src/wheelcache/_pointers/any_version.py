"""What any version of a pointer says, for the garbage collector and verify.

A pointer a newer wheelcache wrote is a miss to this version's readers
(:func:`wheelcache._pointers.pointer.decode`), but the garbage collector must
still keep every entry it names, and verify must leave it alone. These read
only what every version keeps: ``wheels[*].sha256`` and ``version``. This
module also holds :data:`USE_INTERVAL`: a pointer's modification time is its
source's last use, in every version.
"""

from __future__ import annotations

from .pointer import POINTER_VERSION, _parse, is_sha256

__all__ = ["USE_INTERVAL", "is_newer_format", "referenced_digests"]

USE_INTERVAL = 60.0
"""Seconds between two "last used" updates of one source (its pointer's mtime);
hits in between write nothing."""


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
            if isinstance(sha256, str) and is_sha256(sha256):
                found.add(sha256)
    return frozenset(found)


def is_newer_format(data: bytes) -> bool:
    """True for a pointer a newer wheelcache wrote (whatever else it holds).

    Such a pointer is a miss for this reader and is not this version's to
    judge: verify leaves it alone.
    """
    document = _parse(data)
    version = document.get("version") if type(document) is dict else None
    return type(version) is int and version > POINTER_VERSION
