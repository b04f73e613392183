"""Locks that avoid duplicate work.

wheelcache's correctness never depends on a lock being honoured: entries are
published by atomic rename and pointers by atomic replace, so two processes
that both ignore every lock still leave a valid cache. Locks only keep work
from being done twice:

* the **build lock** of a source: one ``get_or_build`` builds while the others
  wait, then hit;
* the **pointer lock** of a source: concurrent ``add()`` calls for one
  revision merge their wheels instead of the last writer dropping the others'
  (a lost merge costs a rebuild, never a wrong wheel);
* the **prune lock**: one garbage collection at a time;
* an **owner lock** per staging directory, held while it is in use, so that
  garbage collection reclaims only the leftovers of dead processes.

Locks are ``flock`` locks on POSIX and filelock's locks elsewhere, so a
killed process releases them with its last file descriptor: no lock stays
held after ``kill -9``. On POSIX a lock is taken directly: one open, one
non-blocking ``flock`` (retried every :data:`POLL_SECONDS` while another
process holds it), and a check that the file locked is still the one at the
path. A filesystem where that fails, and Windows, are left to filelock,
which takes the same ``flock`` on POSIX.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from typing import TYPE_CHECKING

from .._errors import CacheError, LockTimeout, cache_error
from .mounts import is_network_filesystem
from .nofollow import link_error, refuse_links

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from filelock import FileLock

__all__ = ["LockTimeout", "hold", "try_hold"]

logger = logging.getLogger("wheelcache")

POLL_SECONDS = 0.005
"""How often a waiter retries a held lock. A waiter polls a non-blocking
``flock`` (as filelock does), since a blocking one could not honour a
timeout. At filelock's default (50 ms) a process waiting for another's build
sleeps through most of the moment the lock is free, and eight waiters queue
up for several polls each. A retry is an open and a ``flock``, so 5 ms costs
nothing."""


_REPLACED_ATTEMPTS = 3
"""Lock files found replaced in a row before an attempt counts as "held" (see _flock_now)."""


@contextlib.contextmanager
def hold(
    path: Path,
    *,
    timeout: float | None,
    purpose: str,
    root: Path | None = None,
    mode: str = "flock",
) -> Iterator[None]:
    """Hold the lock at *path* (creating its directory); wait up to *timeout* (None: forever).

    *purpose* says what the lock guards (messages name it). Waiting longer
    than a moment is logged, so a user whose command seems to hang can see
    which other process it is waiting for. Raises :class:`LockTimeout` when
    *timeout* passes, :class:`CacheError` when the lock file cannot be
    created or locked, or when it, or a directory between *root* and it, is a
    link (:mod:`wheelcache._fs.nofollow`).

    Only the process that took the lock releases it: a child forked meanwhile
    that unwinds this block (``sys.exit()`` in a build callback) leaves the
    lock to its parent. The lock is the open file's, which a child forked
    without exec shares: if the parent dies first, the lock stays held until
    that child exits too (descriptors are close-on-exec, so an exec drops it).

    *mode* ``"lease"`` holds a lease file next to *path* instead, which
    excludes across hosts (:mod:`wheelcache._fs.lease`).
    """
    if root is not None:
        refuse_links(root, path)
    if mode == "lease":
        from . import lease

        with lease.hold(path.with_name(path.name + lease.SUFFIX), timeout=timeout, purpose=purpose):
            yield
        return
    owner = os.getpid()
    fd = _hold_directly(path, timeout, purpose) if os.name == "posix" else None
    if fd is not None:
        try:
            with _alive(path):
                yield
        finally:
            _release(fd, owner)
        return
    with _hold_with_filelock(path, timeout, purpose), _alive(path):
        yield


def _release(fd: int, owner: int) -> None:
    """Unlock and close *fd* in the process that took the lock; only close it in a forked child."""
    if os.getpid() == owner:
        _unflock(fd)
    else:
        os.close(fd)  # the lock stays its parent's


@contextlib.contextmanager
def _alive(path: Path) -> Iterator[None]:
    """On a network filesystem, where other hosts cannot see the lock: beat while held."""
    location = os.fspath(path)
    if not is_network_filesystem(os.path.dirname(location)):
        yield
        return
    from . import heartbeat

    heartbeat.start(location)
    try:
        yield
    finally:
        heartbeat.stop(location)


def _hold_directly(path: Path, timeout: float | None, purpose: str) -> int | None:
    """POSIX: take the lock with ``flock`` itself, polling while another holds it.

    Returns the locked descriptor, or None when ``flock`` cannot be used here
    (the caller then leaves the lock to filelock).
    """
    try:
        fd = _flock_now(path)
        if fd is not None:
            return fd
        logger.info("waiting for another process to finish %s (lock %s)", purpose, path)
        started = time.monotonic()
        while timeout is None or time.monotonic() - started < timeout:
            time.sleep(POLL_SECONDS)
            fd = _flock_now(path)
            if fd is not None:
                return fd
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise link_error(path) from exc
        logger.debug("cannot flock %s directly (%s); using filelock", path, exc)
        return None
    raise _timed_out(path, purpose, started)


@contextlib.contextmanager
def _hold_with_filelock(path: Path, timeout: float | None, purpose: str) -> Iterator[None]:
    """Windows, and POSIX filesystems where ``flock`` fails: filelock's own lock."""
    from filelock import Timeout

    lock = _make(path)
    owner = os.getpid()
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.info("waiting for another process to finish %s (lock %s)", purpose, path)
        started = time.monotonic()
        try:
            lock.acquire(timeout=-1 if timeout is None else timeout, poll_interval=POLL_SECONDS)
        except Timeout:
            raise _timed_out(path, purpose, started) from None
        except OSError as exc:
            raise cache_error(path, "lock", exc) from exc
    except OSError as exc:
        raise cache_error(path, "lock", exc) from exc
    try:
        yield
    finally:
        if os.getpid() == owner:
            lock.release()


