"""Freshening an entry: the one write that protects it for a grace period.

To freshen an entry is to set its wheel's modification time to now. Only
the wheel's owner may do that to a read-only file, so in a cache shared by a
group (docs/design.md §6.8) a user who does not own the wheel sets the
entry directory's modification time instead, which the directory's group
write permission allows. Garbage collection takes the later of the two
times as the entry's freshness (``_gc.trash._wheel_state``).
"""

from __future__ import annotations

import os

from .._errors import cache_error
from .._fs.fsutil import touch

__all__ = ["touch_entry"]


def touch_entry(location: str) -> bool:
    """Freshen the entry whose wheel is at *location*; False if it is gone.

    Raises :class:`~wheelcache.CacheError` naming the path and the missing
    permission when neither the wheel nor its directory may be touched: a
    freshen that silently failed would break the grace promise.
    """
    try:
        return touch(location)
    except PermissionError:
        pass  # not ours: touch the directory instead
    except OSError as exc:
        raise cache_error(location, "freshen", exc) from exc
    directory = os.path.dirname(location)
    try:
        return touch(directory)
    except OSError as exc:
        raise cache_error(directory, "freshen (set the modification time of)", exc) from exc
