"""Pull: turn a local miss into a local hit from the remote's records and wheels.

One LIST of the revision's prefix finds its records; each is read, checked
against its own name, the source and (with a key) its signature, and the
wheels they name are ranked by the caller's tags. The best is downloaded,
streamed into a staging file while it is hashed, and published through the
normal path (:func:`~wheelcache._store.streamed.publish_stream`) only if its
size and SHA-256 are the ones recorded. A record whose wheel object is missing is a miss for that
wheel; a wheel whose bytes are wrong is rejected and the next one tried.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from typing import TYPE_CHECKING, Callable

from .._errors import InvalidWheelError
from .._fs import syncpoints as _syncpoints
from .._pointers.pointer import WheelRef
from .._store.streamed import publish_stream
from .._tags import ranked_compatible
from .records import Record, revision_prefix, wheel_key
from .signing import verify

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .._source import Source
    from .._store.store import Published, Store
    from .._tags import TagRanks
    from .objects import ObjectStore

__all__ = ["MAX_RECORD_BYTES", "WRITEBACK_BYTES", "Rejected", "download", "pull", "revision_wheels"]

logger = logging.getLogger("wheelcache.remote")

WRITEBACK_BYTES = 4 << 20
"""A download flushes what it wrote to disk, in the background, every this many bytes."""

MAX_RECORD_BYTES = 64 * 1024
"""A record is a few hundred bytes; anything much larger is not one."""

Rejected = Callable[[str, str], None]
"""Told the object key and the problem of every object refused."""


class _WrongBytes(Exception):
    """The downloaded bytes are not the ones the record names."""


class _Writeback:
    """Writes a download's bytes to disk behind the download, every :data:`WRITEBACK_BYTES`.

    The network is slower than the disk, so while the next bytes arrive a
    thread flushes the earlier ones (``fdatasync``); the fsync before the
    publish then has little left to do. Its errors are left to that fsync.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.unsynced = 0
        self.thread: threading.Thread | None = None

    def due(self, count: int) -> bool:
        self.unsynced += count
        return self.unsynced >= WRITEBACK_BYTES and not (self.thread and self.thread.is_alive())

    def start(self) -> None:
        self.unsynced = 0
        self.thread = threading.Thread(target=self._sync, name="wheelcache-writeback", daemon=True)
        self.thread.start()

    def _sync(self) -> None:
        with contextlib.suppress(OSError):
            getattr(os, "fdatasync", os.fsync)(self.fd)

    def finish(self) -> None:
        if self.thread is not None:
            self.thread.join()


def revision_wheels(
    objects: ObjectStore, source: Source, key: bytes | None, reject: Rejected
) -> Iterator[WheelRef]:
    """The wheels the remote records for *source*'s current revision, trusted ones only."""
    from .._wheels.names import parse_wheel_name

    for info in objects.list(revision_prefix(source)):
        if not info.key.endswith(".json"):
            continue
        data = objects.read(info.key) if info.size <= MAX_RECORD_BYTES else b""
        if data is None:
            continue  # pruned since the listing
        record = Record.decode(data)
        if record is None or not record.describes(source, info.key):
            reject(info.key, "not a record of this source's revision")
            continue
        if not verify(record, key):
            reject(info.key, "the record's signature is missing or wrong")
            continue
        try:
            tags = parse_wheel_name(record.filename).tags
        except InvalidWheelError:
            reject(info.key, f"{record.filename!r} is not a wheel file name")
            continue
        yield WheelRef(record.sha256, record.filename, record.size, tuple(map(str, tags)))


def pull(
    objects: ObjectStore,
    store: Store,
    source: Source,
    ranks: TagRanks,
    *,
    key: bytes | None,
    reject: Rejected,
) -> Published | None:
    """Publish the best compatible wheel the remote has for *source*; None on a miss."""
    ranked = ranked_compatible(list(revision_wheels(objects, source, key, reject)), ranks)
    if ranked:
        store.layout.ensure_root()  # a remote miss writes nothing locally
    for ref in ranked:
        published = download(objects, store, ref, reject)
        if published is not None:
            return published
    return None


def download(
    objects: ObjectStore, store: Store, ref: WheelRef, reject: Rejected
) -> Published | None:
    """Stream the wheel *ref* names into the local cache; None when it is missing or wrong."""
    object_key = wheel_key(ref.sha256, ref.filename)
    chunks = objects.get(object_key)
    if chunks is None:
        logger.info("remote record names %s, which is missing: a miss", object_key)
        return None

    def write(fd: int) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        writeback = _Writeback(fd)
        try:
            with open(fd, "wb", closefd=False) as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > ref.size:
                        raise _WrongBytes(f"longer than the {ref.size} bytes recorded")
                    digest.update(chunk)
                    out.write(chunk)
                    if writeback.due(len(chunk)):
                        out.flush()
                        writeback.start()
        finally:
            writeback.finish()
        if size != ref.size:
            raise _WrongBytes(f"{size} bytes where {ref.size} were recorded")
        if digest.hexdigest() != ref.sha256:
            raise _WrongBytes(f"SHA-256 {digest.hexdigest()} where {ref.sha256} was recorded")
        _syncpoints.reach("remote-pull.downloaded")
        return ref.sha256, size

    try:
        return publish_stream(store, ref.filename, write)
    except _WrongBytes as exc:
        reject(object_key, str(exc))
    except InvalidWheelError as exc:
        reject(object_key, exc.problem)
    return None
