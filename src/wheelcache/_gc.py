"""Garbage collection: the only place wheelcache deletes anything.

The contract (argued in docs/design.md, "Garbage collection"):

* **Grace.** An entry is deleted no sooner than ``grace`` seconds after the
  last moment a current pointer named it, and no sooner than ``grace`` seconds
  after it was published, found already present by a publisher, or handed out
  by a lookup. Each of those events *freshens* the entry: sets the wheel
  file's modification time to now. Prune deletes an entry only when no pointer
  names it and its modification time is older than ``grace`` before the prune
  began.
* **No blocking.** Readers take no lock; prune takes only the prune lock (one
  prune at a time) and, without waiting, a source's pointer lock when it
  retires that source.
* **No half-deleted entries.** An entry leaves its place by one rename into
  the trash; only then is it deleted. A reader sees the whole entry or a miss.
* **Re-check and restore.** After the rename, prune looks at the entry's
  modification time again; if a publisher freshened it in between, prune puts
  it back.
* **Crash safety.** Everything in the trash when a prune starts was left by a
  prune or clean that died; the next prune restores what is still wanted and
  deletes the rest.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import _syncpoints
from ._errors import cache_error
from ._fsutil import fsync_dir, remove_tree, retry_transient
from ._layout import Layout, unique_token
from ._locking import hold, try_hold
from ._pointer import decode, read_bytes, referenced_digests
from ._store import Store, file_sha256

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "DEFAULT_GRACE",
    "CorruptEntry",
    "DanglingPointer",
    "PruneReport",
    "VerifyReport",
    "clean",
    "prune",
    "verify",
]

logger = logging.getLogger("wheelcache")

DEFAULT_GRACE = 3600.0
"""Seconds an unreferenced entry is kept after it was last freshened."""

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: called as long operations advance."""


@dataclass(frozen=True)
class PruneReport:
    """What a prune did (or, with ``dry_run``, would do)."""

    removed_entries: int = 0
    """Entries deleted (no pointer named them, older than the grace period)."""
    freed_bytes: int = 0
    """Bytes of wheels deleted, plus staging and trash leftovers reclaimed."""
    kept_entries: int = 0
    """Entries that remain."""
    kept_bytes: int = 0
    """Bytes of wheels that remain."""
    referenced_entries: int = 0
    """Of the kept entries, those a current pointer names."""
    referenced_bytes: int = 0
    """Bytes of the referenced entries."""
    retired_sources: tuple[str, ...] = ()
    """Keys of sources whose pointers were removed (``max_age``/``max_size``)."""
    reclaimed_staging: int = 0
    """Staging directories and temp files of dead processes removed."""
    reclaimed_trash: int = 0
    """Leftovers of interrupted prunes or cleans finished."""
    restored_entries: int = 0
    """Entries put back because a publisher freshened them during the prune."""
    dry_run: bool = False
    seconds: float = 0.0


@dataclass(frozen=True)
class CorruptEntry:
    """An entry whose contents do not match its name."""

    sha256: str
    path: Path
    problem: str


@dataclass(frozen=True)
class DanglingPointer:
    """A pointer that names an entry the cache does not have (intact)."""

    key: str
    pointer: Path
    missing: tuple[str, ...]


@dataclass(frozen=True)
class VerifyReport:
    """What verify found and, with ``repair``, mended."""

    entries_checked: int = 0
    bytes_checked: int = 0
    corrupt: tuple[CorruptEntry, ...] = ()
    """Each corrupt entry once; empty when the store is sound."""
    dangling: tuple[DanglingPointer, ...] = ()
    unreadable_pointers: tuple[Path, ...] = ()
    """Pointer files that do not parse (newer-format pointers are not listed)."""
    repaired: bool = False
    quarantined: tuple[Path, ...] = ()
    """Where corrupt entries and unreadable pointers were moved by ``repair``."""
    mended_pointers: int = 0

    @property
    def sound(self) -> bool:
        """True when nothing is corrupt, dangling or unreadable."""
        return not (self.corrupt or self.dangling or self.unreadable_pointers)


@dataclass
class _Source:
    path: Path
    digest: str
    key: str | None
    references: frozenset[str]
    sizes: dict[str, int]
    last_used: float
    inode: tuple[int, int, int]