def _timed_out(path: Path, purpose: str, started: float) -> LockTimeout:
    return LockTimeout(path, purpose, time.monotonic() - started)


@contextlib.contextmanager
def try_hold(path: Path, *, create: bool = False, root: Path | None = None) -> Iterator[bool]:
    """Try the lock at *path* without waiting; yield whether it is held.

    Without *create* a missing lock file is not created (yields False), so
    probing another process's lock leaves no debris. With *create* a missing
    lock file (and its directory) is created and taken, so that no process
    can start the work it guards while we hold it. Yields False as well when
    the file was replaced while being locked: what is held must be the file
    that is at *path* now, since callers go on to delete it, and when the
    file, or a directory between *root* and it, is a link: it is not followed.
    """
    if root is not None:
        try:
            refuse_links(root, path)
        except CacheError:
            yield False
            return
    if os.name != "posix":
        with _try_hold_portably(path, create) as held:
            yield held
        return
    # On POSIX a probe is one open and one non-blocking flock, the same lock
    # filelock takes; garbage collection probes every orphan lock file, and a
    # FileLock object costs several times that.
    fd: int | None = None
    try:
        if create:
            fd = _flock_now(path)
        else:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
            if not _flock_if_free(fd, path):
                os.close(fd)
                fd = None
    except OSError:
        fd = None
    if fd is None:
        yield False
        return
    owner = os.getpid()
    try:
        yield True
    finally:
        _release(fd, owner)


def _flock_now(path: Path) -> int | None:
    """Take the ``flock`` of the file at *path* (created if missing) without waiting.

    Returns the locked descriptor, or None while another process holds the
    lock. Raises OSError when it cannot be taken this way at all (no
    ``flock`` on this filesystem, no permission). A file replaced between the
    open and the lock (garbage collection removes orphan lock files) is let
    go and the new one tried, since locking a file no longer at *path* would
    exclude nobody; a file replaced every time counts as held for now.
    """
    import fcntl

    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    for _attempt in range(_REPLACED_ATTEMPTS):
        try:
            fd = os.open(path, flags, 0o666)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, flags, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None  # held by another process
        except OSError:
            os.close(fd)
            raise
        try:
            if _is_the_file_at(fd, path):
                return fd
        except FileNotFoundError:
            pass  # unlinked since: try the file that takes its place
        except OSError:
            _unflock(fd)
            raise
        _unflock(fd)
    return None


def _unflock(fd: int) -> None:
    """Release a lock taken by :func:`_flock_now` and close its descriptor.

    The explicit unlock matters: a child forked meanwhile shares the open
    file, and closing only our descriptor would leave the lock held by it.
    """
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _is_the_file_at(fd: int, path: Path) -> bool:
    locked, current = os.fstat(fd), os.stat(path)
    return locked.st_nlink > 0 and (locked.st_dev, locked.st_ino) == (
        current.st_dev,
        current.st_ino,
    )


def _flock_if_free(fd: int, path: Path) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return _is_the_file_at(fd, path)
    except OSError:
        return False


@contextlib.contextmanager
def _try_hold_portably(path: Path, create: bool = False) -> Iterator[bool]:
    if (not create and not path.exists()) or path.is_symlink():
        yield False
        return
    from filelock import FileLock, Timeout

    lock = FileLock(path)
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=0)
    except (Timeout, OSError):
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _make(path: Path) -> FileLock:
    from filelock import FileLock

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cache_error(path.parent, "create", exc) from exc
    return FileLock(path)
