"""Pull: turn a local miss into a local hit from the remote's records and wheels.

One LIST of the revision's prefix finds its records. They are read several
at once (a revision with wheels for many platforms costs one round trip for
its records, not one per record), each is checked against its own name, the
source and (with a key) its signature, and the wheels they name are ranked
by the caller's tags. The best is downloaded, streamed into a staging file
while it is hashed, and published through the normal path
(:func:`~wheelcache._store.streamed.publish_stream`) only if its size and
SHA-256 are the ones recorded. A record whose wheel object is missing is a
miss for that wheel; a wheel whose bytes are wrong is rejected and the next
one tried.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from typing import TYPE_CHECKING, Callable

from .._errors import InvalidWheelError
from .._fs import syncpoints as _syncpoints
from .._fs.writeback import Writeback
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

__all__ = [
    "HASH_THREAD_BYTES",
    "MAX_RECORD_BYTES",
    "RECORD_READERS",
    "WRITEBACK_BYTES",
    "Rejected",
    "download",
    "pull",
    "revision_wheels",
]

logger = logging.getLogger("wheelcache.remote")

WRITEBACK_BYTES = 4 << 20
"""Every this many bytes, a download starts writing what it wrote to disk.

See :mod:`wheelcache._fs.writeback`: the final fsync then has little left.
"""

HASH_THREAD_BYTES = 2 << 20
"""A wheel at least this large is hashed in a thread, behind the download and the writes."""

RECORD_READERS = 8
"""At most this many records of one revision are read at once."""

MAX_RECORD_BYTES = 64 * 1024
"""A record is a few hundred bytes; anything much larger is not one."""

Rejected = Callable[[str, str], None]
"""Told the object key and the problem of every object refused."""


class _WrongBytes(Exception):
    """The downloaded bytes are not the ones the record names."""


class _Hasher:
    """SHA-256 of the chunks it is given, in a thread of its own if *threaded*.

    The download receives and writes a chunk while the thread hashes the one
    before (hashlib, socket reads and file writes all release the GIL), so on
    a machine with a core to spare hashing hides behind the transfer. The
    chunks are the very ``bytes`` objects written, so what is hashed is what
    was written. The queue is bounded: at most 16 chunks wait in memory.
    """

    def __init__(self, *, threaded: bool) -> None:
        self._digest = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=16)
            self._thread = threading.Thread(target=self._run, name="wheelcache-hash", daemon=True)
            self._thread.start()

    def update(self, chunk: bytes) -> None:
        if self._queue is None:
            self._digest.update(chunk)
        else:
            self._queue.put(chunk)

    def _run(self) -> None:
        assert self._queue is not None
        while (chunk := self._queue.get()) is not None:
            if self._failure is None:  # after a failure, drain so update() never blocks
                try:
                    self._digest.update(chunk)
                except BaseException as exc:  # re-raised by hexdigest()
                    self._failure = exc

    def close(self) -> None:
        """Wait for the thread to hash what it was given (idempotent)."""
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def hexdigest(self) -> str:
        self.close()
        if self._failure is not None:
            raise self._failure
        return self._digest.hexdigest()


def revision_wheels(
    objects: ObjectStore, source: Source, key: bytes | None, reject: Rejected
) -> Iterator[WheelRef]:
    """The wheels the remote records for *source*'s current revision, trusted ones only."""
    from .._wheels.names import parse_wheel_name

    listed = [info for info in objects.list(revision_prefix(source)) if info.key.endswith(".json")]
    small = [info.key for info in listed if info.size <= MAX_RECORD_BYTES]
    contents = dict(zip(small, _read_all(objects, small)))
    for info in listed:
        data = contents.get(info.key, b"")  # anything larger is not a record
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


def _read_all(objects: ObjectStore, keys: list[str]) -> list[bytes | None]:
    """The objects at *keys*, in order; several are read at once, each in its own thread."""
    if len(keys) < 2:
        return [objects.read(key) for key in keys]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(len(keys), RECORD_READERS), "wheelcache-records") as pool:
        return list(pool.map(objects.read, keys))


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
        digest = _Hasher(threaded=ref.size >= HASH_THREAD_BYTES)
        size = 0
        writeback = Writeback(fd, WRITEBACK_BYTES)
        try:
            for chunk in chunks:
                size += len(chunk)
                if size > ref.size:
                    raise _WrongBytes(f"longer than the {ref.size} bytes recorded")
                digest.update(chunk)
                _write_all(fd, memoryview(chunk))
                writeback.wrote(len(chunk))
        finally:
            digest.close()
            writeback.finish()
        if size != ref.size:
            raise _WrongBytes(f"{size} bytes where {ref.size} were recorded")
        sha256 = digest.hexdigest()
        if sha256 != ref.sha256:
            raise _WrongBytes(f"SHA-256 {sha256} where {ref.sha256} was recorded")
        _syncpoints.reach("remote-pull.downloaded")
        return ref.sha256, size

    try:
        return publish_stream(store, ref.filename, write)
    except _WrongBytes as exc:
        reject(object_key, str(exc))
    except InvalidWheelError as exc:
        reject(object_key, exc.problem)
    return None


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]
