"""Garbage collection: the only place wheelcache deletes anything.

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
* **Two phases.** Retiring a source (``max_age``, ``max_size``) removes its
  pointer now, freshening its entries before and after; the entries go in a
  later prune, once ``grace`` has passed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from . import _syncpoints
from ._errors import CacheError, InvalidWheelError, cache_error
from ._fsutil import fsync_dir, remove_tree, retry_transient
from ._layout import Layout, unique_token
from ._locking import hold, try_hold
from ._pointer import POINTER_VERSION, decode, read_bytes, referenced_digests
from ._revision import drop_wheels
from ._store import Store, file_sha256
from ._wheelfile import parse_wheel_name

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

_HEX = frozenset("0123456789abcdef")

_SETTLE_SECONDS = 60.0
"""Most a prune waits before probing an owner lock file that has no staging directory."""


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
    """Leftovers of interrupted prunes or cleans deleted."""
    restored_entries: int = 0
    """Entries put back: freshened during this prune, or still wanted after a killed one."""
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
    filenames: dict[str, str]
    sizes: dict[str, int]
    last_used: float
    identity: tuple[int, int, int]


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

    def keep(self, size: int) -> None:
        self.kept += 1
        self.kept_bytes += size


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
    """Delete what no process may still use; see the module docstring.

    Raises :class:`CacheError` without deleting any entry when the pointers
    cannot all be read (an unread pointer could name any entry).
    """
    if not (grace >= 0 and (max_age is None or max_age >= 0)):
        raise ValueError("grace and max_age must be non-negative numbers")
    if max_size is not None and max_size < 0:
        raise ValueError("max_size must not be negative")
    started = time.monotonic()
    tally = _Tally()
    if not layout.root.exists():
        return PruneReport(dry_run=dry_run)
    with hold(layout.prune_lock, timeout=None, purpose="pruning the cache"):
        _syncpoints.reach("prune.locked")
        store = Store(layout)
        now = _filesystem_now(layout)
        horizon = now - grace
        sources = _scan_sources(layout)
        _syncpoints.reach("prune.scanned")
        retirees = _choose_retirees(sources, max_size=max_size, max_age=max_age, now=now)
        retired: set[int] = set()
        for source in retirees:
            if dry_run or _retire(layout, store, source):
                retired.add(id(source))
                tally.retired.append(source.key if source.key is not None else source.digest)
        if not dry_run:
            _sync_directories({s.path.parent for s in retirees if id(s) in retired})
        # Entries named by retired sources were freshened when their pointer
        # went; they age out in a later prune. Until then they are protected.
        protected = frozenset().union(*(s.references for s in sources))
        referenced = frozenset().union(*(s.references for s in sources if id(s) not in retired))
        _finish_trash(layout, protected, horizon, tally, dry_run)
        _sweep_entries(layout, store, referenced, protected, horizon, tally, dry_run, progress)
        _reclaim_staging(layout, now, min(grace, _SETTLE_SECONDS), tally, dry_run)
        _reclaim_pointer_temps(layout, tally, dry_run)
        if not dry_run:
            _remove_orphan_locks(layout)
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


def _unscannable(path: str | os.PathLike[str], exc: OSError) -> CacheError:
    reason = exc.strerror or str(exc)
    return CacheError(
        f"cannot read {os.fspath(path)} ({reason}); prune deleted nothing, because"
        " an unread pointer may name any entry"
    )


def _scan_sources(layout: Layout) -> list[_Source]:
    """Every pointer file and what it names; raises if any cannot be read."""
    try:
        shards = [s for s in os.scandir(layout.pointers) if s.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise _unscannable(layout.pointers, exc) from exc
    sources = []
    for shard in shards:
        try:
            items = list(os.scandir(shard.path))
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise _unscannable(shard.path, exc) from exc
        for item in items:
            if not item.name.endswith(".json") or item.name.startswith("."):
                continue
            found = _read_pointer_file(item.path)
            if found is None:
                continue  # removed since the listing
            data, info = found
            pointer = decode(data)
            wheels = pointer.wheels if pointer is not None else ()
            sources.append(
                _Source(
                    path=Path(item.path),
                    digest=item.name[: -len(".json")],
                    key=pointer.key if pointer is not None else None,
                    references=referenced_digests(data),
                    filenames={w.sha256: w.filename for w in wheels},
                    sizes={w.sha256: w.size for w in wheels},
                    last_used=info.st_mtime,
                    identity=(info.st_dev, info.st_ino, info.st_mtime_ns),
                )
            )
    return sources


def _read_pointer_file(path: str) -> tuple[bytes, os.stat_result] | None:
    """A pointer's bytes and stat, whatever its size; None if it no longer exists."""

    def read() -> tuple[bytes, os.stat_result]:
        with open(path, "rb") as handle:
            return handle.read(), os.fstat(handle.fileno())

    try:
        return retry_transient(read)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return None  # not a pointer at all
    except OSError as exc:
        raise _unscannable(path, exc) from exc


