"""Small filesystem primitives: durable writes, directory fsync, hashing, retries.

Everything here is about *one* filesystem operation done carefully (or, for
garbage collection, one quiet unlink, one tree's size, one bucket's listing);
copying a wheel in is :mod:`wheelcache._store.copying`, and the protocols built
from these live in :mod:`wheelcache._store.store` (entries),
:mod:`wheelcache._pointers.pointer` (pointer files) and the garbage collection modules
(:mod:`wheelcache._gc.prune` and the modules it names).

Windows differs from POSIX in two ways that matter to a shared cache (and a
network filesystem in a third, ``ESTALE``; docs/design.md, "Network filesystems"):

* renaming onto an existing directory fails (``FileExistsError``, or
  ``PermissionError`` when the target is busy) instead of replacing an empty
  one, and
* virus scanners and indexers briefly open new files without
  ``FILE_SHARE_DELETE``, so renames, replaces and deletes fail for a moment
  with ``PermissionError`` (WinError 5, access denied; 32, sharing violation;
  33, lock violation).

:func:`retry_transient` retries exactly those transient errors, with backoff,
for a bounded time. The predicate :func:`is_transient` is the single place
that decides what is transient, so tests simulate Windows by raising the same
errors Windows raises.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

from .._log import get_logger
from .hashing import CHUNK_SIZE, file_sha256
from .nofollow import chmod_nofollow, list_real_dir

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "CHUNK_SIZE",
    "EXISTS_ERRNOS",
    "MAY_EXIST_ERRNOS",
    "RETRY_SECONDS",
    "backoff",
    "digest_directories",
    "file_sha256",
    "fsync_dir",
    "is_transient",
    "make_directories",
    "remove_tree",
    "retry_transient",
    "shard_entries",
    "touch",
    "tree_size",
    "unlink_quietly",
    "write_file_atomic",
]

logger = get_logger()

EXISTS_ERRNOS = frozenset({errno.EEXIST, errno.ENOTEMPTY})
"""How a local filesystem refuses a rename onto an existing, non-empty directory."""

MAY_EXIST_ERRNOS = frozenset({errno.EPERM, errno.EACCES, errno.EBUSY})
"""How other filesystems refuse it: SFTP (sshfs) answers EPERM, some NFS and SMB
servers EACCES or EBUSY. Each may also be a real permission problem, so "the
target may exist" is judged by looking (docs/design.md §13)."""


RETRY_SECONDS = 10.0
"""How long transient (Windows) sharing errors are retried before giving up."""

IS_WINDOWS = sys.platform == "win32"

_TRANSIENT_WINERRORS = frozenset({5, 32, 33})  # access denied, sharing violation, lock violation
_ESTALE = getattr(errno, "ESTALE", 116)

T = TypeVar("T")


def is_transient(exc: OSError) -> bool:
    """Say whether *exc* is a momentary error worth retrying.

    Two kinds are: a Windows sharing error, and ``ESTALE`` from a network
    filesystem (a file handle that another host's rename or delete made
    stale; the next attempt looks the path up afresh). On POSIX a
    ``PermissionError`` is a real permission problem and is never retried;
    an error carrying a Windows error code is judged by that code.
    """
    if exc.errno == _ESTALE:
        return True
    winerror = getattr(exc, "winerror", None)
    if winerror is not None:
        return winerror in _TRANSIENT_WINERRORS
    return IS_WINDOWS and isinstance(exc, PermissionError)


def backoff() -> Iterator[float]:
    """Delays for a retry loop: 5 ms, doubling up to a quarter of a second."""
    delay = 0.005
    while True:
        yield delay
        delay = min(delay * 2, 0.25)


def retry_transient(operation: Callable[[], T], *, seconds: float | None = None) -> T:
    """Run *operation*, retrying transient sharing errors for up to *seconds*.

    *seconds* defaults to :data:`RETRY_SECONDS`.

    Any other error, and a transient one that outlives the deadline,
    propagates unchanged.
    """
    deadline = time.monotonic() + (RETRY_SECONDS if seconds is None else seconds)
    delays = backoff()
    while True:
        try:
            return operation()
        except OSError as exc:
            if not is_transient(exc) or time.monotonic() >= deadline:
                raise
            delay = next(delays)
            logger.debug("transient error %s; retrying in %.3fs", exc, delay)
            time.sleep(delay)


def fsync_dir(path: Path) -> None:
    """Make the directory entries of *path* durable (a no-op where unsupported).

    Windows cannot open directories for fsync; NTFS journals metadata, so the
    rename itself is what we rely on there.
    """
    if IS_WINDOWS:  # pragma: no cover - exercised on Windows only
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_directories(path: Path) -> None:
    """Create *path* and its missing parents durably: each one's parent is fsynced.

    A directory that mkdir created is lost in a crash, with everything in it,
    until the directory holding it is fsynced. If another process creates one
    of them first, its parent is fsynced anyway (that process may not have yet).
    """
    missing = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            if not directory.is_dir():
                raise
        fsync_dir(directory.parent)


