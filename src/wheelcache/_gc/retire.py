"""Reading every pointer, and retiring the sources ``max_age`` and ``max_size`` choose.

Prune reads every pointer before it deletes anything (:func:`scan_sources`):
an unread pointer could name any entry, so one that exists but cannot be read
stops the prune. Retiring a source (:func:`retire`) removes its pointer under
the source's pointer lock, taken without waiting, and freshens the entries it
names before and after the unlink; they go in a later prune, once the grace
period has passed (docs/design.md, "Garbage collection").
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import CacheError, cache_error
from .._fs import syncpoints as _syncpoints
from .._fs.fsutil import fsync_dir, retry_transient
from .._fs.locking import try_hold
from .._pointers.pointer import decode, read_bytes, referenced_digests

if TYPE_CHECKING:
    from .._layout import Layout
    from .._store.store import Store

__all__ = [
    "ScannedSource",
    "choose_retirees",
    "retire",
    "scan_sources",
    "sync_directories",
]

logger = logging.getLogger("wheelcache")


@dataclass
class ScannedSource:
    """One pointer file as prune read it: what it names, when last used, which file it was."""

    path: Path
    digest: str
    key: str | None
    references: frozenset[str]
    filenames: dict[str, str]
    sizes: dict[str, int]
    last_used: float
    identity: tuple[int, int, int]


def _unscannable(path: str | os.PathLike[str], exc: OSError) -> CacheError:
    reason = exc.strerror or str(exc)
    return CacheError(
        f"cannot read {os.fspath(path)} ({reason}); prune deleted nothing, because"
        " an unread pointer may name any entry"
    )


def scan_sources(layout: Layout) -> list[ScannedSource]:
    """Every pointer file and what it names; raises if any cannot be read."""

    def unscannable(path: str, exc: OSError) -> None:
        raise _unscannable(path, exc) from exc

    sources = []
    for digest, path in layout.pointer_files(on_error=unscannable):
        try:
            found = retry_transient(lambda: read_bytes(path, limit=None, strict=True))  # noqa: B023
        except OSError as exc:
            raise _unscannable(path, exc) from exc
        if found is None:
            continue  # removed since the listing
        data, info = found
        pointer = decode(data)
        wheels = pointer.wheels if pointer is not None else ()
        sources.append(
            ScannedSource(
                path=Path(path),
                digest=digest,
                key=pointer.key if pointer is not None else None,
                references=referenced_digests(data),
                filenames={w.sha256: w.filename for w in wheels},
                sizes={w.sha256: w.size for w in wheels},
                last_used=info.st_mtime,
                identity=(info.st_dev, info.st_ino, info.st_mtime_ns),
            )
        )
    return sources


def choose_retirees(
    sources: list[ScannedSource], *, max_size: int | None, max_age: float | None, now: float
) -> list[ScannedSource]:
    chosen: list[ScannedSource] = []
    if max_age is not None:
        chosen = [s for s in sources if now - s.last_used > max_age]
    if max_size is None:
        return chosen
    already = {id(s) for s in chosen}
    survivors = sorted((s for s in sources if id(s) not in already), key=lambda s: s.last_used)
    users: dict[str, int] = {}
    size_of: dict[str, int] = {}
    for source in survivors:
        for sha256 in source.references:
            users[sha256] = users.get(sha256, 0) + 1
            size_of[sha256] = max(size_of.get(sha256, 0), source.sizes.get(sha256, 0))
    total = sum(size_of.values())
    for source in survivors:  # least recently used first
        if total <= max_size:
            break
        chosen.append(source)
        for sha256 in source.references:
            users[sha256] -= 1
            if users[sha256] == 0:
                total -= size_of[sha256]
    return chosen


def retire(layout: Layout, store: Store, source: ScannedSource) -> bool:
    """Remove a source's pointer; its entries stay until they age out."""
    lock = layout.pointer_lock(source.digest)
    with try_hold(lock, create=True, root=layout.root) as held:
        if not held:
            return False  # a writer is updating it right now: it is in use
        try:
            info = os.stat(source.path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise cache_error(source.path, "stat", exc) from exc
        if (info.st_dev, info.st_ino, info.st_mtime_ns) != source.identity:
            return False  # used or rewritten since the scan
        _freshen_all(store, source)
        _syncpoints.reach("prune.retire-before-unlink")
        try:
            retry_transient(lambda: os.unlink(source.path))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise cache_error(source.path, "remove", exc) from exc
        # Again after the unlink: a lookup that read the pointer just before
        # it went and handed out an entry gets a full grace period from here.
        _freshen_all(store, source)
        logger.info("retired source %s", source.key or source.digest)
        return True


def sync_directories(directories: set[Path]) -> None:
    """Make the retirements durable: one fsync per pointer shard, not one per pointer.

    Nothing depends on an unlink being durable before the next prune: if a
    crash undoes one, the pointer is back and protects its entries again.
    """
    for directory in sorted(directories):
        try:
            fsync_dir(directory)
        except OSError:
            logger.warning("could not sync %s", directory, exc_info=True)


def _freshen_all(store: Store, source: ScannedSource) -> None:
    for sha256 in source.references:
        store.freshen(sha256, source.filenames.get(sha256))
