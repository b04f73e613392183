"""Lease locks: one holder across hosts, where ``flock`` excludes only within one.

A lease is a file created with ``O_EXCL`` (which excludes across hosts on NFS
and sshfs, unlike ``flock``) holding its owner (host, pid, a random token) and
how long it lasts without renewal. While held, the heartbeat thread
(:mod:`wheelcache._fs.heartbeat`) renews it by setting its modification time
every ``heartbeat.INTERVAL`` seconds. A waiter takes it over only once it was
not renewed for that long, judged on the *filesystem's* clock: the lease's
mtime against the mtime of a clock file in the same directory that the waiter
has just touched, never against the local clock. Release deletes the lease
only if it still holds our token. docs/design.md, "Network filesystems",
gives the argument that a takeover is race-free.

Like every lock in wheelcache a lease only keeps work from being done twice:
entries and pointers are published by atomic rename whoever holds what.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import socket
import time
from typing import TYPE_CHECKING, NamedTuple

from .._errors import CacheError, LockTimeout, cache_error
from . import heartbeat
from . import syncpoints as _syncpoints
from .fsclock import seconds_since
from .fsutil import retry_transient
from .nofollow import O_NOFOLLOW, link_error

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["CLOCK_NAME", "EXPIRES_AFTER", "POLL_SECONDS", "SUFFIX", "hold"]

logger = logging.getLogger("wheelcache")

SUFFIX = ".lease"
"""A lock at ``x`` is held as a lease at ``x.lease``: the two modes never share a file."""

CLOCK_NAME = "lease.clock"
"""The file a waiter touches to read the filesystem's clock (one per lock directory)."""

EXPIRES_AFTER = 30.0
"""Seconds without renewal after which a lease may be taken over (written into each lease).

``heartbeat.STALE_AFTER``: six renewals, far more than the 1 s granularity
of SFTP times plus an attribute cache's lag, and the same age after which
garbage collection on a network filesystem takes a lock file for dead.
"""

POLL_SECONDS = 0.05
"""How often a waiter tries to create the lease (one ``O_EXCL`` open, a server round trip)."""

_MARKERS = 8
"""Takeover markers tried per expired lease (each one only after the previous one expired)."""

_REFUSALS = 5
"""``EPERM`` creates with no file there before one counts as a refusal (see ``_create``).

Tried :data:`POLL_SECONDS` apart, so that racing waiters' short-lived
takeover markers are gone in between; a true refusal costs 0.2 s.
"""

_O_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_O_READ = os.O_RDONLY | O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class _Seen(NamedTuple):
    """One lease file as read through one open descriptor."""

    key: str
    """Its token; ``unwritten`` when its owner died (or is) between creating and writing it."""
    mtime: float
    expires_after: float


@contextlib.contextmanager
def hold(path: Path, *, timeout: float | None, purpose: str) -> Iterator[None]:
    """Hold the lease at *path*, waiting up to *timeout* seconds (None: forever).

    Raises :class:`LockTimeout` when *timeout* passes and :class:`CacheError`
    when the lease cannot be created or read (a link there is refused).
    Only the process that took the lease renews and releases it: a child
    forked meanwhile that unwinds this block leaves it to its parent.
    """
    token = secrets.token_hex(16)
    fd = _acquire(path, token, timeout, purpose)
    owner, location = os.getpid(), os.fspath(path)
    heartbeat.start(location)
    try:
        yield
    finally:
        if os.getpid() == owner:
            heartbeat.stop(location)
            _release(path, token, purpose)
        os.close(fd)


def _release(path: Path, token: str, purpose: str) -> None:
    """Delete the lease if it is still ours; a failure only delays the next holder."""
    try:
        removed = _remove_if(path, token, "released", must_be_expired=False)
    except CacheError as exc:
        logger.warning("%s; the lease expires on its own", exc)
        return
    if not removed:
        logger.warning(
            "the lease %s was taken over while %s: it went unrenewed for its"
            " expiry (a stalled process?); the work may have been done twice",
            path,
            purpose,
        )


def _acquire(path: Path, token: str, timeout: float | None, purpose: str) -> int:
    """Create the lease, waiting for its holder and taking over an expired one."""
    record = json.dumps(
        {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "token": token,
            "expires_after": EXPIRES_AFTER,
        }
    ).encode()
    started = time.monotonic()
    judge_at = started  # before this moment the lease seen last cannot have expired
    waiting = hurried = False
    while True:
        fd = _create(path, record)
        if fd is not None:
            return fd
        now = time.monotonic()
        gone = False  # released or taken over meanwhile: create it now
        if now >= judge_at:
            seen = _look(path)
            if seen is None:
                gone = True
            else:
                age = _age(path, seen)
                if age > seen.expires_after:
                    _syncpoints.reach("lease.expired")
                    gone = _take_over(path, seen, record)
                if not gone:
                    judge_at = now + max(seen.expires_after - age, POLL_SECONDS)
        if timeout is not None and now - started >= timeout:
            raise LockTimeout(path, purpose, now - started)
        if gone and not hurried:
            # At once, but once in a row: where "exists" and "gone" keep
            # disagreeing (an attribute cache), the loop polls, not spins.
            hurried = True
            continue
        hurried = False
        if not waiting:
            logger.info("waiting for another process to finish %s (lease %s)", purpose, path)
            waiting = True
        time.sleep(POLL_SECONDS)