def write_file_atomic(path: Path, data: bytes, *, temp_name: str) -> None:
    """Durably replace *path* with *data*: temp file, fsync, replace, directory fsync.

    The temp file ``temp_name`` lives in the same directory so the replace is a
    same-filesystem rename. On failure the temp file is removed.
    """
    temp = path.with_name(temp_name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temp, flags, 0o666)  # less the umask: group-writable in a shared cache
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        retry_transient(lambda: os.replace(temp, path))
    except BaseException:
        unlink_quietly(temp)
        raise
    fsync_dir(path.parent)


def touch(path: str | os.PathLike[str]) -> bool:
    """Set *path*'s modification time to now; return False if it does not exist.

    A link at *path* is not followed (its own time is set, where the platform
    can); callers check the directories above it (:mod:`wheelcache._fs.nofollow`).
    """
    try:
        if _UTIME_NOFOLLOW:
            os.utime(path, follow_symlinks=False)
        else:  # pragma: no cover - platforms without utimensat
            os.utime(path)
    except FileNotFoundError:
        return False
    return True


_UTIME_NOFOLLOW = os.utime in os.supports_follow_symlinks


def unlink_quietly(path: Path) -> bool:
    """Remove the file *path*; say whether it went. A failure is only logged (debug)."""
    try:
        os.unlink(path)
    except OSError:
        logger.debug("could not remove %s", path, exc_info=True)
        return False
    return True


def _make_writable_and_retry(function: Callable[..., object], path: str, exc: object) -> None:
    # What vanished was deleted by another process removing the same tree (two
    # prunes on two hosts reclaiming one dead workspace): not an error.
    error = exc[1] if isinstance(exc, tuple) else exc
    if isinstance(error, FileNotFoundError):
        return
    # Entry files are read-only; on Windows that blocks deletion, and a
    # read-only directory blocks deleting its children everywhere. Neither
    # chmod follows a link: rmtree never descends into one, and the target
    # of a link found in the tree is outside the cache.
    try:
        chmod_nofollow(os.path.dirname(path), stat.S_IRWXU)
        accessible = chmod_nofollow(path, stat.S_IRWXU)
        if function in (os.unlink, os.remove, os.rmdir):
            function(path)
        elif accessible:  # a directory that could not be opened or listed
            os.listdir(path)  # still not listable: raises, rather than retrying forever
            remove_tree(Path(path))
        elif isinstance(error, BaseException):
            raise error
    except FileNotFoundError:
        pass


def remove_tree(path: Path) -> None:
    """Delete *path* and everything below it; a missing path is not an error.

    A link at *path* is removed itself; nothing a link points to is touched.
    """
    import shutil  # not on the lookup path: only prune, clean and failures delete trees

    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
            return
    except FileNotFoundError:
        return
    try:
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=_make_writable_and_retry)
        else:  # pragma: no cover - depends on the interpreter running the tests
            shutil.rmtree(path, onerror=_make_writable_and_retry)
    except FileNotFoundError:
        pass


def tree_size(path: str | os.PathLike[str]) -> int:
    """Bytes of the regular files at or below *path*, not following symlinks (0 if gone)."""
    try:
        info = os.lstat(path)
    except OSError:
        return 0
    if stat.S_ISREG(info.st_mode):
        return info.st_size
    if not stat.S_ISDIR(info.st_mode):
        return 0
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                child = os.lstat(os.path.join(directory, name))
                if stat.S_ISREG(child.st_mode):
                    total += child.st_size
    return total


def shard_entries(bucket: Path) -> Iterator[os.DirEntry[str]]:
    """The entries of every shard directory in *bucket*, one shard listed at a time.

    Nothing is followed (:mod:`wheelcache._fs.nofollow`): a bucket that is
    missing, cannot be listed or is a link yields nothing; a shard that cannot
    be listed, is not a directory or is a link is skipped, and so is an item
    that is a link.
    """
    for shard in list_real_dir(bucket):
        if not shard.is_dir(follow_symlinks=False):
            continue
        for item in list_real_dir(shard.path):
            if not item.is_symlink():
                yield item


def digest_directories(bucket: Path) -> Iterator[tuple[str, Path]]:
    """Every ``<bucket>/<aa>/<sha256>`` directory as (sha256, path), in no particular order.

    Links are skipped: a linked bucket, shard or directory is never followed.
    """
    for child in shard_entries(bucket):
        shard = os.path.basename(os.path.dirname(child.path))
        if (
            len(child.name) == 64
            and child.name.startswith(shard)
            and child.is_dir(follow_symlinks=False)
        ):
            yield child.name, Path(child.path)
