"""Verify: re-hash every entry and unpacked tree, and check every pointer.

Entries are hashed against their names, unpacked trees against their
manifests (a tree file written through a hard link in an environment shows up
here). Verify never deletes. With ``repair`` it moves corrupt entries and unreadable
pointers to the quarantine and removes the references to missing or corrupt
entries from pointers, each under its pointer lock (docs/design.md,
"verify()").
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import CacheError, InvalidWheelError
from .._fs import syncpoints as _syncpoints
from .._fs.fsutil import file_sha256, retry_transient
from .._fs.locking import hold
from .._fs.mounts import is_network_filesystem
from .._fs.nofollow import list_real_dir, refuse_links
from .._layout import unique_token
from .._pointers.any_version import is_newer_format
from .._pointers.pointer import decode, read_bytes
from .._pointers.revision import POINTER_LOCK_PURPOSE, drop_wheels
from .._pointers.settled import read_present
from .._store.store import Store
from .._wheels.names import parse_wheel_name
from .links import find_links, move_links_aside
from .reports import CorruptEntry, DanglingPointer, VerifyReport
from .trees import verify_trees

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .._layout import Layout
    from .reports import Progress

__all__ = ["verify"]

logger = logging.getLogger("wheelcache")


def verify(
    layout: Layout,
    *,
    repair: bool,
    progress: Progress | None = None,
    lock_timeout: float | None = None,
) -> VerifyReport:
    """Re-hash every entry against its name, check every pointer, report every link.

    Links are looked for first and, with *repair*, moved aside first, so the
    rest of the repair acts on real directories only.
    """
    store = Store(layout)
    not_permitted = _not_permitted(layout)
    links = find_links(layout)
    quarantined: list[Path] = move_links_aside(layout, links) if repair else []
    corrupt: list[CorruptEntry] = []
    checked = 0
    checked_bytes = 0
    entries = list(store.entries())
    network = is_network_filesystem(os.fspath(layout.wheels))
    for done, (sha256, entry) in enumerate(entries, 1):
        if progress is not None and done % 64 == 0:
            progress("verify", done, len(entries))
        outcome = _check_entry(sha256, entry, network=network)
        if outcome is None:
            continue  # pruned meanwhile
        problem, size = outcome
        if problem is _NOT_PERMITTED:
            not_permitted.append(entry)
            continue
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
    corrupt_trees, tree_bytes = verify_trees(layout, store, repair, quarantined)
    checked_bytes += tree_bytes
    naming: dict[str, list[str]] = {c.sha256: [] for c in corrupt}
    dangling, unreadable, mended, moved_pointers = _verify_pointers(
        layout, store, naming, repair, lock_timeout, not_permitted
    )
    quarantined.extend(moved_pointers)
    return VerifyReport(
        entries_checked=checked,
        bytes_checked=checked_bytes,
        corrupt=tuple(replace(c, sources=tuple(sorted(naming[c.sha256]))) for c in corrupt),
        dangling=tuple(dangling),
        unreadable_pointers=tuple(unreadable),
        repaired=repair,
        quarantined=tuple(quarantined),
        mended_pointers=mended,
        links=tuple(links),
        not_permitted=tuple(not_permitted),
        corrupt_trees=tuple(corrupt_trees),
    )


_NOT_PERMITTED = "not permitted"  # a marker: compared by identity


def _not_permitted(layout: Layout) -> list[Path]:
    """The root, buckets and shards this user may not list: verify cannot vouch for them."""
    found: list[Path] = []
    directories = [layout.root]
    if _listable(layout.root, found):
        for bucket in (layout.wheels, layout.pointers):
            if _listable(bucket, found):
                directories.extend(
                    Path(item.path)
                    for item in list_real_dir(bucket)
                    if item.is_dir(follow_symlinks=False)
                )
        for shard in directories[1:]:
            _listable(shard, found)
    return found


def _listable(directory: Path, not_permitted: list[Path]) -> bool:
    """List *directory* once; note it in *not_permitted* if that is refused."""
    try:
        with os.scandir(directory):
            return True
    except PermissionError:
        not_permitted.append(directory)
    except OSError:
        pass
    return False


_BY_DESCRIPTOR = os.listdir in os.supports_fd and hasattr(os, "O_DIRECTORY")
"""Whether a directory can be opened and then listed through its descriptor (POSIX)."""

_LOOKS = 3
"""How many times verify judges an entry whose directory keeps moving before it skips it."""

Identity = tuple[int, int]
"""A directory's (device, inode)."""


def _check_entry(sha256: str, entry: Path, *, network: bool) -> tuple[str | None, int] | None:
    """(problem or None, bytes hashed) for one entry; None if it vanished.

    A listing is not a look at one instant: verify may open an entry's
    directory just before prune renames it into the trash, and read it after
    prune emptied it there (docs/design.md, 6.7). A problem therefore counts
    only if the directory judged is still the one at the entry's place
    afterwards; if it is not, what is there now (nothing, or a copy published
    again) is judged instead. While the directory is open its inode cannot be
    reused, so "still the one" is exact, except on a network filesystem
    (sshfs numbers inodes by path, and answers a stat from its attribute
    cache): there a problem counts only if a second look finds it too.
    """
    seen = None
    for _look in range(_LOOKS):
        try:
            with _opened(entry) as (directory, identity):
                outcome = _judge(sha256, directory)
                if outcome[0] is None or (
                    _identity(entry) == identity and (not network or outcome == seen)
                ):
                    return outcome
                seen = outcome
        except FileNotFoundError:
            return None
        except PermissionError:
            return _NOT_PERMITTED, 0
        except OSError as exc:
            return f"cannot be listed ({exc.strerror})", 0
    return None  # taken away each time we looked: prune is deleting it


