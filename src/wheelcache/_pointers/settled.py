"""Reading a pointer whole where the filesystem may hand out a replaced file short.

A FUSE filesystem (sshfs) keeps a path's inode across a replacement by
another host and limits reads to the size it cached for it, so for up to its
attribute timeout (1 s by default) reading a pointer another host just
replaced with a longer one returns the new bytes cut to the old length:
not JSON. To a lookup that is a miss, which is safe. To garbage collection
it would be a pointer naming nothing, which is not: so on a network
filesystem, bytes that do not parse are read again once the attribute cache
has expired before they are judged (docs/design.md §13).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .pointer import MAX_POINTER_BYTES, _parse, read_bytes

if TYPE_CHECKING:
    import os

__all__ = ["SETTLE_SECONDS", "SETTLE_TRIES", "read_settled"]

SETTLE_SECONDS = 1.1
"""Longer than FUSE's default attribute timeout (1 s); NFS revalidates on open."""

SETTLE_TRIES = 3


def read_settled(
    path: str | os.PathLike[str],
    *,
    network: bool,
    limit: int | None = MAX_POINTER_BYTES,
    strict: bool = False,
) -> tuple[bytes, os.stat_result] | None:
    """:func:`read_bytes`, read again (on a network filesystem) while the bytes do not parse."""
    found = read_bytes(path, limit=limit, strict=strict)
    for _attempt in range(SETTLE_TRIES if network else 0):
        if found is None or _parse(found[0]) is not None:
            break
        time.sleep(SETTLE_SECONDS)
        found = read_bytes(path, limit=limit, strict=strict)
    return found