@dataclass
class _Tally:
    removed: int = 0
    freed: int = 0
    kept: int = 0
    kept_bytes: int = 0
    referenced: int = 0
    referenced_bytes: int = 0
    retired: list[str] = field(default_factory=list)
    staging: int = 0
    trash: int = 0
    restored: int = 0


# -- prune ---------------------------------------------------------------------------


def prune(
    layout: Layout,
    *,
    grace: float,
    max_size: int | None,
    max_age: float | None,
    dry_run: bool,
    progress: Progress | None = None,
) -> PruneReport:
    """Delete what no process may still use; see the module docstring."""
    if grace < 0 or (max_age is not None and max_age < 0) or (max_size is not None and max_size < 0):
        raise ValueError("grace, max_age and max_size must not be negative")
    started = time.monotonic()
    tally = _Tally()
    if not layout.root.exists():
        return PruneReport(dry_run=dry_run)
    with hold(layout.prune_lock, timeout=None, purpose="pruning the cache"):
        _syncpoints.reach("prune.locked")
        store = Store(layout)
        horizon = _filesystem_now(layout) - grace
        sources = list(_scan_sources(layout))
        _syncpoints.reach("prune.scanned")
        retire = _choose_retirees(sources, max_size=max_size, max_age=max_age, now=horizon + grace)
        for source in retire:
            if dry_run or _retire(layout, store, source):
                tally.retired.append(source.key if source.key is not None else source.digest)
        retired = {id(source) for source in retire}
        # Entries named by retired sources were freshened when their pointer
        # went; they age out in a later prune. Until then they are protected.
        protected = frozenset().union(*(s.references for s in sources))
        referenced = frozenset().union(*(s.references for s in sources if id(s) not in retired))
        _finish_trash(layout, protected, horizon, tally, dry_run)
        _sweep_entries(layout, store, referenced, protected, horizon, tally, dry_run, progress)
        _reclaim_staging(layout, tally, dry_run)
        _reclaim_pointer_temps(layout, tally, dry_run)
        if not dry_run:
            _remove_orphan_locks(layout, {s.digest for s in sources if id(s) not in retired})
    return PruneReport(
        removed_entries=tally.removed,
        freed_bytes=tally.freed,
        kept_entries=tally.kept,
        kept_bytes=tally.kept_bytes,
        referenced_entries=tally.referenced,
        referenced_bytes=tally.referenced_bytes,
        retired_sources=tuple(tally.retired),
        reclaimed_staging=tally.staging,
        reclaimed_trash=tally.trash,
        restored_entries=tally.restored,
        dry_run=dry_run,
        seconds=time.monotonic() - started,
    )


def _filesystem_now(layout: Layout) -> float:
    """The current time as the cache's filesystem records it.

    Entry ages are modification times written by the filesystem (coarse
    clocks, or a file server's clock), so they are compared with a time taken
    from the same source: the mtime of a file touched now.
    """
    stamp = layout.locks / "prune.stamp"
    try:
        stamp.touch()
        os.utime(stamp)
        return os.stat(stamp).st_mtime
    except OSError:
        return time.time()


def _scan_sources(layout: Layout) -> Iterator[_Source]:
    try:
        shards = list(os.scandir(layout.pointers))
    except OSError:
        return
    for shard in shards:
        try:
            files = list(os.scandir(shard.path))
        except OSError:
            continue
        for item in files:
            if not item.name.endswith(".json") or item.name.startswith("."):
                continue
            found = read_bytes(item.path)
            if found is None:
                continue
            data, info = found
            pointer = decode(data)
            sizes = {w.sha256: w.size for w in pointer.wheels} if pointer is not None else {}
            yield _Source(
                path=Path(item.path),
                digest=item.name[: -len(".json")],
                key=pointer.key if pointer is not None else None,
                references=referenced_digests(data),
                sizes=sizes,
                last_used=info.st_mtime,
                inode=(info.st_dev, info.st_ino, info.st_mtime_ns),
            )


def _choose_retirees(
    sources: list[_Source], *, max_size: int | None, max_age: float | None, now: float
) -> list[_Source]:
    chosen: list[_Source] = []
    if max_age is not None:
        chosen = [s for s in sources if now - s.last_used > max_age]
    if max_size is None:
        return chosen
    survivors = sorted((s for s in sources if s not in chosen), key=lambda s: s.last_used)
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


