"""What garbage collection reports: the results of prune and verify, and their progress.

:class:`PruneReport`, :class:`CleanReport`, :class:`VerifyReport`,
:class:`CorruptEntry` and :class:`DanglingPointer` are public (``wheelcache``
loads them on first use).
:class:`Tally` is what a prune counts as it goes; its :class:`PruneReport` is
made from it at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Imported at run time, not only for mypy, so typing.get_type_hints() works on
# the public report types.
from pathlib import Path  # noqa: TC003

__all__ = [
    "CleanReport",
    "CorruptEntry",
    "DanglingPointer",
    "Progress",
    "PruneReport",
    "Tally",
    "VerifyReport",
]


Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: called as long operations advance."""


@dataclass(frozen=True)
class PruneReport:
    """What a prune did (or, with ``dry_run``, would do)."""

    removed_entries: int = 0
    """Entries deleted (no pointer named them, older than the grace period)."""
    freed_bytes: int = 0
    """Bytes of wheels and unpacked trees deleted, plus staging and trash leftovers reclaimed."""
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
    waiting_entries: int = 0
    """Kept entries no remaining pointer names: they go once their grace period is over."""
    waiting_bytes: int = 0
    """Bytes of the waiting entries."""
    waiting_until: float | None = None
    """When the last waiting entry becomes removable (seconds since the epoch), if any waits."""
    grace: float = 0.0
    """The grace period this prune used, in seconds."""
    removed_quarantine: int = 0
    """Quarantined items deleted (moved aside longer than the grace period ago)."""
    dry_run: bool = False
    seconds: float = 0.0
    clock_jump: float = 0.0
    """Seconds the clock jumped forward since the previous prune on this machine (0: none)."""
    trusted_clock: bool = True
    """False when a recent forward jump of the clock kept this prune from deleting
    any entry or retiring any source by age (docs/design.md, A2)."""
    removed_trees: int = 0
    """Unpacked trees deleted (their wheel unreferenced, unused for the grace period)."""
    kept_trees: int = 0
    """Unpacked trees that remain."""
    kept_tree_bytes: int = 0
    """Bytes of the unpacked trees that remain."""


@dataclass(frozen=True)
class CleanReport:
    """What ``clean()`` emptied (or, with ``dry_run``, would empty)."""

    removed_entries: int = 0
    """Wheels deleted."""
    removed_sources: int = 0
    """Pointer files deleted: sources the cache no longer knows."""
    removed_quarantine: int = 0
    """Items deleted from the quarantine."""
    freed_bytes: int = 0
    """Bytes of everything deleted."""
    dry_run: bool = False


@dataclass(frozen=True)
class CorruptEntry:
    """An entry whose contents do not match its name."""

    sha256: str
    path: Path
    problem: str
    sources: tuple[str, ...] = ()
    """Keys of the sources whose pointers name this entry (``repair`` drops it from them)."""


@dataclass(frozen=True)
class DanglingPointer:
    """A pointer that names an entry the cache does not have.

    An entry that is present but corrupt is reported once, as a
    :class:`CorruptEntry` listing the sources that name it, not here.
    """

    key: str
    pointer: Path
    missing: tuple[str, ...]
    """Digests of the named entries that are missing, or whose wheel is not the recorded size."""


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
    """Where corrupt entries, unreadable pointers and links were moved by ``repair``."""
    mended_pointers: int = 0
    links: tuple[Path, ...] = ()
    """Symbolic links where the layout expects a directory or file: nothing
    follows them (they are misses), and ``repair`` moves them aside."""

    not_permitted: tuple[Path, ...] = ()
    """Directories and files this user may not read: nothing in them was checked."""

    corrupt_trees: tuple[CorruptEntry, ...] = ()
    """Unpacked trees whose files differ from their manifest (a file written through a link)."""

    @property
    def sound(self) -> bool:
        """True when all was checked and nothing is corrupt, dangling, unreadable or a link."""
        return not (
            self.corrupt
            or self.corrupt_trees
            or self.dangling
            or self.unreadable_pointers
            or self.links
            or self.not_permitted
        )


@dataclass
class Tally:
    """What a prune has done so far; its :class:`PruneReport` is made from these counts."""

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
    waiting: int = 0
    waiting_bytes: int = 0
    waiting_until: float | None = None
    quarantine: int = 0
    removed_trees: int = 0
    kept_trees: int = 0
    kept_tree_bytes: int = 0

    def keep(self, size: int) -> None:
        """Count one entry of *size* bytes as kept."""
        self.kept += 1
        self.kept_bytes += size

    def report(self, *, dry_run: bool, grace: float, started: float) -> PruneReport:
        """The :class:`PruneReport` of these counts; *started* is ``time.monotonic()`` then."""
        return PruneReport(
            removed_entries=self.removed,
            freed_bytes=self.freed,
            kept_entries=self.kept,
            kept_bytes=self.kept_bytes,
            referenced_entries=self.referenced,
            referenced_bytes=self.referenced_bytes,
            retired_sources=tuple(self.retired),
            reclaimed_staging=self.staging,
            reclaimed_trash=self.trash,
            restored_entries=self.restored,
            waiting_entries=self.waiting,
            waiting_bytes=self.waiting_bytes,
            waiting_until=self.waiting_until,
            grace=grace,
            removed_quarantine=self.quarantine,
            dry_run=dry_run,
            seconds=time.monotonic() - started,
            removed_trees=self.removed_trees,
            kept_trees=self.kept_trees,
            kept_tree_bytes=self.kept_tree_bytes,
        )

    def wait(self, size: int, until: float) -> None:
        """Count one kept, unreferenced entry of *size* bytes, removable after *until*."""
        self.waiting += 1
        self.waiting_bytes += size
        self.waiting_until = until if self.waiting_until is None else max(self.waiting_until, until)
