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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import CacheError, cache_error
from .._fs import syncpoints as _syncpoints
from .._fs.fsutil import fsync_dir, retry_transient
from .._fs.locking import try_hold
from .._fs.mounts import is_network_filesystem
from .._pointers.any_version import USE_INTERVAL, referenced_digests
from .._pointers.pointer import decode
from .._pointers.settled import read_settled
from .idle import is_idle, uses_are_recorded

if TYPE_CHECKING:
    from .._layout import Layout
    from .._store.store import Store
    from .reports import Tally

__all__ = [
    "ScannedSource",
    "choose_retirees",
    "retire",
    "retire_chosen",
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
    name: str | None
    filename: str | None
    """The sdist's file name, if the pointer records one."""
    references: frozenset[str]
    filenames: dict[str, str]
    sizes: dict[str, int]
    last_used: float
    identity: tuple[int, int, int]
    info: os.stat_result


def _unscannable(path: str | os.PathLike[str], exc: OSError) -> CacheError:
    reason = exc.strerror or str(exc)
    return CacheError(
        f"cannot read {os.fspath(path)} ({reason}); prune deleted nothing, because"
        " an unread pointer may name any entry"
    )


HIDDEN_SECONDS = 0.1
"""How long after its first look prune looks for pointers again, on a network filesystem.

Replacing a file that a process of the same host has open first moves the
old file to a hidden name (sshfs: ``.fuse_hidden*``, NFS: ``.nfs*``), then
renames the new one in: for that instant other hosts see no pointer at all.
Both steps are one round trip each; to be missed, a pointer would have to be
caught in that instant at both looks (docs/design.md §13).
"""


def scan_sources(layout: Layout) -> list[ScannedSource]:
    """Every pointer file and what it names; raises if any cannot be read."""
    network = is_network_filesystem(os.fspath(layout.pointers))
    sources = _scan(layout, network, frozenset())
    if network:
        time.sleep(HIDDEN_SECONDS)
        sources += _scan(layout, network, frozenset(s.path for s in sources))
    return sources


def _scan(layout: Layout, network: bool, seen: frozenset[Path]) -> list[ScannedSource]:
    """The pointers that are not in *seen*, read."""

    def unscannable(path: str, exc: OSError) -> None:
        raise _unscannable(path, exc) from exc

    sources = []
    for digest, path in layout.pointer_files(on_error=unscannable):
        if Path(path) in seen:
            continue
        try:
            found = retry_transient(
                lambda: read_settled(path, network=network, limit=None, strict=True)  # noqa: B023
            )
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
                name=pointer.name if pointer is not None else None,
                filename=pointer.filename if pointer is not None else None,
                references=referenced_digests(data),
                filenames={w.sha256: w.filename for w in wheels},
                sizes={w.sha256: w.size for w in wheels},
                last_used=info.st_mtime,
                identity=(info.st_dev, info.st_ino, info.st_mtime_ns),
                info=info,
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


def retire(layout: Layout, store: Store, source: ScannedSource, *, idle: bool) -> bool | None:
    """Remove a source's pointer; None if it is in use, else whether its entries may go now.

    For a source that is not *idle* (docs/design.md, "Idle sources") the
    entries it names are freshened before and after the unlink and stay until
    they age out: False. For an idle one nothing is freshened, and True says
    its entries are judged by their own freshness in this prune, unless a hit
    recorded a use between the scan and the unlink; then they are freshened
    after all, and the answer is False.
    """
    lock = layout.pointer_lock(source.digest)
    with try_hold(lock, create=True, root=layout.root) as held:
        if not held:
            return None  # a writer is updating it right now: it is in use
        try:
            fd = os.open(source.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise cache_error(source.path, "open", exc) from exc
        try:
            if _identity_now(fd) != source.identity:
                return None  # used, rewritten or retired by another host since the scan
            if not idle:
                _freshen_all(store, source)
            _syncpoints.reach("prune.retire-before-unlink")
            try:
                retry_transient(lambda: os.unlink(source.path))
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise cache_error(source.path, "remove", exc) from exc
            # A hit that recorded a use before the unlink changed this file's
            # mtime; one that tries after it finds the pointer gone (link
            # count 0) and freshens what it hands out itself.
            idle = idle and _identity_now(fd) == source.identity
        finally:
            os.close(fd)
        if not idle:
            # Again after the unlink: a lookup that read the pointer just before
            # it went and handed out an entry gets a full grace period from here.
            _freshen_all(store, source)
        logger.info("retired source %s", source.key or source.digest)
        return idle


def _identity(info: os.stat_result) -> tuple[int, int, int]:
    return (info.st_dev, info.st_ino, info.st_mtime_ns)


def _identity_now(fd: int) -> tuple[int, int, int] | None:
    """The open pointer's identity; None once it is gone.

    A network filesystem (sshfs) may answer an open file's ``fstat`` by its
    path: ENOENT when another host removed the pointer meanwhile.
    """
    try:
        return _identity(os.fstat(fd))
    except FileNotFoundError:
        return None


def retire_chosen(
    layout: Layout,
    store: Store,
    chosen: list[ScannedSource],
    *,
    now: float,
    grace: float,
    tally: Tally,
    dry_run: bool,
) -> dict[int, bool]:
    """Retire *chosen*; for each retired source (by ``id``), whether its entries may go now.

    A source's entries may go in this prune when it is idle and every reader
    could have recorded its use (:mod:`wheelcache._gc.idle`); otherwise they
    were freshened and wait for the grace period. A dry run retires nothing
    and answers what a real prune would, barring races.
    """
    outcome: dict[int, bool] = {}
    for source in chosen:
        idle = is_idle(
            source.last_used, now=now, grace=grace, interval=USE_INTERVAL
        ) and uses_are_recorded(source.path, source.info)
        result = idle if dry_run else retire(layout, store, source, idle=idle)
        if result is None:
            continue
        outcome[id(source)] = result
        tally.retired.append(source.key if source.key is not None else source.digest)
    if not dry_run:
        sync_directories({s.path.parent for s in chosen if id(s) in outcome})
    return outcome


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