def _retire(layout: Layout, store: Store, source: _Source) -> bool:
    """Remove a source's pointer; its entries stay until they age out."""
    lock = layout.source_lock(source.digest).with_suffix(".pointer")
    with try_hold(lock) as held:
        if not held and lock.exists():
            return False  # a writer is updating it right now: it is in use
        try:
            info = os.stat(source.path)
        except FileNotFoundError:
            return False
        if (info.st_dev, info.st_ino, info.st_mtime_ns) != source.inode:
            return False  # used or rewritten since the scan
        for sha256 in source.references:
            store.freshen(sha256)
        _syncpoints.reach("prune.retire-before-unlink")
        try:
            retry_transient(lambda: os.unlink(source.path))
            fsync_dir(source.path.parent)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise cache_error(source.path, "remove", exc) from exc
        for sha256 in source.references:
            store.freshen(sha256)
        logger.info("retired source %s", source.key)
        return True


def _wheel_in(entry: Path) -> tuple[Path | None, os.stat_result | None]:
    """The wheel file inside an entry directory and its stat (None, None if absent)."""
    try:
        names = [n for n in os.listdir(entry) if n.endswith(".whl")]
    except OSError:
        return None, None
    for name in names:
        try:
            info = os.stat(entry / name)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            return entry / name, info
    return None, None


def _entry_time(entry: Path) -> float | None:
    """When an entry was last freshened (its wheel's mtime; the directory's if empty)."""
    _path, info = _wheel_in(entry)
    if info is not None:
        return info.st_mtime
    try:
        return os.stat(entry).st_mtime
    except OSError:
        return None


def _sweep_entries(
    layout: Layout,
    store: Store,
    referenced: frozenset[str],
    protected: frozenset[str],
    horizon: float,
    tally: _Tally,
    dry_run: bool,
    progress: Progress | None,
) -> None:
    entries = list(store.entries())
    for done, (sha256, entry) in enumerate(entries, 1):
        if progress is not None and done % 256 == 0:
            progress("prune", done, len(entries))
        _path, info = _wheel_in(entry)
        size = info.st_size if info is not None else 0
        if sha256 in referenced:
            tally.kept += 1
            tally.kept_bytes += size
            tally.referenced += 1
            tally.referenced_bytes += size
            continue
        if sha256 in protected:
            tally.kept += 1
            tally.kept_bytes += size
            continue
        freshened = _entry_time(entry)
        if freshened is None:
            continue  # vanished under us
        if freshened >= horizon:
            tally.kept += 1
            tally.kept_bytes += size
            continue
        if dry_run:
            tally.removed += 1
            tally.freed += size
            continue
        _syncpoints.reach("prune.before-trash")
        trashed = _move_to_trash(layout, entry, sha256)
        if trashed is None:
            continue
        _syncpoints.reach("prune.after-trash")
        again = _entry_time(trashed)
        if again is not None and again >= horizon:
            # A publisher freshened it between our look and the rename.
            if _restore(trashed, entry):
                tally.restored += 1
                tally.kept += 1
                tally.kept_bytes += size
                continue
        _syncpoints.reach("prune.before-delete")
        remove_tree(trashed)
        tally.removed += 1
        tally.freed += size
    if progress is not None:
        progress("prune", len(entries), len(entries))


def _move_to_trash(layout: Layout, entry: Path, sha256: str) -> Path | None:
    destination = layout.trash / f"{sha256}.{unique_token()}"
    try:
        layout.trash.mkdir(parents=True, exist_ok=True)
        retry_transient(lambda: os.rename(entry, destination))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise cache_error(entry, "move to the trash", exc) from exc
    return destination


