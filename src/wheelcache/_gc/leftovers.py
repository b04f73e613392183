"""Reclaiming what dead processes left: staging directories, pointer temp files, lock files.

Each leftover is removed only when a lock shows that no live process owns it:
a process holds the lock for as long as it uses what it made, and the kernel
releases the locks of a process that dies (docs/design.md, "Leftovers of
dead processes").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .._fs.fsutil import shard_entries, tree_size, unlink_quietly
from .._fs.locking import try_hold
from .._fs.mounts import is_network_filesystem
from .._fs.nofollow import list_real_dir
from .._layout import is_digest
from .owners import beating
from .trash import delete_or_warn

if TYPE_CHECKING:
    from .._layout import Layout
    from .reports import Tally

__all__ = ["SETTLE_SECONDS", "reclaim_pointer_temps", "reclaim_staging", "remove_orphan_locks"]


SETTLE_SECONDS = 60.0
"""Most a prune waits before probing an owner lock file that has no staging directory."""


def reclaim_staging(layout: Layout, now: float, settle: float, tally: Tally, dry_run: bool) -> None:
    """Remove staging directories (and owner locks) of processes that died.

    A publisher takes its owner lock before it creates its directory and
    releases it only after removing it, so a directory whose owner lock is
    missing or can be taken belongs to no live process. A lock file with no
    directory is probed only once it is *settle* seconds old (the grace,
    at most :data:`SETTLE_SECONDS`): a publisher creates the file an instant
    before it locks it, and probing it in that instant would make the
    publisher's own lock attempt fail.

    On a network filesystem a lock taken here says nothing about holders on
    other hosts, so an owner lock whose heartbeat is recent also means "alive".
    """
    items = list_real_dir(layout.staging)
    network = is_network_filesystem(os.fspath(layout.staging))
    directories = {i.name for i in items if i.is_dir(follow_symlinks=False)}
    locks = {i.name[: -len(".lock")] for i in items if i.name.endswith(".lock")}
    for token in sorted(directories | locks):
        directory = layout.staging / token
        owner = layout.staging / f"{token}.lock"
        if token not in directories and not _settled(owner, now, settle):
            continue
        if network and beating(owner, now):
            continue  # alive on some host, whatever the lock says here
        with try_hold(owner) as held:
            if not held and owner.exists():
                continue  # a live process owns it
            tally.staging += 1
            tally.freed += tree_size(directory)
            if dry_run:
                continue
            delete_or_warn(directory)
            if held:
                unlink_quietly(owner)


def _settled(path: Path, now: float, settle: float) -> bool:
    """True when *path* was last modified at least *settle* seconds before *now*."""
    try:
        return now - os.stat(path).st_mtime >= settle
    except OSError:
        return False


def reclaim_pointer_temps(layout: Layout, now: float, tally: Tally, dry_run: bool) -> None:
    """Remove temp files of pointer writers that died mid-write.

    A writer holds the source's pointer lock from before it creates its temp
    file until the file is renamed or removed, so a temp file whose lock we
    can take has no live writer (on a network filesystem: and whose lock's
    heartbeat is not recent).
    """
    network = is_network_filesystem(os.fspath(layout.pointers))
    for temp in shard_entries(layout.pointers):
        if not temp.name.endswith(".tmp"):
            continue
        digest = temp.name.lstrip(".").split(".", 1)[0]
        if not is_digest(digest):
            continue  # not a pointer writer's temp file
        lock = layout.pointer_lock(digest)
        if network and beating(lock, now):
            continue
        with try_hold(lock, create=not dry_run, root=layout.root) as held:
            # A dry run creates nothing; a missing lock file has no holder.
            if not held and not (dry_run and not lock.exists()):
                continue  # its writer is still at work
            tally.staging += 1
            tally.freed += tree_size(Path(temp.path))
            if not dry_run:
                unlink_quietly(Path(temp.path))


def remove_orphan_locks(layout: Layout, now: float) -> None:
    """Remove the lock files of sources that have no pointer and no lock holder.

    Safe against a process that opened a lock file just before it was
    removed only because every lock, once taken, is checked to be the file
    still at its path, and otherwise taken again on the file now there
    (:mod:`wheelcache._fs.locking`; docs/design.md, "Leftovers of dead processes").
    On a network filesystem a lock with a recent heartbeat is kept: another
    host may be building under it.
    """
    network = is_network_filesystem(os.fspath(layout.locks))
    for lock in shard_entries(layout.locks):
        digest = lock.name.split(".", 1)[0]
        if not is_digest(digest) or layout.pointer_file(digest).exists():
            continue
        path = Path(lock.path)
        if network and beating(path, now):
            continue
        with try_hold(path) as held:
            if held and not layout.pointer_file(digest).exists():
                unlink_quietly(path)
