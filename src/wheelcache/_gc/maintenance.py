"""Garbage collection and inspection, as methods of :class:`~wheelcache.WheelCache`.

``prune``, ``clean``, ``verify`` and ``stats`` load their modules on first
use, so a process that only looks wheels up never imports them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._errors import naming_permissions

if TYPE_CHECKING:
    from .._layout import Layout
    from .._store.store import Store
    from .reports import CleanReport, Progress, PruneReport, VerifyReport
    from .stats import CacheStats

__all__ = ["Maintenance"]


class Maintenance:
    """The garbage-collection half of :class:`~wheelcache.WheelCache`."""

    _layout: Layout
    _store: Store
    lock_timeout: float | None
    lock_mode: str

    @naming_permissions("prune")
    def prune(
        self,
        grace: float | None = None,
        *,
        max_size: int | None = None,
        max_age: float | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> PruneReport:
        """Delete what no process may still be using.

        Entries that no pointer names and that were not freshened (published,
        found already present, handed out, or dropped from a pointer) within
        *grace* seconds (default :data:`DEFAULT_GRACE`, one hour) go, and so do
        leftovers of dead processes. ``max_age`` (seconds) retires sources not
        used (no hit, no add) for longer; ``max_size`` (bytes) retires the
        least recently used sources until what stays referenced fits.
        Retiring removes the pointer now; its wheels go now if the source
        was idle for longer than *grace* plus ``USE_INTERVAL`` (and every
        reader could record its use), else after *grace*. The report says
        what waits, and until when. Quarantined items older than *grace* are
        deleted too.
        ``dry_run`` reports without changing anything. Readers and writers are
        never blocked; two prunes never run at once.
        """
        from . import prune as _prune

        self._layout.require_directory()
        return _prune.prune(
            self._layout,
            grace=_prune.DEFAULT_GRACE if grace is None else grace,
            max_size=max_size,
            max_age=max_age,
            dry_run=dry_run,
            progress=progress,
            lock_timeout=self.lock_timeout,
            lock_mode=self.lock_mode,
        )

    @naming_permissions("clean")
    def clean(self, *, dry_run: bool = False) -> CleanReport:
        """Empty the cache: every wheel, every source, the quarantine.

        Concurrent lookups see misses, never exceptions. Paths handed out
        earlier may vanish: the one exception to the grace contract.
        ``dry_run`` counts what would go and changes nothing.
        """
        from . import prune as _prune

        self._layout.require_directory()
        return _prune.clean(
            self._layout, dry_run=dry_run, lock_timeout=self.lock_timeout, lock_mode=self.lock_mode
        )

    @naming_permissions("remove sources from")
    def remove(
        self,
        *patterns: str,
        grace: float | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> PruneReport:
        """Retire the sources a pattern matches; delete their wheels where the contract allows.

        A pattern is a shell glob matched against a source's project name
        (normalised), its sdist's file name and its key (a project
        directory's resolved path). The matching sources' pointers go now;
        their wheels go now when the source is idle, as in :meth:`prune`,
        unless another source names them; the rest wait for *grace* and
        are reported as waiting. ``retired_sources`` in the report is empty
        when nothing matched.
        """
        from . import prune as _prune
        from .remove import remove

        self._layout.require_directory()
        return remove(
            self._layout,
            patterns,
            grace=_prune.DEFAULT_GRACE if grace is None else grace,
            dry_run=dry_run,
            progress=progress,
            lock_timeout=self.lock_timeout,
            lock_mode=self.lock_mode,
        )

    @naming_permissions("verify")
    def verify(self, *, repair: bool = False, progress: Progress | None = None) -> VerifyReport:
        """Re-hash every entry against its name and check every pointer.

        ``repair=True`` moves corrupt entries and unreadable pointers to the
        quarantine (never deleting them) and removes references to missing or
        corrupt entries from pointers.
        """
        from . import verify as _verify

        self._layout.require_directory()
        return _verify.verify(
            self._layout, repair=repair, progress=progress, lock_timeout=self.lock_timeout
        )

    @naming_permissions("count what is in")
    def stats(self, *, progress: Progress | None = None) -> CacheStats:
        """A read-only snapshot of what the cache holds: counts, bytes, leftovers."""
        from .stats import collect_stats

        self._layout.require_directory()
        return collect_stats(self._store, progress=progress)
