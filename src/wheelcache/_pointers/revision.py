"""Recording wheels in a source's pointer: the one read-modify-write in the cache.

A pointer is updated only under the source's pointer lock: read the current
pointer, compute the new revision, freshen every entry the new pointer stops
naming, replace the file atomically, and freshen those entries again
(docs/design.md, sections 4 and 6.3, say why twice). The lock makes
concurrent adds to one revision merge rather than overwrite each other; the
atomic replace, not the lock, is what keeps every reader safe.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from typing import TYPE_CHECKING

from .._errors import CacheError, cache_error
from .._fs import syncpoints as _syncpoints
from .._fs.fsutil import make_directories, touch, write_file_atomic
from .._fs.locking import hold
from .._fs.nofollow import real_ancestors, refuse_links
from .._layout import Layout, unique_token
from .any_version import referenced_digests
from .pointer import (
    MAX_POINTER_BYTES,
    Pointer,
    WheelRef,
    decode,
    encode,
    read_bytes,
    read_pointer,
)

if TYPE_CHECKING:
    from pathlib import Path

    from .._source import Source
    from .._store.store import Published, Store

__all__ = ["POINTER_LOCK_PURPOSE", "drop_wheels", "record_published", "record_wheels"]

logger = logging.getLogger("wheelcache")

POINTER_LOCK_PURPOSE = "updating the pointer of the same source"
"""What a source's pointer lock guards (messages name it)."""

_WRITE_ATTEMPTS = 3
"""Tries at a pointer write whose directory vanished under it (a concurrent clean())."""

_REPUBLISH_ATTEMPTS = 5
"""Publishes of an entry that keeps vanishing before its pointer names it (clean() in a loop)."""


def record_wheels(
    layout: Layout,
    store: Store,
    source: Source,
    refs: list[WheelRef],
    *,
    timeout: float | None = None,
) -> None:
    """Name *refs* in the pointer of *source*, merging with a revision of equal freshness.

    A wheel with the same file name as one already in the revision supersedes
    it; a different freshness starts a new revision naming only *refs*.
    Adding exactly what is already recorded rewrites nothing (it only marks
    the source as used). The pointer lock is waited for up to *timeout*
    seconds (None: as long as it takes); a link at the pointer's shard or
    bucket is refused.
    """
    digest = source.digest
    pointer_path = layout.pointer_file(digest)
    refuse_links(layout.root, pointer_path.parent)
    with hold(
        layout.pointer_lock(digest),
        timeout=timeout,
        purpose=POINTER_LOCK_PURPOSE,
        root=layout.root,
    ):
        _syncpoints.reach("pointer.locked")
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                _replace(layout, store, source, refs, pointer_path)
                return
            except FileNotFoundError as exc:
                # clean() renamed the bucket away mid-write; start over.
                if attempt == _WRITE_ATTEMPTS:
                    raise cache_error(pointer_path, "write", exc) from exc
            except OSError as exc:
                raise cache_error(pointer_path, "write", exc) from exc


def record_published(
    store: Store,
    source: Source,
    published: list[Published],
    *,
    republish: dict[str, Path],
    timeout: float | None = None,
) -> None:
    """Name *published* in the source's pointer, and make sure they still exist.

    An entry can vanish between its publication and the pointer update only
    through ``clean()`` or a prune with zero grace; then it is published
    again from *republish* (the wheel file each digest came from). Once the
    pointer names an entry, prune keeps it.
    """
    for _attempt in range(_REPUBLISH_ATTEMPTS):
        refs = [p.ref() for p in published]
        record_wheels(store.layout, store, source, refs, timeout=timeout)
        vanished = [p for p in published if store.entry_stat(p.sha256, p.info.filename) is None]
        if not vanished:
            return
        logger.info("entries vanished before they were recorded; publishing again")
        store.layout.ensure_root()
        for item in vanished:
            published[published.index(item)] = store.publish(republish[item.sha256])
    raise CacheError(
        f"entries for {source.key!r} kept vanishing while being added;"
        " is another process cleaning the cache in a loop?"
    )


