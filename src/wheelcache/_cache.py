"""WheelCache: look up, add and build wheels in a shared, append-only cache."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._build.from_path import BuildsFromPaths
from ._errors import InvalidWheelError, naming_permissions
from ._fs import syncpoints as _syncpoints
from ._fs.locking import hold
from ._fs.lockmode import lock_mode as _lock_mode
from ._gc.maintenance import Maintenance
from ._install.api import Installs
from ._layout import ENVIRONMENT_VARIABLE, Layout, default_root
from ._listing import SourceRecord, iter_sources, iter_wheels
from ._pointers.any_version import USE_INTERVAL
from ._pointers.revision import record_published
from ._remote.api import RemoteMethods, remote_tier
from ._store.lookup import Finder
from ._store.store import Published, Store
from ._tags import ranks_for
from ._wheel import CachedWheel

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from packaging.tags import Tag

    from ._pointers.pointer import Pointer, WheelRef
    from ._source import Source
    from ._tags import TagRanks

__all__ = ["ENVIRONMENT_VARIABLE", "USE_INTERVAL", "SourceRecord", "WheelCache", "default_root"]

logger = logging.getLogger("wheelcache")


class WheelCache(Maintenance, RemoteMethods, BuildsFromPaths, Installs):
    """An append-only cache of wheels built from source distributions.

    Any number of threads and processes may share one cache directory. Readers
    take no lock; see ``docs/design.md`` for why every guarantee holds.

    ``root``: the cache directory; None means ``$WHEELCACHE_DIR`` if set, else
    :func:`platformdirs.user_cache_path` ``("wheelcache")``, made absolute
    once, here (a later ``chdir`` changes nothing). Constructing a cache
    writes nothing; directories appear on first write. A root that exists and
    is not a directory is a :class:`~wheelcache.CacheError`, here and in
    every operation that scans.

    ``lock_timeout``: seconds any wait for a lock may last before giving up
    with :class:`~wheelcache.LockTimeout` (a :class:`~wheelcache.CacheError`
    naming the lock and what it guards): another process's build of the same
    source, its update of the same pointer, another prune. None, the default,
    waits as long as the other process takes.

    ``remote``: a bucket shared by many machines (``s3://bucket/prefix``,
    ``file:///dir``; default ``$WHEELCACHE_REMOTE``; empty means none): a miss
    is pulled from it before building, and what is added or built is pushed
    in the background unless ``remote_mode`` (default
    ``$WHEELCACHE_REMOTE_MODE``) is ``"read"``. See docs/design.md, section 14.

    ``lock_mode``: ``"flock"`` (default ``$WHEELCACHE_LOCK_MODE``, else this)
    builds a source at most once per host; ``"lease"`` at most once across
    hosts sharing the directory, for network filesystems (docs/design.md,
    section 13). It applies to the build and prune locks.

    ``install`` (from :class:`~wheelcache._install.api.Installs`) installs a
    cached wheel by linking.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        lock_timeout: float | None = None,
        remote: str | None = None,
        remote_mode: str | None = None,
        lock_mode: str | None = None,
    ) -> None:
        chosen = Path(root).expanduser() if root is not None else default_root()
        self.root = Path(os.path.abspath(chosen))
        self.lock_timeout = lock_timeout
        self.lock_mode = _lock_mode(lock_mode)
        self._layout = Layout(self.root)
        self._layout.require_directory()
        self._store = Store(self._layout)
        self._root_ready = False
        self._finder = Finder(self._layout, self._store.freshen)
        self._remote = remote_tier(self._store, remote, remote_mode)

    def __repr__(self) -> str:
        return f"WheelCache(root={str(self.root)!r})"

    # -- lookups -----------------------------------------------------------------

    def get(self, source: Source, tags: Iterable[Tag] | None = None) -> CachedWheel | None:
        """The best compatible wheel of *source*'s current revision, or None.

        *tags* are the acceptable tags, most preferred first (default: this
        interpreter's ``packaging.tags.sys_tags()``). A miss when the source
        has no pointer, its freshness differs, no wheel is compatible, or the
        entry vanished or is unreadable. Never raises because of what another
        process is doing.
        """
        ranks = ranks_for(tags)
        hit = self._lookup(source, ranks)
        return hit if hit is not None or self._remote is None else self._pull(source, ranks)

    def _lookup(self, source: Source, ranks: TagRanks) -> CachedWheel | None:
        """:meth:`get` with the tag ranking already computed (the hot path)."""
        found = self._finder.find(source.key, source.freshness, source.digest, ranks)
        if found is None:
            return None
        location, ref = found
        return CachedWheel(location, ref.sha256, ref.size)

    def _handed_out(self, fd: int, pointer_path: str, ref: WheelRef, pointer: Pointer) -> bool:
        """:meth:`Finder.handed_out <wheelcache._store.lookup.Finder.handed_out>`."""
        return self._finder.handed_out(fd, pointer_path, ref, pointer)

    @naming_permissions("look up an entry in")
    def find(self, sha256: str) -> CachedWheel | None:
        """The entry whose wheel has this SHA-256 (hex), whatever source it came from.

        For installers with hash-pinned lock files. The entry is freshened, so
        it stays for at least one grace period even if no source names it.
        """
        digest = sha256.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        filename = self._store.wheel_filename(digest)
        if filename is None:
            return None
        from ._wheels.names import parse_wheel_name  # zipfile and email: not on the hit path

        try:
            parse_wheel_name(filename)
        except InvalidWheelError:
            return None
        info = self._store.entry_stat(digest, filename)
        if info is None or not self._store.freshen(digest, filename):
            return None
        return CachedWheel(self._layout.entry_file(digest, filename), digest, info.st_size)

    # -- adding --------------------------------------------------------------------

    @naming_permissions("add to")
    def add(self, source: Source, wheel_path: str | os.PathLike[str]) -> CachedWheel:
        """Publish a wheel built from *source* and record it in the source's pointer.

        The wheel is copied into the cache (hashing the bytes written), validated
        and published by an atomic rename. If the pointer's freshness equals
        ``source.freshness``, the wheel joins that revision's other wheels (a
        wheel with the same file name is superseded); otherwise it starts a new
        revision naming only this wheel. Adding the same wheel again changes
        nothing and returns the same entry.

        Raises :class:`~wheelcache.InvalidWheelError` for a file that is not a
        valid wheel, :class:`~wheelcache.CacheError` when the cache cannot be
        written; the cache is unchanged in either case.
        """
        wheel = Path(wheel_path)
        self._ensure_root()
        published = self._store.publish(wheel)
        record_published(
            self._store,
            source,
            [published],
            republish={published.sha256: wheel},
            timeout=self.lock_timeout,
        )
        if self._remote is not None:
            self._remote.push(source, [_cached(published)])
        return _cached(published)

    # -- building ------------------------------------------------------------------

    def get_or_build(
        self,
        source: Source,
        build: Callable[[Path], Any],
        tags: Iterable[Tag] | None = None,
    ) -> CachedWheel:
        """The best compatible wheel of *source*, building it at most once.

        On a miss, the per-source build lock is taken and the lookup repeated:
        concurrent callers (threads or processes) run *build* once and the
        others hit. ``build(output_dir)`` must write one or more ``.whl`` files
        into the empty directory ``output_dir`` (on the cache's filesystem). If
        it raises, the exception propagates and nothing is cached; if it writes
        no wheel compatible with *tags*, :class:`~wheelcache.NoCompatibleWheelError`.
        """
        # Ranked before any waiting: a waiter then re-checks in microseconds
        # once it holds the lock, instead of computing its interpreter's tags
        # there while every other waiter queues behind it.
        ranks = ranks_for(tags)
        hit = self._lookup(source, ranks)
        if hit is not None:
            return hit
        self._ensure_root()
        with hold(
            self._layout.build_lock(source.digest),
            timeout=self.lock_timeout,
            purpose=f"building {source.name or source.key}",
            root=self.root,
            mode=self.lock_mode,
        ):
            _syncpoints.reach("build.locked")
            hit = self._lookup(source, ranks)
            if hit is None and self._remote is not None:
                hit = self._pull(source, ranks)
            if hit is not None:
                return hit
            from ._build.callback import build_and_record

            remote = self._remote
            return build_and_record(
                self._store,
                source,
                build,
                ranks,
                lock_timeout=self.lock_timeout,
                then=None if remote is None else lambda wheels: remote.push(source, wheels),
            )

    # -- listing -------------------------------------------------------------------

    def sources(self) -> Iterator[SourceRecord]:
        """Every source with a readable pointer, in no particular order."""
        self._layout.require_directory()
        return iter_sources(self._store)

    def wheels(self) -> Iterator[CachedWheel]:
        """Every entry in the cache, referenced or not, in no particular order."""
        self._layout.require_directory()
        return iter_wheels(self._store)

    # -- internals -------------------------------------------------------------------

    def _ensure_root(self) -> None:
        if not self._root_ready or not self.root.exists():
            self._layout.ensure_root()
            self._root_ready = True


def _cached(published: Published) -> CachedWheel:
    return CachedWheel(published.path, published.sha256, published.size)
