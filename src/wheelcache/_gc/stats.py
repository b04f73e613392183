"""Cache statistics: how much is stored, how much is in use, what is left over.

:func:`collect_stats` only reads. It takes no lock, so the numbers are a
snapshot that other processes may change while it counts: an entry published
or pruned mid-scan may or may not be counted, and a file that vanishes under
the scan is skipped, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._fs.fsutil import digest_directories, tree_size
from .._fs.nofollow import list_real_dir
from .._layout import LAYOUT_VERSION
from .._pointers.any_version import referenced_digests
from .._pointers.pointer import read_bytes
from .trees import tree_state

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from .._store.store import Store


__all__ = ["CacheStats", "collect_stats"]


@dataclass(frozen=True)
class CacheStats:
    """A snapshot of one cache's contents. Sizes are in bytes."""

    root: Path
    layout_version: int
    """The layout (bucket names) these numbers describe."""
    wheels: int
    """Entries in the store, referenced or not."""
    wheel_bytes: int
    sources: int
    """Pointer files: sources with a current revision."""
    referenced_entries: int
    """Entries some pointer names: prune keeps them."""
    referenced_bytes: int
    reclaimable_bytes: int
    """Bytes of entries no pointer names: prune deletes them once their grace period is over."""
    staging_items: int
    """Staging directories: builds and publications in progress, or leftovers of dead processes."""
    staging_bytes: int
    trash_items: int
    """Items being deleted, or left by an interrupted prune or clean."""
    trash_bytes: int
    quarantine_items: int
    """Corrupt entries and unreadable pointers moved aside by verify."""
    trees: int = 0
    """Unpacked trees (made by installs), referenced or not."""
    tree_bytes: int = 0
    """Bytes of the files in the unpacked trees (hard links into environments counted once)."""


def collect_stats(
    store: Store, *, progress: Callable[[str, int, int], None] | None = None
) -> CacheStats:
    """Count what the cache of *store* holds; see the module docstring for what "snapshot" means.

    ``progress(phase, done, total)`` is called as the entries are counted.
    """
    layout = store.layout
    sources = 0
    referenced: set[str] = set()
    for _digest, pointer in layout.pointer_files():
        found = read_bytes(pointer)
        if found is not None:
            sources += 1
            referenced |= referenced_digests(found[0])
    wheels = wheel_bytes = referenced_entries = referenced_bytes = 0
    entries = list(store.entries())
    for done, (sha256, _entry) in enumerate(entries, 1):
        if progress is not None and done % 256 == 0:
            progress("info", done, len(entries))
        filename = store.wheel_filename(sha256)
        info = store.entry_stat(sha256, filename) if filename is not None else None
        if info is None:
            continue
        wheels += 1
        wheel_bytes += info.st_size
        if sha256 in referenced:
            referenced_entries += 1
            referenced_bytes += info.st_size
    if progress is not None:
        progress("info", len(entries), len(entries))
    trees = tree_bytes = 0
    for _sha256, tree in digest_directories(layout.trees):
        state = tree_state(tree)
        if state is not None:
            trees += 1
            tree_bytes += state[1]
    staging = [p for p in _children(layout.staging) if not p.name.endswith(".lock")]
    trash = list(_children(layout.trash))
    return CacheStats(
        root=layout.root,
        layout_version=LAYOUT_VERSION,
        wheels=wheels,
        wheel_bytes=wheel_bytes,
        sources=sources,
        referenced_entries=referenced_entries,
        referenced_bytes=referenced_bytes,
        reclaimable_bytes=wheel_bytes - referenced_bytes,
        staging_items=len(staging),
        staging_bytes=sum(tree_size(path) for path in staging),
        trash_items=len(trash),
        trash_bytes=sum(tree_size(path) for path in trash),
        quarantine_items=sum(1 for _ in _children(layout.quarantine)),
        trees=trees,
        tree_bytes=tree_bytes,
    )


def _children(directory: Path) -> Iterator[Path]:
    """The entries of *directory*; nothing when it is missing, unreadable or a link."""
    for name in sorted(item.name for item in list_real_dir(directory)):
        yield directory / name
