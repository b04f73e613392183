"""Reading a pointer whole where the filesystem may hand out a replaced file short.

A FUSE filesystem (sshfs) keeps a path's inode across a replacement by
another host and limits reads to the size it cached for it, so for up to its
attribute timeout (1 s by default) reading a pointer another host just
replaced with a longer one returns the new bytes cut to the old length:
not JSON. To a lookup that is a miss, which is safe. To garbage collection
it would be a pointer naming nothing, which is not: so on a network
filesystem, bytes that do not parse are read again before they are judged
(docs/design.md §13). Waiting for the attribute cache to expire is not
enough where other processes of the host keep looking at the pointer (each
look caches its size again) while another host keeps replacing it: so the
reader first asks the server for the file's attributes, by setting the mode
it already has (the reply carries them), and reads at once.
"""

from __future__ import annotations

import os
import stat
import time

from .._fs.nofollow import chmod_nofollow
from .pointer import MAX_POINTER_BYTES, _parse, read_bytes

__all__ = ["SETTLE_SECONDS", "SETTLE_TRIES", "read_present", "read_settled"]

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
    if network and not _parses(found) and _refresh_attributes(path, found):
        found = read_bytes(path, limit=limit, strict=strict)
    for _attempt in range(SETTLE_TRIES if network else 0):
        if _parses(found):
            break
        time.sleep(SETTLE_SECONDS)
        found = read_bytes(path, limit=limit, strict=strict)
    return found


def read_present(
    path: str | os.PathLike[str], *, network: bool
) -> tuple[bytes, os.stat_result] | None:
    """:func:`read_settled`, read again while it read nothing but a file is there.

    On a network filesystem a pointer that another host replaces while one
    of its processes has it open is missing for an instant (its old file is
    moved to a hidden name first): the read fails, and a look just after
    finds the new one. A file that cannot be read for good is still read
    only :data:`SETTLE_TRIES` more times, with no waiting.
    """
    found = read_settled(path, network=network)
    for _attempt in range(SETTLE_TRIES):
        if found is not None or not os.path.lexists(path):
            break
        found = read_settled(path, network=network)
    return found


def _parses(found: tuple[bytes, os.stat_result] | None) -> bool:
    return found is None or _parse(found[0]) is not None


def _refresh_attributes(
    path: str | os.PathLike[str], found: tuple[bytes, os.stat_result] | None
) -> bool:
    """Make the filesystem fetch *path*'s attributes (its size) from the server now.

    A ``chmod`` to the mode the file has changes nothing but its ctime, and a
    FUSE filesystem answers it with the attributes the server has. Only the
    owner may do it; False when it could not be done.
    """
    return found is not None and chmod_nofollow(path, stat.S_IMODE(found[1].st_mode))