def _take_over(path: Path, seen: _Seen, record: bytes) -> bool:
    """Remove the expired lease *seen* if this process wins the right to; say if it did.

    The right is an ``O_EXCL`` marker named after the lease's token: of all
    the waiters that judged this lease expired, one creates the marker. A
    marker left by a taker that died in the act expires like a lease; the
    next waiter tries the next marker name. Losers return and wait on.
    """
    won = -1
    for number in range(_MARKERS):
        marker = path.with_name(f"{path.name}.takeover-{seen.key}-{number}")
        fd = _create(marker, record)
        if fd is not None:
            os.close(fd)
            won = number
            break
        other = _look(marker)
        if other is None or _age(marker, other) <= other.expires_after:
            return False  # another waiter is taking it over (or has just done so)
    if won < 0:
        return False
    _syncpoints.reach("lease.marked")
    try:
        # Judged again under the marker: the holder may have renewed it, or
        # another waiter taken it over and released it, since we looked.
        current = _look(path)
        return (
            current is not None
            and current.key == seen.key
            and _age(path, current) > current.expires_after
            and _remove_if(path, seen.key, "expired", must_be_expired=True)
        )
    finally:
        for number in range(won + 1):
            with contextlib.suppress(OSError):
                os.unlink(path.with_name(f"{path.name}.takeover-{seen.key}-{number}"))


def _remove_if(path: Path, key: str, why: str, *, must_be_expired: bool) -> bool:
    """Delete the lease at *path* if it is the one with *key* (and expired, if asked).

    The file is first renamed to a name of our own, so what is judged is
    exactly what is deleted; a file that turns out to be another lease is
    linked back (``link`` never replaces a lease created meanwhile).
    """
    private = path.with_name(f"{path.name}.{why}-{secrets.token_hex(8)}")
    try:
        retry_transient(lambda: os.rename(path, private))
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise cache_error(path, "remove", exc) from exc
    moved = _look(private)
    if (
        moved is not None
        and moved.key == key
        and (not must_be_expired or _age(private, moved) > moved.expires_after)
    ):
        _unlink(private)
        return True
    try:
        os.link(private, path)
    except FileExistsError:
        logger.warning("lease %s was replaced while being judged; two holders now", path)
    except OSError:
        if not os.path.lexists(path):  # no hard links here: put it back by rename
            with contextlib.suppress(OSError):
                os.rename(private, path)
    _unlink(private)
    return False


def _create(path: Path, record: bytes) -> int | None:
    """Create *path* holding *record*; None if it exists. The descriptor is returned open.

    SFTP has no "exists" status for a racing exclusive create: sshfs says
    ``EPERM``, "exists" if the file is there. If not, its creator on another
    host may have removed it already (a takeover's marker, a lease released):
    try again; only :data:`_REFUSALS` refusals with nothing there are one.
    """
    for attempt in range(_REFUSALS):
        if attempt:
            time.sleep(POLL_SECONDS)
        try:
            try:
                fd = os.open(path, _O_CREATE, 0o666)
            except FileNotFoundError:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, _O_CREATE, 0o666)
            break
        except FileExistsError:
            return None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EACCES):
                raise cache_error(path, "create", exc) from exc
            if os.path.lexists(path):
                return None
            refused = exc
    else:
        raise cache_error(path, "create", refused)
    try:
        os.write(fd, record)
    except OSError as exc:
        os.close(fd)
        _unlink(path)
        raise cache_error(path, "write", exc) from exc
    _flock_quietly(fd)
    return fd


def _flock_quietly(fd: int) -> None:
    """Also ``flock`` it: garbage collection on this host then sees it as held."""
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (ImportError, OSError):
        pass  # a courtesy only; GC on a network filesystem goes by the heartbeat


def _look(path: Path) -> _Seen | None:
    """The lease at *path* as one descriptor shows it; None when there is none."""
    try:
        read = retry_transient(lambda: _read(path))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise link_error(path) from exc
        raise cache_error(path, "read", exc) from exc
    if read is None:
        return None
    data, info = read
    try:
        fields = json.loads(data)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        fields = {}  # its owner died between creating and writing it
    token, expires = fields.get("token"), fields.get("expires_after")
    if not (isinstance(expires, (int, float)) and 0 < expires < 1e6):
        expires = EXPIRES_AFTER
    return _Seen(
        token if isinstance(token, str) and token.isalnum() else "unwritten",
        info.st_mtime,
        float(expires),
    )


def _read(path: Path) -> tuple[bytes, os.stat_result] | None:
    """The lease's bytes and status through one descriptor; None when it is gone.

    Gone includes removed between the open and the ``fstat``: a network
    filesystem (sshfs) may answer an open file's ``fstat`` by its path, and a
    lease released or taken over by another host meanwhile is as good as one
    released before the open.
    """
    try:
        fd = os.open(path, _O_READ)
    except FileNotFoundError:
        return None
    try:
        return os.read(fd, 4096), os.fstat(fd)
    except FileNotFoundError:
        return None
    finally:
        os.close(fd)


def _age(path: Path, seen: _Seen) -> float:
    """Seconds since *seen* was last renewed, on the clock of *path*'s filesystem."""
    return seconds_since(seen.mtime, path.with_name(CLOCK_NAME))


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
