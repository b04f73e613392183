"""Freshening an entry: the one write that protects it for a grace period.

To freshen an entry is to set its wheel's modification time to now. Only
the wheel's owner may do that to a read-only file, so in a cache shared by a
group (docs/design.md §6.8) a user who does not own the wheel sets the
entry directory's modification time instead, which the directory's group
write permission allows. Garbage collection takes the later of the two
times as the entry's freshness (``_gc.trash._wheel_state``).

Over SFTP (sshfs) a time can only be *set*, never "set to now", and only its
owner may set it, write permission or not. There a user who owns neither
creates a file in the entry directory and removes it: that moves the
directory's modification time to now on the server's clock, with nothing but
the directory's group write permission (docs/design.md §13). Everything that
looks into an entry counts only its ``.whl`` file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import cache_error
from .._fs.fsutil import touch, unlink_quietly
from .._fs.nofollow import O_NOFOLLOW, list_real_dir, real_ancestors
from .._layout import unique_token

if TYPE_CHECKING:
    from .._paths import Paths

__all__ = ["freshen_entry", "touch_entry"]


def freshen_entry(paths: Paths, sha256: str, filename: str | None = None) -> bool:
    """Freshen the entry *sha256* below *paths*; False when it is missing or a link.

    *filename* is its wheel's name; without it the entry is listed for its one
    ``.whl``. A link at the wheel or at any directory up to the bucket makes
    the entry missing: never followed for a write (docs/design.md §2).
    Raises as :func:`touch_entry` does.
    """
    if filename is None:
        entry = os.path.dirname(paths.entry_file_str(sha256, ""))
        wheels = [item.name for item in list_real_dir(entry) if item.name.endswith(".whl")]
        if len(wheels) != 1:
            return False
        filename = wheels[0]
    location = paths.entry_file_str(sha256, filename)
    try:
        info = os.lstat(location)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or not real_ancestors(location, 3):
        return False
    return touch_entry(location)


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
    except PermissionError as exc:
        refused = exc
    except OSError as exc:
        raise cache_error(directory, "freshen (set the modification time of)", exc) from exc
    touched = _touch_by_creating(directory)
    if touched is None:
        raise cache_error(directory, "freshen (set the modification time of)", refused)
    return touched


def _touch_by_creating(directory: str) -> bool | None:
    """Move *directory*'s time to now by creating a file in it; False if gone, None if refused."""
    marker = os.path.join(directory, f".fresh-{unique_token()}")
    try:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW, 0o600))
    except FileNotFoundError:
        return False
    except OSError:
        return None
    # Gone only if prune moved the entry meanwhile: deleted with it, or harmless beside the wheel.
    unlink_quietly(Path(marker))
    return True
