"""The store of immutable, content-addressed entries.

An entry is a directory ``wheels-v1/<aa>/<sha256>/`` holding exactly one file,
the wheel, under its original file name. The directory's name is the SHA-256
of the wheel's bytes, so an entry is never modified: a different wheel is a
different entry, and identical builds share one.

Publishing (:meth:`Store.publish`):

1. take an *owner lock* ``staging-v1/<token>.lock`` (so garbage collection
   can tell a live staging directory from a dead process's leftovers), then
   create ``staging-v1/<token>/``;
2. copy the wheel into it and hash what was written (``_copying``); fsync
   the file; make it read-only; validate the staged copy (the bytes that will
   be published, not a file the caller might still change);
3. set the file's modification time to now (its *freshness* for garbage
   collection), fsync the staging directory;
4. ``rename`` the staging directory to ``wheels-v1/<aa>/<sha256>``; fsync the
   shard directory.

The entry directory only ever comes into being through that rename, so a
reader sees the whole entry or nothing. If the rename finds the target
present, the same bytes are already published: the publisher checks that
(re-hashing the existing file), *freshens* it (sets its modification time to
now, so garbage collection keeps it for another grace period), and discards
its own copy. A target that is present but damaged is moved to quarantine and
the rename retried.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import time
from typing import TYPE_CHECKING, NamedTuple

from .._errors import InvalidWheelError, cache_error
from .._fs import syncpoints as _syncpoints
from .._fs.fsutil import (
    EXISTS_ERRNOS,
    MAY_EXIST_ERRNOS,
    RETRY_SECONDS,
    backoff,
    digest_directories,
    fsync_dir,
    is_transient,
    remove_tree,
    unlink_quietly,
)
from .._fs.locking import hold
from .._fs.nofollow import allow_owner_write, real_ancestors, refuse_links
from .._layout import Layout, unique_token
from .._pointers.pointer import WheelRef
from .freshness import freshen_entry, touch_entry
from .judge import exists, judge_existing, precheck, wheel_filename

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from .._wheels.names import WheelInfo

__all__ = ["Published", "Store"]

logger = logging.getLogger("wheelcache")

MAX_RENAME_ATTEMPTS = 50
"""How often a publisher tries to rename its entry into place before giving up.

