"""Idle sources: retired sources whose entries may go in the same prune.

A hit records its source's use by setting the pointer's mtime, at most once
per :data:`~wheelcache._pointers.any_version.USE_INTERVAL`. A source whose pointer was last
modified more than ``grace + USE_INTERVAL`` ago therefore handed nothing out
within ``grace`` through that pointer, *provided every hit could record its
use*. :func:`is_idle` checks both halves: the age, and that whoever may read
the pointer may also set its mtime (docs/design.md, "Idle sources").

Who may set a file's mtime to now (``utime(path, NULL)``): its owner, root,
and anyone with write permission. Who may read the pointer: its owner, root,
and the group and other classes its mode bits let read, if they can reach it
through the directories above it. So the use of an idle source is recorded
by every reader when, for the group and for others, the class either cannot
reach or read the pointer, or may also write it. A directory closes a class
off only if its owner is the pointer's owner (a directory owned by someone
else lets at least that someone through), and a group counts only if
someone besides the owner is in it, so the usual private home directory
(``drwx------``, or ``drwxr-x---`` with a user-private group) keeps the
cache's pointers to their owner. Access control lists beyond the mode bits
are not considered, nor are read-only mounts of a shared cache
(docs/design.md lists that as an assumption).
"""

from __future__ import annotations

import os
import stat
from functools import lru_cache
from typing import TYPE_CHECKING

from .._fs.mounts import is_network_filesystem

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["is_idle", "uses_are_recorded"]


def is_idle(last_used: float, *, now: float, grace: float, interval: float) -> bool:
    """True when no hit can have happened within *grace* before *now* (use recorded)."""
    return last_used < now - grace - interval


def uses_are_recorded(pointer: Path, info: os.stat_result) -> bool:
    """True when every process that may read *pointer* (stat *info*) may also set its mtime.

    Always False on Windows, where prune cannot look at a pointer after
    unlinking it, and on network filesystems, where the mtime prune sees
    through its open pointer may be a cached one (docs/design.md, "Idle
    sources").
    """
    if os.name == "nt" or is_network_filesystem(str(pointer.parent)):
        return False
    mode = info.st_mode
    group_reads = mode & stat.S_IRGRP and not mode & stat.S_IWGRP
    group_reads = group_reads and _shared_group(info.st_gid, info.st_uid)
    others_read = mode & stat.S_IROTH and not mode & stat.S_IWOTH
    if not (group_reads or others_read):
        return True
    return any(_closed(directory, info.st_uid) for directory in pointer.parents)


def _closed(directory: Path, owner: int) -> bool:
    """True when only *owner* (and root) may pass through *directory*."""
    try:
        info = os.stat(directory)
    except OSError:
        return False  # cannot tell: assume the worst
    if info.st_uid != owner or info.st_mode & stat.S_IXOTH:
        return False
    return not info.st_mode & stat.S_IXGRP or not _shared_group(info.st_gid, owner)


@lru_cache(maxsize=64)
def _shared_group(gid: int, owner: int) -> bool:
    """True unless group *gid* is known to hold the user *owner* alone."""
    try:
        import grp
        import pwd

        members = set(grp.getgrgid(gid).gr_mem)
        owner_name = pwd.getpwuid(owner).pw_name
        if members - {owner_name}:
            return True
        return any(user.pw_gid == gid and user.pw_uid != owner for user in pwd.getpwall())
    except (ImportError, KeyError, OSError):
        return True
