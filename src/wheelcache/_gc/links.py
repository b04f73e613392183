"""Finding and moving aside the links planted in a cache's layout.

Nothing below the root is followed (:mod:`wheelcache._fs.nofollow`): to a
lookup a link where the layout expects a directory or file is a miss, to
every scan it is absent. ``verify`` reports each one, and
``verify(repair=True)`` moves it into the quarantine: the link itself, by one
rename, never what it points to. A link at the quarantine itself is removed
(a link holds no data; unlinking it leaves its target alone).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .._fs.fsutil import retry_transient
from .._fs.nofollow import is_link, list_real_dir
from .._layout import unique_token

if TYPE_CHECKING:
    from .._layout import Layout

__all__ = ["find_links", "move_links_aside"]

logger = logging.getLogger("wheelcache")

# How deep each bucket's layout goes: entries and pointers sit in shards.
_SHARDED = ("wheels", "trees", "pointers", "locks", "statcache")


def find_links(layout: Layout) -> list[Path]:
    """Every link where the layout expects a bucket, shard, entry, pointer or lock.

    What the quarantine holds was moved aside already, and what the trash
    holds is prune's to delete (a link there is unlinked, never followed):
    only those buckets themselves are looked at.
    """
    found: list[Path] = []
    for bucket in layout.buckets():
        if is_link(bucket):
            found.append(bucket)
            continue
        if bucket in (layout.quarantine, layout.trash):
            continue
        sharded = any(bucket == getattr(layout, name) for name in _SHARDED)
        for item in list_real_dir(bucket):
            if item.is_symlink():
                found.append(Path(item.path))
            elif sharded and item.is_dir(follow_symlinks=False):
                found.extend(Path(i.path) for i in list_real_dir(item.path) if i.is_symlink())
    return found


def move_links_aside(layout: Layout, links: list[Path]) -> list[Path]:
    """Move each of *links* into the quarantine; return where they went.

    A link that is gone, or has been replaced by a real file or directory
    meanwhile, is left alone.
    """
    quarantine = layout.quarantine
    if is_link(quarantine):
        try:
            os.unlink(quarantine)
        except OSError:
            logger.warning("could not remove the link %s", quarantine, exc_info=True)
            return []
        logger.warning("removed the link %s (its target was left alone)", quarantine)
    moved = []
    for link in links:
        if link == quarantine or not is_link(link):
            continue
        relative = "_".join(link.relative_to(layout.root).parts)
        destination = quarantine / f"link-{relative}.{unique_token()}"
        try:
            quarantine.mkdir(parents=True, exist_ok=True)
            retry_transient(lambda: os.rename(link, destination))  # noqa: B023
        except OSError:
            logger.warning("could not move the link %s aside", link, exc_info=True)
            continue
        logger.warning("moved the link %s to %s", link, destination)
        moved.append(destination)
    return moved
