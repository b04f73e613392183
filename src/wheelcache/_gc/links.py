"""Finding and moving aside the links planted in a cache's layout.

Nothing below the root is followed for a write or a delete
(:mod:`wheelcache._fs.nofollow`), and every scan leaves links out. The hit
path does not look for links above a pointer or an entry's wheel (each look
is a system call on every hit): prune therefore refuses to run while one of
those is a link (:func:`refuse_followed_links`), so it never deletes what a
lookup reached through one. ``verify`` reports each link, and
``verify(repair=True)`` moves it into the quarantine: the link itself, by one
rename, never what it points to. A link at the quarantine itself is removed
(a link holds no data; unlinking it leaves its target alone).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import CacheError
from .._fs.fsutil import retry_transient
from .._fs.nofollow import is_link, list_real_dir
from .._layout import unique_token

if TYPE_CHECKING:
    from .._layout import Layout

__all__ = ["find_links", "followed_links", "move_links_aside", "refuse_followed_links"]

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


def followed_links(layout: Layout) -> list[Path]:
    """The links a lookup would follow: at a pointer shard, an entry shard or an entry.

    ``get()`` opens the pointer with ``O_NOFOLLOW`` and ``lstat`` calls the wheel,
    so a link at either of those is a miss; the directories above them it
    does not check. Listing reads directory entries only (no ``stat``).
    """
    found = [Path(item.path) for item in list_real_dir(layout.pointers) if item.is_symlink()]
    for shard in list_real_dir(layout.wheels):
        if shard.is_symlink():
            found.append(Path(shard.path))
        elif shard.is_dir(follow_symlinks=False):
            found.extend(Path(i.path) for i in list_real_dir(shard.path) if i.is_symlink())
    return found


def refuse_followed_links(layout: Layout) -> None:
    """Raise :class:`CacheError` naming the first link a lookup would follow.

    A lookup that followed such a link may have handed out an entry that
    prune, which never follows one, judges unreferenced or never sees; so
    prune deletes nothing until ``verify --repair`` has moved the link aside.
    """
    links = followed_links(layout)
    if links:
        more = f" (and {len(links) - 1} more)" if len(links) > 1 else ""
        raise CacheError(
            f"{links[0]} is a symbolic link{more}, which lookups follow; prune deleted"
            " nothing: run 'wheelcache verify --repair' to move it aside"
        )


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
