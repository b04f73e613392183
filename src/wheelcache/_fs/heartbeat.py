"""Heartbeats: lock files that say "still alive" where other hosts cannot see the lock.

On a local filesystem a lock's holder is alive exactly while the kernel says
the lock is held. On a network filesystem ``flock`` excludes only within one
host, so a garbage collector on another host could take the lock of a live
workspace and judge it dead. There, every lock held by this process has its
file's modification time set to now every :data:`INTERVAL` seconds by one
background thread, and garbage collection on a network filesystem removes
what a lock guards only when the lock can be taken *and* its file has not
been touched for :data:`STALE_AFTER` seconds on the filesystem's clock
(docs/design.md, "Network filesystems").

The thread starts with the first lock held on a network filesystem and
sleeps while there is nothing to beat for; it is a daemon thread, so it never
keeps a process alive. A child forked without ``exec`` starts with no beats:
it holds no lock of its own.
"""

from __future__ import annotations

import logging
import os
import threading

__all__ = ["INTERVAL", "STALE_AFTER", "beating", "start", "stop"]

logger = logging.getLogger("wheelcache")

INTERVAL = 5.0
"""Seconds between two touches of a held lock file."""

STALE_AFTER = 30.0
"""Seconds without a touch after which a free lock on a network filesystem is taken for dead.

Six intervals: a holder whose heartbeat thread is starved that long is far
outside assumption A1's "no operation stalls" already.
"""

_guard = threading.Lock()
_paths: dict[str, int] = {}
_wake = threading.Event()
_thread: threading.Thread | None = None


def start(path: str) -> None:
    """Touch *path* every :data:`INTERVAL` seconds until :func:`stop` (counted per call)."""
    global _thread
    with _guard:
        _paths[path] = _paths.get(path, 0) + 1
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="wheelcache-heartbeat", daemon=True)
            _thread.start()
    _touch(path)


def stop(path: str) -> None:
    with _guard:
        count = _paths.get(path, 0) - 1
        if count > 0:
            _paths[path] = count
        else:
            _paths.pop(path, None)


def beating() -> frozenset[str]:
    """The lock files this process keeps alive now."""
    with _guard:
        return frozenset(_paths)


def _run() -> None:
    while True:
        _wake.wait(INTERVAL)
        _wake.clear()
        for path in beating():
            _touch(path)


def _touch(path: str) -> None:
    try:
        os.utime(path)
    except OSError as exc:
        logger.debug("heartbeat of %s failed: %s", path, exc)


def _forget_after_fork() -> None:
    global _guard, _thread
    _guard = threading.Lock()  # another thread may have held it at the fork
    _paths.clear()
    _thread = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
