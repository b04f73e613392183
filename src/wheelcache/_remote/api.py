"""The remote tier's part of :class:`~wheelcache.WheelCache`: pull, flush, push, prune, status.

Imported with the cache itself, so it imports nothing heavy: the tier, the
store seam and the object-store client load only when a remote is configured.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .._errors import CacheError

if TYPE_CHECKING:
    from .._source import Source
    from .._store.store import Store
    from .._tags import TagRanks
    from .._wheel import CachedWheel
    from .reports import PushReport, RemotePruneReport
    from .tier import RemoteStatus, RemoteTier

__all__ = ["RemoteMethods", "remote_tier"]


def remote_tier(store: Store, remote: str | None, remote_mode: str | None) -> RemoteTier | None:
    """The remote tier for a cache, or None (loading nothing) when no remote is configured."""
    if remote == "" or not (remote or os.environ.get("WHEELCACHE_REMOTE")):
        return None
    from .config import remote_config
    from .tier import RemoteTier

    config = remote_config(remote, remote_mode)
    return RemoteTier(config, store) if config is not None else None


class RemoteMethods:
    """Methods of :class:`~wheelcache.WheelCache` that use its remote."""

    _remote: RemoteTier | None
    _store: Store

    if TYPE_CHECKING:

        def _lookup(self, source: Source, ranks: TagRanks) -> CachedWheel | None: ...

    def _pull(self, source: Source, ranks: TagRanks) -> CachedWheel | None:
        """After a local miss: the remote's wheel, published locally, or None."""
        assert self._remote is not None
        return self._lookup(source, ranks) if self._remote.pull(source, ranks) else None

    def _tier(self) -> RemoteTier:
        if self._remote is None:
            from .config import InvalidRemoteError

            raise InvalidRemoteError("no remote is configured (remote=, $WHEELCACHE_REMOTE)")
        return self._remote

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until what this cache queued for the remote is uploaded.

        Pushes run in the background and are flushed at interpreter exit
        anyway; this waits now, for at most *timeout* seconds (None: as long
        as they take). True when nothing is pending; also True without a remote.
        """
        return True if self._remote is None else self._remote.flush(timeout)

    def push(self) -> PushReport:
        """Upload every current local revision of a portable source to the remote, now.

        Seeds a bucket from one machine. A project directory is uploaded when
        it is still as it was built (without ``cache_keys``), under its
        remote identity (see ``Source.from_tree``). Raises :class:`~wheelcache.CacheError`
        when no remote is configured, it is read-only, or it cannot be reached.
        """
        from .._listing import iter_sources
        from .._source import Source
        from .records import is_portable
        from .reports import PushReport

        tier = self._tier()
        tier.require(write=True)
        sources = wheels = uploaded = skipped = 0
        for record in iter_sources(self._store):
            source: Source | None = Source(record.key, record.freshness, record.name)
            if source is not None and not is_portable(source):
                source = self._tree_as_built(source)
            if source is None:
                skipped += 1
                continue
            uploaded += tier.push_now(source, record.wheels)
            if tier.problem is not None:
                raise CacheError(f"remote {tier.config.url} failed: {tier.problem}")
            sources += 1
            wheels += len(record.wheels)
        return PushReport(sources, wheels, uploaded, skipped)

    def _tree_as_built(self, recorded: Source) -> Source | None:
        """The tree a local pointer names, with its remote identity, if it is as it was built.

        A pointer keeps a tree's path and local freshness only: the tree is
        fingerprinted again, and only when its content is still the one the
        wheels were built from (the same freshness) is its identity taken.
        """
        from .._errors import InvalidSourceError
        from .._source import Source

        if not os.path.isdir(recorded.key):
            return None
        try:
            current = Source.from_tree(recorded.key, cache=self)  # type: ignore[arg-type]
        except InvalidSourceError:
            return None
        if current.freshness != recorded.freshness or current.remote_key is None:
            return None
        return current

    def prune_remote(
        self, *, max_age: float | None = None, grace: float | None = None, dry_run: bool = False
    ) -> RemotePruneReport:
        """Delete remote records older than *max_age* (default 30 days), then wheels none names.

        Wheel objects younger than *grace* seconds (default one hour) stay:
        their records may still be on the way. See docs/design.md, section 14.5.
        """
        from . import prune
        from .objects import RemoteUnavailable

        tier = self._tier()
        objects = tier.require(write=not dry_run)
        try:
            return prune.prune_remote(
                objects,
                max_age=prune.DEFAULT_MAX_AGE if max_age is None else max_age,
                grace=prune.DEFAULT_REMOTE_GRACE if grace is None else grace,
                dry_run=dry_run,
            )
        except RemoteUnavailable as exc:
            tier.give_up(str(exc))
            raise CacheError(f"remote {tier.config.url} failed: {exc}") from None

    def remote_status(self) -> RemoteStatus | None:
        """The remote's URL, mode, whether it answers now, and objects refused; None without one."""
        return None if self._remote is None else self._remote.status()