def _choose_retirees(
    sources: list[_Source], *, max_size: int | None, max_age: float | None, now: float
) -> list[_Source]:
    chosen: list[_Source] = []
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


@contextlib.contextmanager
def _lock_if_free(path: Path, *, create: bool) -> Iterator[bool]:
    """Hold the lock at *path* if no process does, without waiting; yield whether held.

    With *create* a missing lock file is created and taken, so no writer can
    start while we hold it. Without it, a missing lock file counts as free
    (nobody can hold it) and nothing is written.
    """
    if not create and not path.exists():
        yield True
        return
    lock = FileLock(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=0)
    except (Timeout, OSError):
        held = False
    else:
        held = True
    try:
        yield held
    finally:
        if held:
            lock.release()


def _retire(layout: Layout, store: Store, source: _Source) -> bool:
    """Remove a source's pointer; its entries stay until they age out."""
    lock = layout.pointer_lock(source.digest)
    with _lock_if_free(lock, create=True) as held:
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


def _sync_directories(directories: set[Path]) -> None:
    """Make the retirements durable: one fsync per pointer shard, not one per pointer.

    Nothing depends on an unlink being durable before the next prune: if a
    crash undoes one, the pointer is back and protects its entries again.
    """
    for directory in sorted(directories):
        try:
            fsync_dir(directory)
        except OSError:
            logger.warning("could not sync %s", directory, exc_info=True)


def _freshen_all(store: Store, source: _Source) -> None:
    for sha256 in source.references:
        store.freshen(sha256, source.filenames.get(sha256))


def _wheel_state(entry: Path) -> tuple[float, int] | None:
    """(mtime, size) of the entry's wheel if it is a complete entry, else None.

    Complete means: exactly one ``.whl`` file, and it is a regular file. Only a
    complete entry is ever put back from the trash; an emptied or damaged one
    (a prune killed inside its delete leaves an empty directory) never is.
    """
    try:
        names = [n for n in os.listdir(entry) if n.endswith(".whl")]
    except OSError:
        return None
    if len(names) != 1:
        return None
    try:
        info = os.stat(os.path.join(entry, names[0]))
    except OSError:
        return None
    return (info.st_mtime, info.st_size) if stat.S_ISREG(info.st_mode) else None


def _entry_state(entry: Path) -> tuple[float, int] | None:
    """(when last freshened, wheel size) of an entry in place; None if it is gone.

    The time is the wheel's modification time, or, for a damaged entry
    without one, the directory's: the later of the two is never older than
    the entry's last freshening, so keeping by it errs on the safe side.
    """
    state = _wheel_state(entry)
    if state is not None:
        return state
    try:
        return os.stat(entry).st_mtime, 0
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
        state = _entry_state(entry)
        if state is None:
            continue  # vanished under us
        freshened, size = state
        if sha256 in referenced:
            tally.keep(size)
            tally.referenced += 1
            tally.referenced_bytes += size
            continue
        if sha256 in protected or freshened >= horizon:
            tally.keep(size)
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
        again = _wheel_state(trashed)
        if again is not None and again[0] >= horizon:
            # Freshened between our look and the rename: it is wanted.
            if _restore(trashed, entry):
                tally.restored += 1
            else:
                _delete(trashed)  # an identical copy was published meanwhile
            tally.keep(size)
            continue
        _syncpoints.reach("prune.before-delete")
        if _delete(trashed):
            tally.removed += 1
            tally.freed += size
    if progress is not None:
        progress("prune", len(entries), len(entries))


def _move_to_trash(layout: Layout, entry: Path, sha256: str) -> Path | None:
    """Rename an entry into the trash; None if it is gone or cannot be moved.

    An entry directory without write permission (damaged, or chmod-ed by
    hand) cannot be renamed to another directory; it is made writable and
    the rename tried again. An entry that still cannot be moved is left in
    place with a warning: one bad entry does not stop the prune.
    """
    destination = layout.trash / f"{sha256}.{unique_token()}"
    try:
        layout.trash.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cache_error(layout.trash, "create", exc) from exc
    for attempt in range(2):
        try:
            retry_transient(lambda: os.rename(entry, destination))
        except FileNotFoundError:
            return None
        except PermissionError:
            if attempt == 0 and _make_writable(entry):
                continue
            logger.warning("cannot move %s to the trash; leaving it", entry, exc_info=True)
            return None
        except OSError:
            logger.warning("cannot move %s to the trash; leaving it", entry, exc_info=True)
            return None
        return destination
    return None


