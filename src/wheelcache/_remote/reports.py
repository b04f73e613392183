"""What the explicit remote operations report: ``push`` and ``prune --remote``."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["PushReport", "RemotePruneReport"]


class PushReport(NamedTuple):
    """The outcome of :meth:`WheelCache.push <wheelcache.WheelCache.push>`."""

    sources: int
    """Local sources whose current revision was recorded remotely."""
    wheels: int
    """Wheels recorded (each one's record created, or found present)."""
    uploaded: int
    """Wheel objects uploaded because the remote did not have them."""
    skipped: int
    """Local sources that are not portable: keyed by a path on this machine, and not a
    project directory still as it was built (or one without a remote identity)."""


class RemotePruneReport(NamedTuple):
    """The outcome of :meth:`WheelCache.prune_remote <wheelcache.WheelCache.prune_remote>`."""

    dry_run: bool
    removed_records: int
    removed_wheels: int
    freed_bytes: int
    kept_records: int
    kept_wheels: int
    kept_bytes: int
