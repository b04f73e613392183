"""The remote tier of one cache: pull on a miss, push in the background, never fail.

:class:`RemoteTier` is the only door from the cache to the remote. Any
failure of the remote (:class:`~.objects.RemoteUnavailable`, or the client
missing) produces one warning and marks the remote down for the rest of the
process, after which every remote step is skipped at no cost. Nothing
remote ever raises out of a lookup, an add or a build.

Pushes run in one background thread (:class:`Pusher`) so a build returns as
soon as its wheel is cached locally; the queue is flushed at interpreter
exit, for at most :data:`FLUSH_SECONDS`.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from typing import TYPE_CHECKING, NamedTuple

from .._errors import CacheError
from .._pointers.revision import record_published
from .records import is_portable
from .rejections import count_rejections, log_rejection

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .._source import Source
    from .._store.store import Store
    from .._tags import TagRanks
    from .._wheel import CachedWheel
    from .config import RemoteConfig
    from .objects import ObjectStore

__all__ = ["FLUSH_SECONDS", "Pusher", "RemoteStatus", "RemoteTier"]

logger = logging.getLogger("wheelcache.remote")

FLUSH_SECONDS = 60.0
"""At interpreter exit, how long pending pushes may still take."""

_DOWN: dict[str, str] = {}
"""Remotes found unusable in this process, with the reason: skipped from then on."""
_DOWN_LOCK = threading.Lock()


class RemoteStatus(NamedTuple):
    """What ``info`` says about a remote."""

    url: str
    mode: str
    answered: bool
    problem: str | None
    rejected: int
    """Remote objects this cache has refused (bad digest, size, record or signature)."""


class RemoteUnusable(CacheError):
    """An explicit remote operation (push, prune) could not reach the remote."""


class RemoteTier:
    """The remote of one :class:`~wheelcache.WheelCache`."""

    def __init__(self, config: RemoteConfig, store: Store) -> None:
        self.config = config
        self._store = store
        self._objects: ObjectStore | None = None
        self._pusher = Pusher(self)

    @property
    def problem(self) -> str | None:
        """Why the remote is down in this process, or None while it is usable."""
        return _DOWN.get(self.config.url)

    def objects(self) -> ObjectStore | None:
        """The store seam, or None when the remote is down (after reporting why, once)."""
        if self.problem is not None:
            return None
        if self._objects is None:
            try:
                from .objects import ObjectStore, RemoteUnavailable
            except ImportError as exc:
                self.give_up(f"{exc}; install it with: pip install 'wheelcache[remote]'")
                return None
            try:
                self._objects = ObjectStore(
                    self.config.url, timeout=self.config.timeout, create=self.config.writable
                )
            except RemoteUnavailable as exc:
                self.give_up(str(exc))
                return None
        return self._objects

    def give_up(self, reason: str) -> None:
        """Mark the remote down for this process, warning once."""
        with _DOWN_LOCK:
            if self.config.url in _DOWN:
                return
            _DOWN[self.config.url] = reason
        logger.warning(
            "remote cache %s is unavailable; working locally for the rest of this process: %s",
            self.config.url,
            reason,
        )

    def reject(self, object_key: str, problem: str) -> None:
        """Report a refused remote object and count it in the cache's log."""
        log_rejection(self._store.layout.root, object_key, problem)

    # -- the cache's two hooks -------------------------------------------------------

    def pull(self, source: Source, ranks: TagRanks) -> bool:
        """Publish and record the remote's best wheel for *source*; False on a miss.

        Never raises: a remote failure marks the remote down, a local one
        (disk full) is reported and is a miss.
        """
        if not is_portable(source):
            return False
        objects = self.objects()
        if objects is None:
            return False
        from .objects import RemoteUnavailable
        from .pull import pull

        try:
            published = pull(
                objects, self._store, source, ranks, key=self.config.key, reject=self.reject
            )
            if published is None:
                return False
            record_published(
                self._store, source, [published], republish={published.sha256: published.path}
            )
        except RemoteUnavailable as exc:
            self.give_up(str(exc))
            return False
        except CacheError as exc:
            logger.warning("could not keep a wheel pulled from the remote: %s", exc)
            return False
        except OSError as exc:  # anything the client reports oddly: never fail the caller
            self.give_up(f"{type(exc).__name__}: {exc}")
            return False
        logger.info("pulled %s from the remote", published.info.filename)
        return True

    def push(self, source: Source, wheels: Iterable[CachedWheel]) -> None:
        """Queue *wheels* of *source* for upload (nothing in read-only mode)."""
        if self.config.writable and is_portable(source) and self.problem is None:
            self._pusher.submit(source, tuple(wheels))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait for queued pushes; False if some are still running after *timeout*."""
        return self._pusher.flush(timeout)

    def push_now(self, source: Source, wheels: Iterable[CachedWheel]) -> int:
        """Upload *wheels* of *source* now; the number of wheel objects uploaded.

        A remote failure marks the remote down and is reported as zero uploads;
        a wheel that vanished locally meanwhile is skipped.
        """
        objects = self.objects()
        if objects is None:
            return 0
        from .objects import RemoteUnavailable
        from .push import push_wheels

        try:
            return push_wheels(objects, source, wheels, key=self.config.key)
        except RemoteUnavailable as exc:
            self.give_up(str(exc))
        except FileNotFoundError:
            logger.info("a wheel of %s vanished locally before it was pushed", source.key)
        return 0

    # -- explicit operations ---------------------------------------------------------

    def require(self, *, write: bool) -> ObjectStore:
        """The store seam for an explicit command; raises when it cannot be used."""
        if write and not self.config.writable:
            raise RemoteUnusable(f"remote {self.config.url} is read-only (remote mode 'read')")
        objects = self.objects()
        if objects is None:
            raise RemoteUnusable(f"remote {self.config.url} is unavailable: {self.problem}")
        return objects

    def status(self) -> RemoteStatus:
        """Probe the remote with one LIST and say how it answered."""
        objects = self.objects()
        answered = False
        if objects is not None:
            from .objects import RemoteUnavailable
            from .records import REVISIONS

            try:
                next(iter(objects.list(REVISIONS)), None)
                answered = True
            except RemoteUnavailable as exc:
                self.give_up(str(exc))
        rejected = count_rejections(self._store.layout.root)
        return RemoteStatus(self.config.url, self.config.mode, answered, self.problem, rejected)


class Pusher:
    """One background thread per tier that uploads what the cache queues."""

    def __init__(self, tier: RemoteTier) -> None:
        self._tier = tier
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Source, tuple[CachedWheel, ...]]] = queue.Queue()
        self._pid = 0

    def submit(self, source: Source, wheels: tuple[CachedWheel, ...]) -> None:
        """Queue one upload, starting the thread on first use (again in a forked child)."""
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._queue = queue.Queue()
                threading.Thread(target=self._run, name="wheelcache-push", daemon=True).start()
                atexit.register(self.flush, FLUSH_SECONDS)
            self._queue.put((source, wheels))

    def _run(self) -> None:
        jobs = self._queue
        while True:
            source, wheels = jobs.get()
            try:
                self._tier.push_now(source, wheels)
            except Exception:  # the thread must survive anything a push does
                logger.warning("pushing %s failed", source.key, exc_info=True)
            finally:
                jobs.task_done()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued upload is done; False when *timeout* ran out first."""
        if self._pid != os.getpid():
            return True
        jobs = self._queue
        deadline = None if timeout is None else time.monotonic() + timeout
        with jobs.all_tasks_done:
            while jobs.unfinished_tasks:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    logger.warning("%d pushes to the remote did not finish", jobs.unfinished_tasks)
                    return False
                jobs.all_tasks_done.wait(remaining)
        return True
