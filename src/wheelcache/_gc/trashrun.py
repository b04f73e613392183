"""Who owns what is in the trash: each prune or clean run its own items, until it is over.

Every run that moves anything into the trash first takes an owner lock of
its own, ``locks-v1/trash/<run>.lock`` (heart-beaten on a network
filesystem), and names each item it moves there ``<name>.<run>.<n>``. Only
the owner renames an item back or deletes it while the run lasts. When the
run ends it removes its lock file: whatever it leaves (a directory kept busy
by an open file) is anybody's to finish. A run that dies leaves its lock
free, and (on a network filesystem) no longer beating.

Another run finishes only the items of runs that are over, and first
*adopts* each by renaming it to a name of its own: a rename happens once, so
of two runs that judged the same dead run's items (two hosts, whose prune
locks do not exclude each other), each item goes to exactly one, and a
restore never races another run's delete (docs/design.md, "Network
filesystems").
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .._fs import syncpoints as _syncpoints
from .._fs.fsutil import retry_transient, unlink_quietly
from .._fs.locking import hold, try_hold
from .._fs.mounts import is_network_filesystem
from .._fs.nofollow import list_real_dir
from .._layout import unique_token
from .owners import beating

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .._layout import Layout

__all__ = ["TrashRun", "own_trash", "owner_lock"]

logger = logging.getLogger("wheelcache")

OWNERS = "trash"
"""The folder of ``locks-v1`` that holds the owner locks of trash runs."""


def owner_lock(layout: Layout, run: str) -> Path:
    """The owner lock of trash run *run*."""
    return layout.locks / OWNERS / f"{run}.lock"


def _run_of(name: str) -> str | None:
    """The run that owns trash item *name* (``<name>.<run>[.<n>]``); None for a foreign name."""
    parts = name.split(".")
    return parts[1] if len(parts) >= 2 and parts[1] else None


class TrashRun:
    """One prune's or clean's share of the trash (a dry run owns nothing and moves nothing)."""

    def __init__(self, layout: Layout, token: str, *, dry_run: bool) -> None:
        self.layout = layout
        self.token = token
        self.dry_run = dry_run
        self._moved = 0

    def destination(self, name: str) -> Path:
        """A new trash path of this run for an item called *name* (a digest, ``tree-…``)."""
        self._moved += 1
        return self.layout.trash / f"{name}.{self.token}.{self._moved}"

    def clock(self) -> float:
        """The filesystem's time about now: our owner lock's, created a moment ago."""
        try:
            return os.stat(owner_lock(self.layout, self.token)).st_mtime
        except OSError:
            return time.time()

    def adopt_finished(self, now: float) -> list[Path]:
        """Take over the items of every run that is over; return them under their new names.

        A run is over when its owner lock is missing, or can be taken and (on a
        network filesystem) was not touched within ``heartbeat.STALE_AFTER`` of
        *now*. Lock files of runs that are over are removed. A dry run renames
        and removes nothing and returns the items where they are.
        """
        runs: dict[str | None, list[Path]] = {}
        for item in list_real_dir(self.layout.trash):
            if not item.name.startswith("."):  # .nfs*, .fuse_hidden*: the filesystem's own
                runs.setdefault(_run_of(item.name), []).append(Path(item.path))
        for lock in list_real_dir(self.layout.locks / OWNERS):
            if lock.name.endswith(".lock"):
                runs.setdefault(lock.name[: -len(".lock")], [])
        network = is_network_filesystem(os.fspath(self.layout.trash))
        adopted: list[Path] = []
        for run in sorted(runs, key=str):
            if run == self.token:
                continue
            if run is None:  # not a run's name: nobody's
                adopted.extend(filter(None, map(self._adopt, runs[run])))
                continue
            owner = owner_lock(self.layout, run)
            if network and beating(owner, now):
                continue  # alive on some host, whatever the lock says here
            with try_hold(owner) as held:
                if not held and os.path.lexists(owner):
                    continue  # its run is still at work
                adopted.extend(filter(None, map(self._adopt, runs[run])))
                if held and not self.dry_run:
                    unlink_quietly(owner)
        return adopted

    def _adopt(self, item: Path) -> Path | None:
        """Rename *item* to a name of this run; None when another run took it first."""
        if self.dry_run:
            return item
        target = self.destination(item.name.split(".", 1)[0])
        _syncpoints.reach("prune.before-adopt")
        try:
            retry_transient(lambda: os.rename(item, target))
        except FileNotFoundError:
            return None  # adopted by another run, or finished by it
        except OSError:
            logger.warning("cannot take over %s from the trash; leaving it", item, exc_info=True)
            return None
        _syncpoints.reach("prune.after-adopt")
        return target


@contextlib.contextmanager
def own_trash(layout: Layout, *, dry_run: bool) -> Iterator[TrashRun]:
    """A trash run for the duration of the block: its owner lock held (no lock for a dry run).

    When the block ends the lock file goes, so what the run leaves in the
    trash is finished by the next run that looks.
    """
    token = unique_token()
    if dry_run:
        yield TrashRun(layout, token, dry_run=True)
        return
    lock = owner_lock(layout, token)
    with hold(lock, timeout=None, purpose="owning its items in the trash", root=layout.root):
        try:
            yield TrashRun(layout, token, dry_run=False)
        finally:
            unlink_quietly(lock)
