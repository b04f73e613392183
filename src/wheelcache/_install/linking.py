"""Putting a tree's file into an environment: by reflink clone, hard link or copy.

:class:`Linker` places files one at a time. ``auto`` tries a reflink clone
(``FICLONE`` on Linux: a copy-on-write copy that shares the blocks, on btrfs,
XFS, bcachefs...), then a hard link, then a copy; the first file decides,
and every later file uses the same way. Falling back to copying is logged
once, in one line naming the reason and the fix. An explicit ``clone`` or
``hardlink`` that cannot be done raises :class:`LinkModeError` instead.

There is no symlink mode: garbage collection may remove a tree, and an
environment made of symlinks into it would break. Hard links are names of the
same inode, so removing the tree's name leaves the environment's intact; the
files are read-only, so editing one cannot change the cache.
"""

from __future__ import annotations

import errno
import os
import sys

from .._errors import CacheError
from .._log import get_logger

__all__ = ["LINK_MODES", "LinkModeError", "Linker"]

logger = get_logger()

LINK_MODES = ("auto", "clone", "hardlink", "copy")

_FICLONE = 0x40049409  # _IOW(0x94, 9, int), linux/fs.h
_NOT_POSSIBLE = frozenset(
    {
        errno.EXDEV,
        errno.EPERM,
        errno.EACCES,
        errno.EMLINK,
        errno.EINVAL,
        errno.ENOTTY,
        errno.EOPNOTSUPP,
        getattr(errno, "ENOTSUP", errno.EOPNOTSUPP),
        errno.ENOSYS,
    }
)
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


class LinkModeError(CacheError, ValueError):
    """The requested link mode cannot be used between the cache and the environment."""


def _reason(exc: OSError) -> str:
    if exc.errno == errno.EXDEV:
        return "the cache and the environment are on different filesystems"
    if exc.errno in (errno.EPERM, errno.EACCES):
        return "the filesystem does not allow it here (files owned by another user?)"
    if exc.errno == errno.EMLINK:
        return "a file has too many links"
    return f"the filesystem does not support it ({exc.strerror or exc})"


class Linker:
    """Places files from a tree into an environment; see the module docstring."""

    def __init__(self, mode: str) -> None:
        if mode not in LINK_MODES:
            raise ValueError(f"link_mode must be one of {', '.join(LINK_MODES)}, not {mode!r}")
        self.requested = mode
        self.mode: str | None = None if mode == "auto" else mode
        """The way files are placed; decided by the first file under ``auto``."""

    def place(self, source: str, destination: str, mode: int) -> None:
        """Put the file *source* at *destination* (which must not exist).

        *mode* is the tree file's permission bits, which a copy gets as well.
        Under an explicit ``clone`` or ``hardlink`` that the filesystems do not
        allow, raises :class:`LinkModeError`.
        """
        try:
            self._place(source, destination, mode)
        except OSError as exc:
            if exc.errno not in _NOT_POSSIBLE or self.requested in ("auto", "copy"):
                raise
            raise LinkModeError(
                f"cannot install by {self.requested}: {_reason(exc)};"
                " use --link-mode auto (or copy)"
            ) from None

    def _place(self, source: str, destination: str, mode: int) -> None:
        if self.mode is None:
            self._decide(source, destination, mode)
            return
        if self.mode == "hardlink":
            try:
                os.link(source, destination)
                return
            except OSError as exc:
                if exc.errno != errno.EMLINK:
                    raise
            # One file with too many links: copy just this one.
        elif self.mode == "clone":
            _clone(source, destination, mode)
            return
        _copy(source, destination, mode)

    def _decide(self, source: str, destination: str, mode: int) -> None:
        reasons = []
        for candidate in ("clone", "hardlink"):
            try:
                if candidate == "clone":
                    _clone(source, destination, mode)
                else:
                    os.link(source, destination)
            except OSError as exc:
                if exc.errno not in _NOT_POSSIBLE:
                    raise
                reasons.append((candidate, exc))
                continue
            self.mode = candidate
            return
        hardlink_failure = reasons[-1][1]
        logger.warning(
            "installing by copying, not linking: %s; put the cache on the environment's"
            " filesystem (--cache-dir or WHEELCACHE_DIR) to install by hard link",
            _reason(hardlink_failure),
        )
        self.mode = "copy"
        _copy(source, destination, mode)


def _clone(source: str, destination: str, mode: int) -> None:
    if not sys.platform.startswith("linux"):
        raise OSError(errno.EOPNOTSUPP, "reflink clones are implemented for Linux only")
    import fcntl

    with open(source, "rb") as src:
        fd = os.open(destination, _WRITE_FLAGS, 0o600)
        try:
            fcntl.ioctl(fd, _FICLONE, src.fileno())
            os.fchmod(fd, mode)
        except BaseException:
            os.close(fd)
            os.unlink(destination)
            raise
        os.close(fd)


def _copy(source: str, destination: str, mode: int) -> None:
    import shutil  # only to copy: not on a warm install's path

    # Not shutil.copy2: an existing destination must not be overwritten.
    with open(source, "rb") as src:
        fd = os.open(destination, _WRITE_FLAGS, 0o600)
        try:
            with os.fdopen(fd, "wb", closefd=False) as dst:
                shutil.copyfileobj(src, dst)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
