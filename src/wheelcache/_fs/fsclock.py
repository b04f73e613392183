"""The filesystem's clock: "now" as the filesystem stamps it, for comparing with mtimes.

A lease's age must be judged on the clock that stamped its modification time
(the server's on NFS), not on this host's: the waiter sets a clock file's
mtime to "now" and reads it back (docs/design.md, "Network filesystems").
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .._errors import cache_error
from .fsutil import retry_transient
from .nofollow import O_NOFOLLOW

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["seconds_since"]

_O_CLOCK = os.O_RDWR | os.O_CREAT | O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def seconds_since(mtime: float, clock: Path) -> float:
    """Seconds from *mtime* to now, on the clock of *clock*'s filesystem.

    *clock* is touched (created if need be) so that the filesystem sets its
    mtime to "now"; a link there is never followed. Raises
    :class:`~wheelcache.CacheError` when it cannot be touched.
    """
    try:
        now = retry_transient(lambda: _touched(clock))
    except OSError as exc:
        raise cache_error(clock, "touch", exc) from exc
    return now - mtime


def _touched(clock: Path) -> float:
    """Set *clock*'s mtime to now (creating it) and return it."""
    fd = os.open(clock, _O_CLOCK, 0o666)
    try:
        if os.utime in os.supports_fd:
            os.utime(fd)
        else:  # pragma: no cover - Windows: the clock was just opened, not followed
            os.utime(clock)
        return os.fstat(fd).st_mtime
    finally:
        os.close(fd)