def _make_writable(directory: Path) -> bool:
    try:
        os.chmod(
            directory, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
        )
    except OSError:
        return False
    return True


def _delete(path: Path) -> bool:
    """Delete a trashed directory; on failure warn and leave it for the next prune."""
    try:
        remove_tree(path)
    except OSError:
        logger.warning("cannot delete %s; the next prune tries again", path, exc_info=True)
        return False
    return True


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
    logger.info("restored entry %s, which is still wanted", entry.name)
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
        is_dir = item.is_dir(follow_symlinks=False)
        if _is_digest(sha256) and is_dir:
            state = _wheel_state(path)  # None for an emptied or damaged entry
            wanted = state is not None and (sha256 in referenced or state[0] >= horizon)
            place = layout.entry_dir(sha256)
            if wanted and not place.exists() and (dry_run or _restore(path, place)):
                tally.restored += 1
                if dry_run and state is not None:  # a real prune's sweep counts it once back
                    tally.keep(state[1])
                continue
        size = _tree_size(path)
        if dry_run or (_delete(path) if is_dir else _unlink_quietly(path)):
            tally.trash += 1
            tally.freed += size


def _reclaim_staging(
    layout: Layout, now: float, settle: float, tally: _Tally, dry_run: bool
) -> None:
    """Remove staging directories (and owner locks) of processes that died.

    A publisher takes its owner lock before it creates its directory and
    releases it only after removing it, so a directory whose owner lock is
    missing or can be taken belongs to no live process. A lock file with no
    directory is probed only once it is *settle* seconds old (the grace,
    at most :data:`_SETTLE_SECONDS`): a publisher creates the file an instant
    before it locks it, and probing it in that instant would make the
    publisher's own lock attempt fail.
    """
    try:
        items = list(os.scandir(layout.staging))
    except OSError:
        return
    directories = {i.name for i in items if i.is_dir(follow_symlinks=False)}
    locks = {i.name[: -len(".lock")] for i in items if i.name.endswith(".lock")}
    for token in sorted(directories | locks):
        directory = layout.staging / token
        owner = layout.staging / f"{token}.lock"
        if token not in directories and not _settled(owner, now, settle):
            continue
        with try_hold(owner) as held:
            if not held and owner.exists():
                continue  # a live process owns it
            tally.staging += 1
            tally.freed += _tree_size(directory)
            if dry_run:
                continue
            _delete(directory)
            if held:
                _unlink_quietly(owner)


def _settled(path: Path, now: float, settle: float) -> bool:
    """True when *path* was last modified at least *settle* seconds before *now*."""
    try:
        return now - os.stat(path).st_mtime >= settle
    except OSError:
        return False


def _reclaim_pointer_temps(layout: Layout, tally: _Tally, dry_run: bool) -> None:
    """Remove temp files of pointer writers that died mid-write.

    A writer holds the source's pointer lock from before it creates its temp
    file until the file is renamed or removed, so a temp file whose lock we
    can take has no live writer.
    """
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
            if not _is_digest(digest):
                continue  # not a pointer writer's temp file
            lock = layout.pointer_lock(digest)
            with _lock_if_free(lock, create=not dry_run) as held:
                if not held:
                    continue  # its writer is still at work
                tally.staging += 1
                tally.freed += _tree_size(Path(temp.path))
                if not dry_run:
                    _unlink_quietly(Path(temp.path))


def _remove_orphan_locks(layout: Layout) -> None:
    """Remove the lock files of sources that have no pointer and no lock holder.

    Safe against a process that opened a lock file just before it was
    removed only because filelock (4.x) re-checks, after locking, that the
    file it locked is still linked, and otherwise starts over with a new file
    (docs/design.md, "Leftovers of dead processes").
    """
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
            if not _is_digest(digest) or layout.pointer_file(digest).exists():
                continue
            path = Path(lock.path)
            with try_hold(path) as held:
                if held and not layout.pointer_file(digest).exists():
                    _unlink_quietly(path)


def _is_digest(text: str) -> bool:
    return len(text) == 64 and set(text) <= _HEX


def _tree_size(path: Path) -> int:
    """Bytes of the files at or below *path* (0 if it is gone)."""
    try:
        info = os.lstat(path)
    except OSError:
        return 0
    if not stat.S_ISDIR(info.st_mode):
        return info.st_size
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


