"""Remote garbage collection: old records first, then wheels no record names.

1. One LIST of ``revisions-v1/``: every record last modified more than
   ``max_age`` ago is deleted. The SHA-256 of the wheel each remaining
   record names is in the record's own object name (the last segment, in
   both layouts: ``<sha256>.rec2`` and the first layout's ``<sha256>.json``),
   so no record is read.
2. One LIST of ``wheels-v1/``: every wheel that no remaining record names and
   that was last modified more than ``grace`` ago is deleted. A wheel
   uploaded within the grace period stays even before its record exists,
   which covers every push in progress.

The race this leaves (docs/design.md, section 14.5): a pusher that found an
old, unnamed wheel present writes its record just after step 2 deleted the
wheel. The record dangles; a pull treats it as a miss, the machine builds,
and its push uploads the wheel again, repairing the pair.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from .records import LEGACY_SUFFIX, RECORD_SUFFIX, REVISIONS, WHEELS
from .reports import RemotePruneReport

if TYPE_CHECKING:
    from .objects import ObjectStore

__all__ = ["DEFAULT_MAX_AGE", "DEFAULT_REMOTE_GRACE", "prune_remote"]

logger = logging.getLogger("wheelcache.remote")

DEFAULT_MAX_AGE = 30 * 86400.0
"""Records older than this (seconds since they were written) are deleted."""

DEFAULT_REMOTE_GRACE = 3600.0
"""Unnamed wheel objects younger than this are kept: their records may be on the way."""


def prune_remote(
    objects: ObjectStore, *, max_age: float, grace: float, dry_run: bool = False
) -> RemotePruneReport:
    """Delete expired records, then unnamed wheel objects older than *grace*."""
    now = time.time()
    named: set[str] = set()
    removed_records = kept_records = 0
    for record in objects.list(f"{REVISIONS}/"):
        if now - record.modified > max_age:
            if not dry_run:
                objects.delete(record.key)
            removed_records += 1
        else:
            last = record.key.rsplit("/", 1)[-1]
            for suffix in (RECORD_SUFFIX, LEGACY_SUFFIX):
                if last.endswith(suffix):
                    named.add(last[: -len(suffix)])
            kept_records += 1
    removed_wheels = kept_wheels = freed = kept_bytes = 0
    for wheel in objects.list(f"{WHEELS}/"):
        parts = wheel.key.split("/")
        if len(parts) == 3 and parts[1] not in named and now - wheel.modified > grace:
            if not dry_run:
                objects.delete(wheel.key)
            removed_wheels += 1
            freed += wheel.size
        else:
            kept_wheels += 1
            kept_bytes += wheel.size
    logger.info("remote prune: %d records and %d wheels removed", removed_records, removed_wheels)
    return RemotePruneReport(
        dry_run, removed_records, removed_wheels, freed, kept_records, kept_wheels, kept_bytes
    )
