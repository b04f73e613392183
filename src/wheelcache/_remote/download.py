"""Downloading one wheel a record names into the local cache, its record read alongside.

The wheel's object name is known from the listing (the record's object name
holds the wheel's file name and SHA-256), so its GET starts at once, and the
record itself is read by a second request in a thread of its own
(:class:`RecordRead`) while the wheel streams into a staging file. The
record must be trusted before anything is published: the stream checks it as
soon as it has arrived (an untrusted record stops the download there), and
once the last byte is written the download waits for it if it has not. A
record that is missing, malformed, about another revision or wrongly signed
means nothing is published, however good the wheel's bytes are.

The bytes are hashed while written (:class:`~.hashing.StreamHasher`), handed
to the disk as they go (:class:`~wheelcache._fs.writeback.Writeback`), and
published through the normal path
(:func:`~wheelcache._store.streamed.publish_stream`) only if their size and
SHA-256 are the ones recorded. The hash may still be catching up with the
last chunks when the last byte is written: the file is validated and
fsynced meanwhile, and ``settle`` waits for it after both. The members' CRCs
are left to that SHA-256 (docs/design.md §14.2).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Callable, NamedTuple, Union

from .._errors import InvalidWheelError
from .._fs import syncpoints as _syncpoints
from .._fs.writeback import Writeback
from .._store.streamed import publish_stream
from .hashing import StreamHasher
from .records import Record, wheel_key

if TYPE_CHECKING:
    from .._pointers.pointer import WheelRef
    from .._store.store import Published, Store
    from .._store.streamed import Settle
    from .objects import ObjectStore

__all__ = [
    "HASH_THREAD_BYTES",
    "UNCHECKED_BYTES",
    "WRITEBACK_BYTES",
    "Candidate",
    "RecordRead",
    "Rejected",
    "download",
]

logger = logging.getLogger("wheelcache.remote")

WRITEBACK_BYTES = 4 << 20
"""Every this many bytes, a download starts writing what it wrote to disk.

See :mod:`wheelcache._fs.writeback`: the final fsync then has little left.
"""

HASH_THREAD_BYTES = 2 << 20
"""Past this many bytes, a download is hashed in a thread, behind the transfer and the writes."""

UNCHECKED_BYTES = 8 << 20
"""At most this many bytes are taken before the wheel's record is known and trusted.

The record's GET starts first and is small, so it is normally known within the
first chunks; past this a download waits for it, so that a wheel object with
no true record cannot fill the staging area for as long as its record's read
may take.
"""

Rejected = Callable[[str, str], None]
"""Told the object key and the problem of every object refused."""

Judge = Callable[[bytes, str], Union[Record, str]]
"""Told a record's bytes and object name: the trusted record, or the problem with it."""


class Candidate(NamedTuple):
    """A wheel a revision's listing offers, with its record if that was read already."""

    ref: WheelRef
    """Its SHA-256, file name and tags; its size is 0 until its record is read."""
    record_key: str
    record: Record | None
    """Read and trusted already (records of the first layout), or None: read alongside."""


class _WrongBytes(Exception):
    """The downloaded bytes are not the ones the record names."""


class _Untrusted(Exception):
    """The record is not one to trust; ``args[0]`` says why."""


class _RecordGone(Exception):
    """The record vanished after the listing (remote prune)."""


class RecordRead:
    """One small object read in a thread of its own, started at once."""

    def __init__(self, objects: ObjectStore, key: str) -> None:
        self.key = key
        self._done = threading.Event()
        self._data: bytes | None = None
        self._failure: BaseException | None = None
        thread = threading.Thread(
            target=self._run, args=(objects,), name="wheelcache-record", daemon=True
        )
        thread.start()

    def _run(self, objects: ObjectStore) -> None:
        try:
            self._data = objects.read(self.key)
        except BaseException as exc:  # re-raised by result()
            self._failure = exc
        finally:
            self._done.set()

    def done(self) -> bool:
        return self._done.is_set()

    def result(self) -> bytes | None:
        """The object's bytes (None when it does not exist), waiting for them if need be.

        Its reader has the client's bounded timeouts, so this wait is bounded too.
        """
        self._done.wait()
        if self._failure is not None:
            raise self._failure
        return self._data


def _settle(read: RecordRead, judge: Judge) -> Record:
    """The record *read* fetched, trusted; raises when there is none to trust."""
    data = read.result()
    if data is None:
        raise _RecordGone
    verdict = judge(data, read.key)
    if isinstance(verdict, str):
        raise _Untrusted(verdict)
    return verdict


def download(
    objects: ObjectStore, store: Store, candidate: Candidate, judge: Judge, reject: Rejected
) -> Published | None:
    """Stream the wheel *candidate* names into the local cache; None when missing or refused."""
    ref = candidate.ref
    # The record's read is a daemon thread: where the download ends early
    # (no wheel object, an error), it ends on its own within the client's
    # timeouts, and its result, which touches nothing local, is dropped.
    pending = None if candidate.record is not None else RecordRead(objects, candidate.record_key)
    object_key = wheel_key(ref.sha256, ref.filename)
    chunks = objects.get(object_key)
    if chunks is None:
        logger.info("remote record names %s, which is missing: a miss", object_key)
        return None

    def write(fd: int) -> Settle:
        record = candidate.record
        digest = StreamHasher(HASH_THREAD_BYTES)
        size = 0
        writeback = Writeback(fd, WRITEBACK_BYTES)
        try:
            for chunk in chunks:
                if (
                    record is None
                    and pending is not None
                    and (pending.done() or size >= UNCHECKED_BYTES)
                ):
                    record = _settle(pending, judge)  # an untrusted record stops it here
                size += len(chunk)
                if record is not None and size > record.size:
                    raise _WrongBytes(f"longer than the {record.size} bytes recorded")
                digest.update(chunk)
                _write_all(fd, memoryview(chunk))
                writeback.wrote(len(chunk))
        finally:
            digest.end()  # the hash may still be catching up: settle() waits for it
            writeback.finish()

        def settle() -> tuple[str, int]:
            trusted = record
            if trusted is None:
                assert pending is not None
                trusted = _settle(pending, judge)  # never publish before the record is trusted
            if size != trusted.size:
                raise _WrongBytes(f"{size} bytes where {trusted.size} were recorded")
            sha256 = digest.hexdigest()
            if sha256 != trusted.sha256:
                raise _WrongBytes(f"SHA-256 {sha256} where {trusted.sha256} was recorded")
            _syncpoints.reach("remote-pull.downloaded")
            return trusted.sha256, size

        return settle

    try:
        # The members are not inflated to check their CRCs: settle() compares
        # the bytes' SHA-256 with the record's, and wheelcache records only the
        # SHA-256 of bytes it published (docs/design.md §14.2, "What is not
        # skipped, and why").
        return publish_stream(store, ref.filename, write, check_crcs=False)
    except _WrongBytes as exc:
        reject(object_key, str(exc))
    except _Untrusted as exc:
        reject(candidate.record_key, str(exc))
    except _RecordGone:
        logger.info("remote record %s vanished since it was listed: a miss", candidate.record_key)
    except InvalidWheelError as exc:
        reject(object_key, exc.problem)
    return None


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]
