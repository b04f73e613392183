"""Which kind of lock keeps work from being done twice: ``flock`` or a lease.

``flock`` (the default) excludes processes on one host, and on a network
filesystem only within one host. ``lease`` (:mod:`wheelcache._fs.lease`)
excludes across hosts, at the price of a few more filesystem round trips per
lock and, after a holder dies, a wait for its lease to expire. The choice is
``WheelCache(lock_mode=...)``, else ``$WHEELCACHE_LOCK_MODE``, else ``flock``;
it applies to the build lock and the prune lock (docs/design.md, "Network
filesystems").
"""

from __future__ import annotations

import os

from .._errors import CacheError

__all__ = ["ENVIRONMENT_VARIABLE", "LOCK_MODES", "InvalidLockModeError", "lock_mode"]

ENVIRONMENT_VARIABLE = "WHEELCACHE_LOCK_MODE"

LOCK_MODES = ("flock", "lease")


class InvalidLockModeError(CacheError, ValueError):
    """A lock mode that is neither ``flock`` nor ``lease``."""


def lock_mode(chosen: str | None) -> str:
    """*chosen*, else ``$WHEELCACHE_LOCK_MODE``, else ``"flock"``; validated.

    Raises :class:`InvalidLockModeError` naming where the bad value came from.
    """
    origin = "lock_mode"
    if chosen is None:
        chosen, origin = os.environ.get(ENVIRONMENT_VARIABLE) or "flock", f"${ENVIRONMENT_VARIABLE}"
    if chosen not in LOCK_MODES:
        raise InvalidLockModeError(
            f"{origin}={chosen!r}: expected 'flock' (the default: one build per host)"
            " or 'lease' (one build across hosts sharing the cache)"
        )
    return chosen