def _unlink_quietly(path: Path) -> bool:
    try:
        os.unlink(path)
    except OSError:
        logger.debug("could not remove %s", path, exc_info=True)
        return False
    return True


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
    store = Store(layout)
    corrupt: list[CorruptEntry] = []
    quarantined: list[Path] = []
    checked = 0
    checked_bytes = 0
    entries = list(store.entries())
    for done, (sha256, entry) in enumerate(entries, 1):
        if progress is not None and done % 64 == 0:
            progress("verify", done, len(entries))
        outcome = _check_entry(sha256, entry)
        if outcome is None:
            continue  # pruned meanwhile
        problem, size = outcome
        checked += 1
        checked_bytes += size
        if problem is None:
            continue
        corrupt.append(CorruptEntry(sha256, entry, problem))
        if repair:
            moved = store.quarantine(entry, reason=problem)
            if moved is not None:
                quarantined.append(moved)
    if progress is not None:
        progress("verify", len(entries), len(entries))
    damaged = frozenset(c.sha256 for c in corrupt)
    dangling, unreadable, mended, moved_pointers = _verify_pointers(layout, store, damaged, repair)
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


def _check_entry(sha256: str, entry: Path) -> tuple[str | None, int] | None:
    """(problem or None, bytes hashed) for one entry; None if it vanished."""
    try:
        names = os.listdir(entry)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be listed ({exc.strerror})", 0
    wheels = [n for n in names if n.endswith(".whl")]
    if len(wheels) != 1:
        return ("holds no wheel" if not wheels else f"holds {len(wheels)} wheels"), 0
    try:
        parse_wheel_name(wheels[0])
    except InvalidWheelError:
        return f"holds a file with an invalid wheel name: {wheels[0]!r}", 0
    path = entry / wheels[0]
    try:
        size = os.stat(path).st_size
        actual = file_sha256(path)
    except FileNotFoundError:
        if not entry.exists():
            return None
        return "its wheel vanished", 0
    except OSError as exc:
        return f"cannot be read ({exc.strerror})", 0
    if actual != sha256:
        return f"content hashes to {actual}, not to its name", size
    return None, size


def _verify_pointers(
    layout: Layout, store: Store, damaged: frozenset[str], repair: bool
) -> tuple[list[DanglingPointer], list[Path], int, list[Path]]:
    dangling: list[DanglingPointer] = []
    unreadable: list[Path] = []
    moved: list[Path] = []
    mended = 0
    for source in list(_scan_all_pointer_files(layout)):
        try:
            info = os.stat(source)
        except OSError:
            continue  # removed since the listing
        found = read_bytes(source)
        data = found[0] if found is not None else None
        pointer = decode(data) if data is not None else None
        if pointer is None:
            if data is None and not source.exists():
                continue  # removed while we looked
            if data is not None and _is_newer_format(data):
                continue  # a newer wheelcache's pointer: not ours to judge
            unreadable.append(source)
            if repair:
                destination = _quarantine_pointer(layout, source, data, info)
                if destination is not None:
                    moved.append(destination)
            continue
        # Looked up now, not from the entry scan: an entry published since is
        # not missing. A wheel whose file or size differs is a miss to get().
        missing = tuple(
            w.sha256
            for w in pointer.wheels
            if w.sha256 in damaged
            or (entry := store.entry_stat(w.sha256, w.filename)) is None
            or entry.st_size != w.size
        )
        if not missing:
            continue
        dangling.append(DanglingPointer(pointer.key, source, missing))
        if repair and drop_wheels(layout, source, drop=frozenset(missing)):
            mended += 1
    return dangling, unreadable, mended, moved


def _quarantine_pointer(
    layout: Layout, source: Path, data: bytes | None, info: os.stat_result
) -> Path | None:
    """Move an unreadable pointer aside, unless a writer replaced it meanwhile.

    *data* is what we read (None if the file could not be read at all) and
    *info* its stat; both are checked again under the pointer lock.
    """
    lock = layout.pointer_lock(source.stem)
    with hold(lock, timeout=None, purpose="updating the pointer of the same source"):
        try:
            now = os.stat(source)
        except OSError:
            return None  # removed meanwhile
        if (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino):
            return None  # replaced by a writer since we read it
        again = read_bytes(source)
        if (again[0] if again is not None else None) != data:
            return None
        destination = layout.quarantine / f"pointer-{source.name}.{unique_token()}"
        try:
            layout.quarantine.mkdir(parents=True, exist_ok=True)
            retry_transient(lambda: os.rename(source, destination))
        except OSError:
            logger.warning("could not move unreadable pointer %s aside", source)
            return None
    logger.warning("moved unreadable pointer %s to %s", source, destination)
    return destination


def _is_newer_format(data: bytes) -> bool:
    """True for a pointer a newer wheelcache wrote (whatever else it holds)."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return False
    version = document.get("version") if isinstance(document, dict) else None
    return isinstance(version, int) and not isinstance(version, bool) and version > POINTER_VERSION


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
