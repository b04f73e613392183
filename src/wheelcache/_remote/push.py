"""Push: upload a revision's wheels if absent, then their records (the commit point).

Nothing is read, modified and written back: a wheel object is created only
if absent (after a HEAD, so a present wheel is not sent again), and so is
its record, which is written only once the wheel object exists. Two
machines pushing the same wheel at once create each object once; the other
is told "already exists", which is success.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._fs import syncpoints as _syncpoints
from .records import Record, record_key, wheel_key
from .signing import sign

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .._source import Source
    from .._wheel import CachedWheel
    from .objects import ObjectStore

__all__ = ["push_wheels"]


def push_wheels(
    objects: ObjectStore, source: Source, wheels: Iterable[CachedWheel], *, key: bytes | None
) -> int:
    """Record *wheels* as *source*'s current revision remotely; return how many were uploaded.

    Each wheel's object is uploaded from its local entry unless the remote
    has it; a record already present is left as it is (records are
    immutable). A wheel object that vanished under a record (remote prune)
    is uploaded again here, which repairs the record.
    """
    uploaded = 0
    for wheel in wheels:
        object_key = wheel_key(wheel.sha256, wheel.filename)
        if not objects.exists(object_key):
            uploaded += objects.put_if_absent(object_key, wheel.path)
        _syncpoints.reach("remote-push.before-record")
        record = sign(Record.make(source, wheel.sha256, wheel.filename, wheel.size), key)
        objects.put_if_absent(record_key(source, wheel.sha256, wheel.filename), record.encode())
    return uploaded