def _restore(trashed: Path, entry: Path) -> bool:
    """Put a trashed entry back; False if its place was filled meanwhile."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        retry_transient(lambda: os.rename(trashed, entry))
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY) or isinstance(exc, FileExistsError):
            return False  # re-published meanwhile: the identical copy in place wins
        raise cache_error(entry, "restore", exc) from exc
    fsync_dir(entry.parent)
    logger.info("restored entry %s, freshened during prune", entry.name)
    return True


def _finish_trash(
    layout: Layout,
    referenced: frozenset[str],
    horizon: float,
    tally: _Tally,
    dry_run: bool,
) -> None:
    """Finish what a killed prune or clean left in the trash."""
    try:
        items = list(os.scandir(layout.trash))
    except OSError:
        return
    for item in items:
        path = Path(item.path)
        sha256 = item.name.split(".", 1)[0]
        if len(sha256) == 64 and item.is_dir(follow_symlinks=False):
            freshened = _entry_time(path)
            wanted = sha256 in referenced or (freshened is not None and freshened >= horizon)
            if wanted and not (layout.entry_dir(sha256)).exists():
                if not dry_run and _restore(path, layout.entry_dir(sha256)):
                    tally.restored += 1
                    continue
        tally.trash += 1
        if not dry_run:
            if item.is_dir(follow_symlinks=False):
                remove_tree(path)
            else:
                _unlink_quietly(path)


def _reclaim_staging(layout: Layout, tally: _Tally, dry_run: bool) -> None:
    """Remove staging directories (and owner locks) of processes that died."""
    try:
        items = list(os.scandir(layout.staging))
    except OSError:
        return
    directories = {i.name for i in items if i.is_dir(follow_symlinks=False)}
    locks = {i.name[: -len(".lock")] for i in items if i.name.endswith(".lock")}
    for token in sorted(directories | locks):
        directory = layout.staging / token
        owner = layout.staging / f"{token}.lock"
        with try_hold(owner) as held:
            if owner.exists() and not held:
                continue  # a live process owns it
            tally.staging += 1
            if dry_run:
                continue
            remove_tree(directory)
            if held:
                _unlink_quietly(owner)


def _reclaim_pointer_temps(layout: Layout, tally: _Tally, dry_run: bool) -> None:
    """Remove temp files of pointer writers that died mid-write."""
    try:
        shards = list(os.scandir(layout.pointers))
    except OSError:
        return
    for shard in shards:
        try:
            temps = [i for i in os.scandir(shard.path) if i.name.endswith(".tmp")]
        except OSError:
            continue
        for temp in temps:
            digest = temp.name.lstrip(".").split(".", 1)[0]
            lock = layout.source_lock(digest).with_suffix(".pointer")
            with try_hold(lock) as held:
                if lock.exists() and not held:
                    continue  # its writer is still at work
                tally.staging += 1
                if not dry_run:
                    _unlink_quietly(Path(temp.path))


def _remove_orphan_locks(layout: Layout, live_digests: set[str]) -> None:
    """Remove the lock files of sources that no longer have a pointer."""
    try:
        shards = [s for s in os.scandir(layout.locks) if s.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for shard in shards:
        try:
            locks = list(os.scandir(shard.path))
        except OSError:
            continue
        for lock in locks:
            digest = lock.name.split(".", 1)[0]
            if digest in live_digests or layout.pointer_file(digest).exists():
                continue
            path = Path(lock.path)
            with try_hold(path) as held:
                if held:
                    _unlink_quietly(path)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        logger.debug("could not remove %s", path, exc_info=True)


# -- clean -----------------------------------------------------------------------------


def clean(layout: Layout) -> None:
    """Empty the cache: rename each bucket into the trash, then delete the trash.

    Concurrent lookups see misses; paths handed out earlier may vanish (the one
    documented exception to the grace contract). Staging directories of live
    publishers and lock files are left alone; prune reclaims them.
    """
    if not layout.root.exists():
        return
    with hold(layout.prune_lock, timeout=None, purpose="pruning the cache"):
        try:
            layout.trash.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise cache_error(layout.trash, "create", exc) from exc
        for bucket in (layout.pointers, layout.wheels, layout.quarantine):
            destination = layout.trash / f"clean-{bucket.name}.{unique_token()}"
            try:
                retry_transient(lambda b=bucket, d=destination: os.rename(b, d))  # type: ignore[misc]
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise cache_error(bucket, "move to the trash", exc) from exc
        fsync_dir(layout.root)
        _syncpoints.reach("clean.after-rename")
        for item in list(os.scandir(layout.trash)):
            if item.is_dir(follow_symlinks=False):
                remove_tree(Path(item.path))
            else:
                _unlink_quietly(Path(item.path))
    logger.info("emptied the cache at %s", layout.root)


# -- verify ----------------------------------------------------------------------------


def verify(layout: Layout, *, repair: bool, progress: Progress | None = None) -> VerifyReport:
    """Re-hash every entry against its name and check every pointer."""
    from ._wheelfile import parse_wheel_name  # noqa: PLC0415 - keeps import time low
    from ._errors import InvalidWheelError  # noqa: PLC0415

    store = Store(layout)
    corrupt: list[CorruptEntry] = []
    quarantined: list[Path] = []
    intact: set[str] = set()
    checked = 0
    checked_bytes = 0
    entries = list(store.entries())
    for done, (sha256, entry) in enumerate(entries, 1):
        if progress is not None and done % 64 == 0:
            progress("verify", done, len(entries))
        problem = None
        try:
            names = os.listdir(entry)
        except FileNotFoundError:
            continue  # pruned meanwhile
        except OSError as exc:
            names = []
            problem = f"cannot be listed ({exc.strerror})"
        wheels = [n for n in names if n.endswith(".whl")]
        if problem is None and len(wheels) != 1:
            problem = "holds no wheel" if not wheels else f"holds {len(wheels)} wheels"
        if problem is None:
            try:
                parse_wheel_name(wheels[0])
            except InvalidWheelError:
                problem = f"holds a file with an invalid wheel name: {wheels[0]!r}"
        if problem is None:
            path = entry / wheels[0]
            try:
                actual = file_sha256(path)
                checked_bytes += os.stat(path).st_size
            except FileNotFoundError:
                if not entry.exists():
                    continue  # pruned meanwhile
                problem = "its wheel vanished"
            except OSError as exc:
                problem = f"cannot be read ({exc.strerror})"
            else:
                if actual != sha256:
                    problem = f"content hashes to {actual}, not to its name"
        checked += 1
        if problem is None:
            intact.add(sha256)
            continue
        corrupt.append(CorruptEntry(sha256, entry, problem))
        if repair:
            moved = store.quarantine(entry, reason=problem)
            if moved is not None:
                quarantined.append(moved)
    if progress is not None:
        progress("verify", len(entries), len(entries))
    damaged = frozenset(c.sha256 for c in corrupt)
    dangling, unreadable, mended, moved_pointers = _verify_pointers(
        layout, store, intact, damaged, repair
    )
    quarantined.extend(moved_pointers)
    return VerifyReport(
        entries_checked=checked,
        bytes_checked=checked_bytes,
        corrupt=tuple(corrupt),
        dangling=tuple(dangling),
        unreadable_pointers=tuple(unreadable),
        repaired=repair,
        quarantined=tuple(quarantined),
        mended_pointers=mended,
    )


def _verify_pointers(
    layout: Layout, store: Store, intact: set[str], damaged: frozenset[str], repair: bool
) -> tuple[list[DanglingPointer], list[Path], int, list[Path]]:
    from ._cache import rewrite_pointer  # noqa: PLC0415 - avoids an import cycle

    dangling: list[DanglingPointer] = []
    unreadable: list[Path] = []
    moved: list[Path] = []
    mended = 0
    for source in list(_scan_all_pointer_files(layout)):
        found = read_bytes(source)
        if found is None:
            continue
        pointer = decode(found[0])
        if pointer is None:
            if referenced_digests(found[0]) and _is_newer_format(found[0]):
                continue  # a newer wheelcache's pointer: not ours to judge
            unreadable.append(source)
            if repair:
                destination = layout.quarantine / f"pointer-{source.name}.{unique_token()}"
                try:
                    layout.quarantine.mkdir(parents=True, exist_ok=True)
                    os.rename(source, destination)
                    moved.append(destination)
                except OSError:
                    logger.warning("could not move unreadable pointer %s aside", source)
            continue
        # An entry published after the scan is not dangling: look again.
        missing = tuple(
            w.sha256
            for w in pointer.wheels
            if w.sha256 in damaged
            or (w.sha256 not in intact and store.entry_stat(w.sha256, w.filename) is None)
        )
        if not missing:
            continue
        dangling.append(DanglingPointer(pointer.key, source, missing))
        if repair and rewrite_pointer(layout, source, drop=frozenset(missing)):
            mended += 1
    return dangling, unreadable, mended, moved


def _is_newer_format(data: bytes) -> bool:
    import json  # noqa: PLC0415

    try:
        document = json.loads(data)
    except ValueError:
        return False
    version = document.get("version") if isinstance(document, dict) else None
    return isinstance(version, int) and version > 1


def _scan_all_pointer_files(layout: Layout) -> Iterator[Path]:
    try:
        shards = list(os.scandir(layout.pointers))
    except OSError:
        return
    for shard in shards:
        try:
            items = list(os.scandir(shard.path))
        except OSError:
            continue
        for item in items:
            if item.name.endswith(".json") and not item.name.startswith("."):
                yield Path(item.path)
