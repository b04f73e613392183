"""Prune and clean: garbage collection, the only code that deletes anything.

The contract (argued in docs/design.md, "Garbage collection"):

* **Grace.** An entry is deleted no sooner than ``grace`` seconds after the
  last moment a current pointer named it, and no sooner than ``grace`` seconds
  after it was published, found already present by a publisher, or handed out
  by a lookup. Each of those events *freshens* the entry: sets the wheel
  file's modification time to now. Prune deletes an entry only when no pointer
  it read names it and its modification time is older than ``grace`` before
  the prune began (both times as the cache's filesystem records them). If a
  pointer cannot be read, prune deletes nothing and raises.
* **No blocking.** Readers take no lock. Prune waits only for the prune lock
  (one prune or clean at a time); other locks it merely tries, never waiting:
  a source's pointer lock when it retires that source or removes a pointer
  temp file, a staging directory's owner lock to tell a live publisher from
  a dead one, and the lock files of sources that no longer have a pointer.
* **No half-deleted entries.** An entry leaves its place by one rename into
  the trash; only then is it deleted. A reader sees the whole entry or a miss.
* **Re-check and restore.** After the rename, prune looks at the entry's
  modification time again; if a publisher or lookup freshened it in between,
  prune puts it back (or, if an identical copy was published meanwhile,
  discards its own).
* **Crash safety.** Everything in the trash when a prune starts was left by a
  prune or clean that died; the next prune restores what is still wanted
  (complete entries only: never one emptied by a delete cut short) and
  deletes the rest.
* **One bad entry does not stop a prune.** An entry that cannot be moved or
  deleted is left, with a warning, for the next prune.
* **Two phases, unless idle.** Retiring a source (``max_age``, ``max_size``)
  removes its pointer now, freshening its entries before and after; the
  entries go in a later prune, once ``grace`` has passed. A source idle for
  longer than ``grace + USE_INTERVAL``, whose every reader could record its
  use, cannot have handed anything out within ``grace``: its entries are
  judged by their own freshness in the same prune
  (:mod:`wheelcache._gc.idle`). What must still wait is reported.
* **Quarantine.** Items moved to the quarantine more than ``grace`` ago are
  deleted.

:func:`prune` takes the steps in order; each lives in the module named after
it: :mod:`wheelcache._gc.retire` reads every pointer and retires sources,
:mod:`wheelcache._gc.trash` sweeps entries through the trash (and finishes what
a killed prune or clean left there), :mod:`wheelcache._gc.trees` sweeps unpacked
trees the same way, :mod:`wheelcache._gc.leftovers` reclaims what dead processes
left behind, and :mod:`wheelcache._gc.statcaches` removes the stat caches of
trees that are gone.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from .._errors import cache_error
from .._fs import syncpoints as _syncpoints
from .._fs.fsutil import fsync_dir, retry_transient, tree_size, unlink_quietly
from .._fs.locking import hold
from .._fs.nofollow import refuse_links
from .._store.store import Store
from .clock import read_clock
from .leftovers import SETTLE_SECONDS, reclaim_pointer_temps, reclaim_staging, remove_orphan_locks
from .links import refuse_followed_links
from .reports import CleanReport, PruneReport, Tally
from .retire import choose_retirees, retire_chosen, scan_sources
from .statcaches import reclaim_stat_caches
from .trash import delete_or_warn, empty_quarantine, finish_trash, sweep_entries
from .trashrun import own_trash
from .trees import sweep_trees

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from pathlib import Path

    from .._layout import Layout
    from .reports import Progress
    from .retire import ScannedSource
    from .trashrun import TrashRun

__all__ = ["DEFAULT_GRACE", "clean", "prune"]

logger = logging.getLogger("wheelcache")


DEFAULT_GRACE = 3600.0
"""Seconds an unreferenced entry is kept after it was last freshened."""

PRUNE_PURPOSE = "pruning the cache"
"""What the prune lock guards (messages name it): one prune or clean at a time."""


def prune(
    layout: Layout,
    *,
    grace: float,
    max_size: int | None,
    max_age: float | None,
    dry_run: bool,
    progress: Progress | None = None,
    lock_timeout: float | None = None,
    lock_mode: str = "flock",
    select: Callable[[list[ScannedSource]], list[ScannedSource]] | None = None,
) -> PruneReport:
    """Delete what no process may still use; see the module docstring.

    Raises :class:`CacheError` without deleting any entry when the pointers
    cannot all be read (an unread pointer could name any entry), when a
    bucket is a link (nothing in the layout is followed), or when a pointer
    shard, entry shard or entry is a link (lookups follow those);
    :class:`LockTimeout`
    when another prune holds the prune lock longer than *lock_timeout*.

    With *select*, the sources it picks are retired instead of those the
    limits choose, and only the entries they named are swept: nothing else
    is looked at (``WheelCache.remove``).
    """
    if not (grace >= 0 and (max_age is None or max_age >= 0)):
        raise ValueError("grace and max_age must be non-negative numbers")
    if max_size is not None and max_size < 0:
        raise ValueError("max_size must not be negative")
    started = time.monotonic()
    tally = Tally()
    if not layout.root.exists():
        return PruneReport(dry_run=dry_run, grace=grace)
    refuse_bucket_links(layout)
    refuse_followed_links(layout)
    with _prune_lock(layout, lock_timeout, lock_mode), own_trash(layout, dry_run=dry_run) as run:
        _syncpoints.reach("prune.locked")
        store = Store(layout)
        clock = read_clock(layout, grace)
        now = clock.now
        # After a forward jump of the clock every entry looks old: keep all
        # (and retire nothing by age) until a grace period of real time passed.
        horizon = -math.inf if clock.distrust else now - grace
        sources = scan_sources(layout)
        _syncpoints.reach("prune.scanned")
        if select is not None:
            retirees = select(sources)
        else:
            retirees = choose_retirees(
                sources, max_size=max_size, max_age=None if clock.distrust else max_age, now=now
            )
        # Nothing is idle on a clock that jumped: every pointer would look old.
        going = retire_chosen(
            layout,
            store,
            retirees,
            now=-math.inf if clock.distrust else now,
            grace=grace,
            tally=tally,
            dry_run=dry_run,
        )
        # Entries named by sources retired as idle are judged by their own
        # freshness now. Those of other retired sources were freshened when
        # their pointer went; they age out in a later prune.
        referenced = frozenset().union(*(s.references for s in sources if id(s) not in going))
        protected = referenced.union(*(s.references for s in sources if going.get(id(s)) is False))
        window = (horizon, grace)
        sweeping = (layout, run, store, referenced, protected, window, tally, dry_run, progress)
        if select is not None:
            named = frozenset().union(*(s.references for s in retirees if id(s) in going))
            sweep_entries(*sweeping, only=named)
        else:
            finish_trash(layout, run, referenced, protected, (horizon, grace, now), tally)
            sweep_entries(*sweeping)
            sweep_trees(layout, run, protected, horizon, tally, dry_run)
            empty_quarantine(layout, horizon, tally, dry_run)
            reclaim_staging(layout, now, min(grace, SETTLE_SECONDS), tally, dry_run)
            reclaim_pointer_temps(layout, now, tally, dry_run)
            reclaim_stat_caches(layout, now, dry_run)
            if not dry_run:
                remove_orphan_locks(layout, now)
    report = tally.report(dry_run=dry_run, grace=grace, started=started)
    return replace(report, clock_jump=clock.jump, trusted_clock=not clock.distrust)


def _prune_lock(
    layout: Layout, lock_timeout: float | None, lock_mode: str
) -> AbstractContextManager[None]:
    """One prune or clean at a time: the prune lock, as ``flock`` or lease (``lock_mode``)."""
    return hold(
        layout.prune_lock,
        timeout=lock_timeout,
        purpose=PRUNE_PURPOSE,
        root=layout.root,
        mode=lock_mode,
    )


def refuse_bucket_links(layout: Layout) -> None:
    """Raise :class:`CacheError` when a bucket (or the layout below the root) is a link.

    Prune and clean rename and delete inside the buckets; through a linked
    bucket they would do so outside the cache.
    """
    for bucket in layout.buckets():
        refuse_links(layout.root, bucket)


def clean(
    layout: Layout,
    *,
    dry_run: bool = False,
    lock_timeout: float | None = None,
    lock_mode: str = "flock",
) -> CleanReport:
    """Empty the cache: rename each bucket into the trash, then delete the trash.

    Concurrent lookups see misses; paths handed out earlier may vanish (the one
    documented exception to the grace contract). Staging directories of live
    publishers and lock files are left alone; prune reclaims them. What was
    deleted is counted in the trash, just before the deletion; a dry run
    counts the buckets in place and changes nothing.
    """
    if not layout.root.exists():
        return CleanReport(dry_run=dry_run)
    refuse_bucket_links(layout)
    with _prune_lock(layout, lock_timeout, lock_mode):
        if dry_run:
            return _count_buckets(
                {
                    b.name: b
                    for b in (layout.pointers, layout.wheels, layout.quarantine, layout.statcache)
                },
                True,
            )
        with own_trash(layout, dry_run=False) as run:
            report = _empty_into_trash(layout, run)
    logger.info("emptied the cache at %s", layout.root)
    return report


def _empty_into_trash(layout: Layout, run: TrashRun) -> CleanReport:
    """Rename each bucket into *run*'s share of the trash, count it, delete it.

    What other runs that are over left in the trash goes too; what cannot be
    deleted now stays there for the next prune. Items of a prune still at
    work (on another host) are its own.
    """
    try:
        layout.trash.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cache_error(layout.trash, "create", exc) from exc
    moved = {}
    for bucket in (
        layout.pointers,
        layout.wheels,
        layout.trees,
        layout.quarantine,
        layout.statcache,
    ):
        destination = run.destination(f"clean-{bucket.name}")
        try:
            retry_transient(lambda b=bucket, d=destination: os.rename(b, d))  # type: ignore[misc]
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise cache_error(bucket, "move to the trash", exc) from exc
        moved[bucket.name] = destination
    try:
        fsync_dir(layout.root)
    except OSError as exc:
        raise cache_error(layout.root, "sync", exc) from exc
    _syncpoints.reach("clean.after-rename")
    report = _count_buckets(moved, False)
    for path in [*moved.values(), *run.adopt_finished(run.clock())]:
        if path.is_dir() and not path.is_symlink():
            delete_or_warn(path)
        else:
            unlink_quietly(path)
    return report


def _count_buckets(buckets: dict[str, Path], dry_run: bool) -> CleanReport:
    """Count the wheels, pointers and quarantined items in *buckets* (by bucket name)."""
    counts = {}
    for name, path in buckets.items():
        kind = name.rsplit("-", 1)[0]
        if kind == "quarantine":
            counts[kind] = sum(1 for _ in _children(path))
        else:  # one level of shards, then entries or pointer files
            suffix = ".json" if kind == "sources" else ""
            counts[kind] = sum(
                1
                for shard in _children(path)
                for item in _children(shard)
                if item.endswith(suffix) and not os.path.basename(item).startswith(".")
            )
    return CleanReport(
        removed_entries=counts.get("wheels", 0),
        removed_sources=counts.get("sources", 0),
        removed_quarantine=counts.get("quarantine", 0),
        freed_bytes=sum(tree_size(path) for path in buckets.values()),
        dry_run=dry_run,
    )


def _children(directory: str | Path) -> list[str]:
    try:
        return [item.path for item in os.scandir(directory)]
    except OSError:
        return []