def _judge(sha256: str, directory: int | Path) -> tuple[str | None, int]:
    """(problem or None, bytes hashed) for the entry directory open as *directory*."""
    try:
        names = os.listdir(directory)
    except PermissionError:
        return _NOT_PERMITTED, 0
    except OSError as exc:
        return f"cannot be listed ({exc.strerror})", 0
    wheels = [n for n in names if n.endswith(".whl")]
    if len(wheels) != 1:
        return ("holds no wheel" if not wheels else f"holds {len(wheels)} wheels"), 0
    try:
        parse_wheel_name(wheels[0])
    except InvalidWheelError:
        return f"holds a file with an invalid wheel name: {wheels[0]!r}", 0
    if isinstance(directory, int):
        path, dir_fd = Path(wheels[0]), directory
    else:
        path, dir_fd = directory / wheels[0], None
    try:
        info = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
            return f"its wheel {wheels[0]!r} is {kind}", 0
        size = info.st_size
        actual = file_sha256(path, follow=False, dir_fd=dir_fd)
    except FileNotFoundError:
        return "its wheel vanished", 0
    except PermissionError:
        return _NOT_PERMITTED, 0
    except OSError as exc:
        return f"cannot be read ({exc.strerror})", 0
    if actual != sha256:
        return f"content hashes to {actual}, not to its name", size
    return None, size


@contextlib.contextmanager
def _opened(entry: Path) -> Iterator[tuple[int | Path, Identity]]:
    """The entry's directory, open where that is possible (else its path), and its identity.

    ``os.listdir(path)`` opens the directory and then reads it; this takes the
    two steps apart, with the sync point ``verify.opened`` between them.
    """
    if not _BY_DESCRIPTOR:
        identity = _identity_of(os.stat(entry))
        _syncpoints.reach("verify.opened")
        yield entry, identity
        return
    fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        identity = _identity_of(os.fstat(fd))
        _syncpoints.reach("verify.opened")
        yield fd, identity
    finally:
        os.close(fd)


def _identity(entry: Path) -> Identity | None:
    """The identity of the directory at *entry* now; None if there is none."""
    try:
        return _identity_of(os.stat(entry))
    except OSError:
        return None


def _identity_of(info: os.stat_result) -> Identity:
    return info.st_dev, info.st_ino


def _verify_pointers(
    layout: Layout,
    store: Store,
    naming: dict[str, list[str]],
    repair: bool,
    timeout: float | None,
    not_permitted: list[Path],
) -> tuple[list[DanglingPointer], list[Path], int, list[Path]]:
    """Check every pointer; *naming* maps each corrupt entry to the keys found naming it.

    A pointer is dangling when it names entries that are missing; one that
    names a corrupt entry is recorded in *naming* instead, so each problem
    is reported once. ``repair`` drops both kinds of reference.
    """
    dangling: list[DanglingPointer] = []
    unreadable: list[Path] = []
    moved: list[Path] = []
    mended = 0
    network = is_network_filesystem(os.fspath(layout.pointers))
    for _digest, found_at in list(layout.pointer_files()):
        source = Path(found_at)
        try:
            info = os.stat(source)
        except OSError:
            continue  # removed since the listing
        found = read_present(source, network=network)
        data = found[0] if found is not None else None
        pointer = decode(data) if data is not None else None
        if pointer is None:
            if data is None and not source.exists():
                continue  # removed while we looked
            if data is None and not os.access(source, os.R_OK):
                not_permitted.append(source)  # a permission, not damage: not moved
                continue
            if data is not None and is_newer_format(data):
                continue  # a newer wheelcache's pointer: not ours to judge
            unreadable.append(source)
            if repair:
                destination = _quarantine_pointer(layout, source, data, info, timeout)
                if destination is not None:
                    moved.append(destination)
            continue
        # Looked up now, not from the entry scan: an entry published since is
        # not missing. A wheel whose file or size differs is a miss to get().
        corrupt = [w.sha256 for w in pointer.wheels if w.sha256 in naming]
        for sha256 in corrupt:
            naming[sha256].append(pointer.key)
        missing = tuple(
            w.sha256
            for w in pointer.wheels
            if w.sha256 not in naming
            and (
                (entry := store.entry_stat(w.sha256, w.filename)) is None or entry.st_size != w.size
            )
        )
        if missing:
            dangling.append(DanglingPointer(pointer.key, source, missing))
        dropped = frozenset(missing).union(corrupt)
        if repair and dropped and drop_wheels(layout, source, drop=dropped, timeout=timeout):
            mended += 1
    return dangling, unreadable, mended, moved


def _quarantine_pointer(
    layout: Layout, source: Path, data: bytes | None, info: os.stat_result, timeout: float | None
) -> Path | None:
    """Move an unreadable pointer aside, unless a writer replaced it meanwhile.

    *data* is what we read (None if the file could not be read at all) and
    *info* its stat; both are checked again under the pointer lock.
    """
    lock = layout.pointer_lock(source.stem)
    with hold(lock, timeout=timeout, purpose=POINTER_LOCK_PURPOSE, root=layout.root):
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
            refuse_links(layout.root, layout.quarantine)
            layout.quarantine.mkdir(parents=True, exist_ok=True)
            retry_transient(lambda: os.rename(source, destination))
        except (OSError, CacheError):
            logger.warning("could not move unreadable pointer %s aside", source)
            return None
    logger.warning("moved unreadable pointer %s to %s", source, destination)
    return destination
