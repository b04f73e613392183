"""Whether the owner of a leftover is alive: its lock is held, or (network filesystems) beats.

A process holds an owner lock for as long as it uses what the lock guards,
and the kernel releases the locks of a process that dies (assumption A3). On
a network filesystem a lock excludes only within one host, so there every
held lock is also heart-beaten (:mod:`wheelcache._fs.heartbeat`), and an
owner counts as dead only when its lock can be taken here *and* its file was
not touched for :data:`~wheelcache._fs.heartbeat.STALE_AFTER` seconds on the
filesystem's clock (docs/design.md, "Network filesystems").
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .._fs import heartbeat

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["beating"]


def beating(lock: Path, now: float) -> bool:
    """Whether *lock* was touched within :data:`heartbeat.STALE_AFTER` of *now*."""
    try:
        return now - os.stat(lock).st_mtime < heartbeat.STALE_AFTER
    except OSError:
        return False