def _replace(
    layout: Layout, store: Store, source: Source, refs: list[WheelRef], pointer_path: Path
) -> None:
    found = read_bytes(pointer_path)
    old = decode(found[0]) if found else None
    previously = referenced_digests(found[0]) if found else frozenset()
    if old is not None and old.key == source.key and old.freshness == source.freshness:
        names = {ref.filename for ref in refs}
        wheels = tuple(w for w in old.wheels if w.filename not in names) + tuple(refs)
        name = source.name or old.name
        filename = source.filename or old.filename
        if set(wheels) == set(old.wheels) and (old.name, old.filename) == (name, filename):
            # A repeated add is a use, not a change. Write the same pointer anew
            # where SFTP lets only the owner set a time, or where a prune on
            # another host (the lock excludes nothing across hosts) retired it.
            try:
                if touch(pointer_path):
                    return
            except PermissionError:
                pass
    else:
        wheels = tuple(refs)
        name, filename = source.name, source.filename
    dropped = previously - {w.sha256 for w in wheels}
    names_of = {w.sha256: w.filename for w in old.wheels} if old is not None else {}
    # Freshen what this replace stops naming, before and after the
    # replace: before, so a prune that reads the new pointer sees a fresh
    # time; after, so a lookup that read the old pointer during the replace
    # gets a full grace period from its hand-out.
    for sha256 in dropped:
        store.freshen(sha256, names_of.get(sha256))
    pointer = Pointer(source.key, source.freshness, name, wheels, time.time(), filename)
    data = encode(pointer)
    if len(data) > MAX_POINTER_BYTES:
        # Readers stop at this size: refuse what get() could never find.
        raise CacheError(
            f"cannot record {len(wheels)} wheels for {source.key[:80]!r}: the pointer would be"
            f" {len(data)} bytes, over the {MAX_POINTER_BYTES}-byte limit readers accept"
        )
    make_directories(pointer_path.parent)
    _syncpoints.reach("pointer.before-replace")
    write_file_atomic(pointer_path, data, temp_name=f".{pointer_path.stem}.{unique_token()}.tmp")
    _syncpoints.reach("pointer.after-replace")
    for sha256 in dropped:
        store.freshen(sha256, names_of.get(sha256))


def drop_wheels(
    layout: Layout, pointer_path: Path, *, drop: frozenset[str], timeout: float | None = None
) -> bool:
    """Remove the wheels *drop* from a pointer (deleting it if none remain).

    Used by ``verify(repair=True)``. Returns True when the pointer changed.
    """
    digest = pointer_path.stem
    refuse_links(layout.root, pointer_path.parent)
    with hold(
        layout.pointer_lock(digest),
        timeout=timeout,
        purpose=POINTER_LOCK_PURPOSE,
        root=layout.root,
    ):
        found = read_pointer(pointer_path)
        if found is None:
            return False
        pointer = found[0]
        # Looked at again under the lock: a wheel published again since the
        # caller found it missing is named by the pointer and must stay.
        wheels = tuple(w for w in pointer.wheels if w.sha256 not in drop or _present(layout, w))
        if wheels == pointer.wheels:
            return False
        try:
            if wheels:
                mended = pointer._replace(wheels=wheels, written=time.time())
                write_file_atomic(
                    pointer_path, encode(mended), temp_name=f".{digest}.{unique_token()}.tmp"
                )
            else:
                os.unlink(pointer_path)
        except FileNotFoundError:
            # Retired meanwhile by a prune on another host (the pointer lock
            # is a flock: it excludes nothing across hosts): nothing to mend.
            return False
        except OSError as exc:
            raise cache_error(pointer_path, "rewrite", exc) from exc
        logger.info("removed %d missing or corrupt wheels from %s", len(drop), pointer_path)
        return True


def _present(layout: Layout, ref: WheelRef) -> bool:
    """True when the entry *ref* names is in place, as a lookup would find it."""
    location = layout.entry_file_str(ref.sha256, ref.filename)
    try:
        info = os.lstat(location)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size == ref.size and real_ancestors(location, 1)