Each failed attempt has a reason that resolves itself (a shard created, a
damaged entry quarantined, an entry pruned between two looks); fifty in a
row means something keeps undoing them, and the publisher reports it."""


class Published(NamedTuple):
    """The outcome of publishing one wheel."""

    sha256: str
    size: int
    path: Path
    info: WheelInfo

    def ref(self) -> WheelRef:
        """The record of this wheel in a pointer."""
        return WheelRef(
            self.sha256, self.info.filename, self.size, tuple(str(t) for t in self.info.tags)
        )


class Store:
    """Publishes, finds and freshens entries below one :class:`Layout`."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    # -- publishing ------------------------------------------------------------

    @contextlib.contextmanager
    def workspace(self, kind: str) -> Iterator[Path]:
        """A fresh directory in the staging area, owned by this process while in use.

        The owner lock ``staging-v1/<token>.lock`` is taken *before* the
        directory is created and released only after it is removed, so a
        staging directory whose lock can be taken belongs to a dead process.

        Only the process that created the workspace removes it: a child
        forked inside the block (by a build callback) that unwinds it, say
        through ``sys.exit()``, leaves the directory and the lock to its parent.
        """
        staging = self.layout.staging
        refuse_links(self.layout.root, staging)
        token = f"{kind}-{unique_token()}"
        owner_path = staging / f"{token}.lock"
        directory = staging / token
        # The token is ours alone; the only other holder can be a garbage
        # collector probing, for an instant, whether its owner is alive.
        # Taking the lock creates the staging directory when it is missing.
        with hold(owner_path, timeout=RETRY_SECONDS, purpose="probing a staging directory"):
            creator = os.getpid()
            try:
                try:
                    directory.mkdir()
                except OSError as exc:
                    raise cache_error(directory, "create", exc) from exc
                yield directory
            finally:
                # A forked child unwinding leaves the workspace to its parent.
                if os.getpid() == creator:
                    self._remove_workspace(directory, owner_path)

    @staticmethod
    def _remove_workspace(directory: Path, owner_path: Path) -> None:
        try:
            remove_tree(directory)
        except OSError:
            # Harmless: prune reclaims it once our owner lock is gone.
            logger.warning("could not remove workspace %s", directory, exc_info=True)
        unlink_quietly(owner_path)  # before the release: nobody can take it meanwhile

    def publish(self, wheel: Path) -> Published:
        """Copy *wheel* into the cache as an immutable entry (see the module doc).

        Raises :class:`InvalidWheelError` naming *wheel* when it is not a valid
        wheel, :class:`CacheError` (or :class:`DiskFullError`) when the cache
        cannot be written. Nothing is left behind on failure.
        """
        info = precheck(wheel)
        with self.workspace("publish") as workspace:
            return self._publish_staged(wheel, info, workspace / "entry")

    def _publish_staged(self, wheel: Path, info: WheelInfo, stage: Path) -> Published:
        staged = stage / info.filename
        try:
            stage.mkdir()
        except OSError as exc:
            raise cache_error(stage, "create", exc) from exc

        def validate() -> None:
            _syncpoints.reach("publish.staged")
            from .._wheels.wheelfile import validate_wheel

            try:
                validate_wheel(staged)
            except InvalidWheelError as exc:
                raise InvalidWheelError(wheel, exc.problem) from None

        try:
            # Validation reads back the staged copy while its fsync is under way.
            from .copying import copy_and_hash  # hashlib: only to publish, never on a hit

            sha256, size = copy_and_hash(wheel, staged, while_syncing=validate)
        except FileNotFoundError as exc:
            if not wheel.exists():
                raise InvalidWheelError(wheel, "the file vanished while it was copied") from exc
            raise cache_error(staged, "write", exc) from exc
        except PermissionError as exc:
            if not os.access(wheel, os.R_OK):
                raise InvalidWheelError(wheel, "the file is not readable") from exc
            raise cache_error(staged, "write", exc) from exc
        except OSError as exc:
            raise cache_error(staged, "write", exc) from exc
        return self.finish_staged(stage, info, sha256, size)

    def finish_staged(self, stage: Path, info: WheelInfo, sha256: str, size: int) -> Published:
        """Freshen the staged wheel, make the stage durable and rename it into place.

        The last steps of :meth:`publish`, shared with
        :func:`~wheelcache._store.streamed.publish_stream`.
        """
        try:
            os.utime(stage / info.filename)
            fsync_dir(stage)
        except OSError as exc:
            raise cache_error(stage, "write", exc) from exc
        target = self.layout.entry_dir(sha256)
        filename = self._move_into_place(stage, target, info.filename, sha256, size)
        if filename != info.filename:  # identical bytes, cached under another name
            from .._wheels.names import parse_wheel_name

            info = parse_wheel_name(filename)
        return Published(sha256, size, target / filename, info)

    def _move_into_place(
        self, stage: Path, target: Path, filename: str, sha256: str, size: int
    ) -> str:
        """Rename *stage* to *target*; return the wheel's file name in the entry.

        That is *filename*, or the existing entry's name when identical bytes
        were already published under another name.
        """
        deadline = time.monotonic() + RETRY_SECONDS
        delays = backoff()
        attempts = 0
        refuse_links(self.layout.root, target.parent)  # never publish through a link
        while True:
            attempts += 1
            _syncpoints.reach("publish.before-rename")
            try:
                os.rename(stage, target)
            except OSError as exc:
                error = exc
            else:
                _syncpoints.reach("publish.after-rename")
                self._sync_shard(target)
                return filename
            _syncpoints.reach("publish.rename-failed")
            if attempts > MAX_RENAME_ATTEMPTS:
                raise cache_error(target, "publish", error)
            refuse_links(self.layout.root, target.parent)
            if error.errno in (errno.ENOENT, errno.ENOTDIR) and not exists(target):
                # The shard (or the whole bucket, after clean()) is missing.
                self._make_shard(target.parent)
                continue
            state, existing = judge_existing(target, filename, sha256, size)
            if state == "intact":
                _syncpoints.reach("publish.found-existing")
                if touch_entry(os.fspath(target / existing)):
                    logger.debug("entry %s already published; reusing it", sha256)
                    return existing
                continue  # garbage collection took it just now: publish ours
            if state == "damaged":
                self.quarantine(target, reason="damaged entry found while publishing")
                continue
            if state == "absent" and error.errno in EXISTS_ERRNOS:
                continue  # it vanished between the rename and our look
            # Judged above by looking; while the target looks absent (a network
            # filesystem's attribute cache can lag the server) retried, bounded.
            retry = is_transient(error) or error.errno in MAY_EXIST_ERRNOS
            if retry and time.monotonic() < deadline:
                time.sleep(next(delays))
                continue
            raise cache_error(target, "publish", error)

    def _make_shard(self, shard: Path) -> None:
        try:
            created_bucket = not shard.parent.exists()
            shard.mkdir(parents=True, exist_ok=True)
            fsync_dir(shard.parent)
            if created_bucket:
                fsync_dir(shard.parent.parent)
        except OSError as exc:
            raise cache_error(shard, "create", exc) from exc

    def _sync_shard(self, target: Path) -> None:
        try:
            fsync_dir(target.parent)
        except OSError as exc:
            raise cache_error(target.parent, "sync", exc) from exc

    def quarantine(self, entry: Path, *, reason: str) -> Path | None:
        """Move a damaged entry aside (never delete it); return where it went."""
        destination = self.layout.quarantine / f"{entry.name}.{unique_token()}"
        refuse_links(self.layout.root, self.layout.quarantine)
        try:
            self.layout.quarantine.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(entry, destination)
            except PermissionError:
                # A directory without write permission cannot move to another
                # parent; it is ours and damaged anyway: make it movable.
                allow_owner_write(entry)
                os.rename(entry, destination)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise cache_error(entry, "quarantine", exc) from exc
        logger.warning("moved damaged entry %s to %s: %s", entry, destination, reason)
        return destination

    # -- reading ---------------------------------------------------------------

    def entry_stat(self, sha256: str, filename: str) -> os.stat_result | None:
        """Stat an entry's wheel; None when it is missing or not a regular file.

        The lookup's rule (docs/design.md §2): a link at the wheel or at the
        entry directory makes the entry missing.
        """
        location = self.layout.entry_file_str(sha256, filename)
        try:
            info = os.lstat(location)
        except OSError:
            return None
        ok = stat.S_ISREG(info.st_mode) and real_ancestors(location, 1)
        return info if ok else None

    def freshen(self, sha256: str, filename: str | None = None) -> bool:
        """Set an entry's modification time to now, protecting it for one grace period.

        Returns False when the entry does not exist. Without *filename* the
        entry directory is listed to find the wheel. Raises
        :class:`CacheError` naming the path and the permission when neither
        the wheel nor its directory may be touched.
        """
        return freshen_entry(self.layout, sha256, filename)

    def wheel_filename(self, sha256: str) -> str | None:
        """The name of the wheel inside an entry, or None if there is none."""
        return wheel_filename(self.layout.entry_dir(sha256))

    def entries(self) -> Iterator[tuple[str, Path]]:
        """Every entry directory as (sha256, path), in no particular order.

        Links are not entries: a linked bucket, shard or entry is skipped
        (``verify`` reports it), as it is a miss to a lookup.
        """
        return digest_directories(self.layout.wheels)
