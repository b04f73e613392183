"""Listing what a cache holds: its sources and its entries, for people and tools.

Listing reads only and takes no lock, so what it yields is a snapshot that
other processes may change meanwhile: a pointer or entry that vanishes
mid-listing is skipped, never an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ._pointers.pointer import read_pointer
from ._wheel import CachedWheel

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ._layout import Layout
    from ._pointers.pointer import WheelRef
    from ._store.store import Store

__all__ = ["SourceRecord", "iter_sources", "iter_wheels"]


class SourceRecord(NamedTuple):
    """What the cache knows about one source (for listing)."""

    key: str
    name: str | None
    freshness: str
    wheels: tuple[CachedWheel, ...]
    """The wheels of the current revision that are present in the cache."""
    last_used: float
    """Seconds since the epoch of the last hit or add (to :data:`USE_INTERVAL`)."""
    pointer: Path
    filename: str | None = None
    """The sdist's file name, when the source was added from an archive."""


def iter_sources(store: Store) -> Iterator[SourceRecord]:
    """Every source with a readable pointer, in no particular order."""
    layout = store.layout
    for _digest, path in layout.pointer_files():
        found = read_pointer(path)
        if found is None:
            continue
        pointer, info = found
        wheels = []
        for ref in pointer.wheels:
            entry = store.entry_stat(ref.sha256, ref.filename)
            if entry is not None:
                wheels.append(_cached_ref(layout, ref))
        yield SourceRecord(
            pointer.key,
            pointer.name,
            pointer.freshness,
            tuple(wheels),
            info.st_mtime,
            Path(path),
            pointer.filename,
        )


def iter_wheels(store: Store) -> Iterator[CachedWheel]:
    """Every entry in the cache, referenced or not, in no particular order."""
    layout = store.layout
    for sha256, _path in store.entries():
        filename = store.wheel_filename(sha256)
        if filename is None:
            continue
        info = store.entry_stat(sha256, filename)
        if info is not None:
            yield CachedWheel(layout.entry_file(sha256, filename), sha256, info.st_size)


def _cached_ref(layout: Layout, ref: WheelRef) -> CachedWheel:
    return CachedWheel(layout.entry_file(ref.sha256, ref.filename), ref.sha256, ref.size)
