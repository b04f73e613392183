"""Reclaiming stat caches: those of trees that no longer exist, and the least recently written.

A stat cache (:mod:`wheelcache._tree.statcache`) only makes fingerprinting a
tree faster, so removing one is always safe: the next fingerprint of its tree
reads every file once and writes it again. No lock is needed: a process that
is reading one has its bytes already, and one that is writing one renames a
complete file into place, which at worst brings back what was just removed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .._fs.fsutil import shard_entries, unlink_quietly
from .._layout import source_digest
from .._tree.statcache import read_tree_path
from .leftovers import SETTLE_SECONDS

if TYPE_CHECKING:
    from .._layout import Layout

__all__ = ["MAX_STAT_CACHES", "reclaim_stat_caches"]

logger = logging.getLogger("wheelcache")

MAX_STAT_CACHES = 1_000
"""The most stat caches a prune keeps: the most recently written ones."""


def reclaim_stat_caches(layout: Layout, now: float, dry_run: bool) -> int:
    """Remove stat caches that serve no tree, and the oldest beyond :data:`MAX_STAT_CACHES`.

    A stat cache is removed when its header is damaged, when its name is not
    that of the tree it names, or when that tree is no longer a directory; temp files
    of writers are removed once :data:`SETTLE_SECONDS` old (a writer needs
    milliseconds). Returns how many files were (or, with *dry_run*, would be)
    removed.
    """
    doomed: list[Path] = []
    kept: list[tuple[float, Path]] = []
    for item in shard_entries(layout.statcache):
        path = Path(item.path)
        try:
            modified = item.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if item.name.endswith(".tmp"):
            if now - modified >= SETTLE_SECONDS:
                doomed.append(path)
            continue
        tree = read_tree_path(path) if item.name.endswith(".stat") else None
        if (
            tree is None
            or layout.stat_cache_file(source_digest(os.fsdecode(tree))) != path
            or not os.path.isdir(tree)
        ):
            doomed.append(path)
        else:
            kept.append((modified, path))
    kept.sort(reverse=True)
    doomed += [path for _, path in kept[MAX_STAT_CACHES:]]
    if not dry_run:
        for path in doomed:
            unlink_quietly(path)
    if doomed:
        logger.info("reclaimed %d stat caches", len(doomed))
    return len(doomed)
