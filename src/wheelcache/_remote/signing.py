"""Signing records with a shared secret: HMAC-SHA256 over the record's canonical bytes.

With ``$WHEELCACHE_REMOTE_KEY`` set, every record a cache pushes is signed,
and a record pulled without a valid signature is rejected: someone who can
write the bucket but does not know the secret cannot make a source resolve
to their wheel. Without a key, signatures are neither written nor checked.
:func:`trusted_record` is the whole check a pulled record must pass.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from .records import Record

if TYPE_CHECKING:
    from .._source import Source

__all__ = ["sign", "trusted_record", "verify"]


def _mac(record: Record, key: bytes) -> str:
    return hmac.new(key, record.unsigned(), hashlib.sha256).hexdigest()


def sign(record: Record, key: bytes | None) -> Record:
    """*record* with its signature under *key*; unchanged without a key."""
    return record if key is None else record._replace(signature=_mac(record, key))


def verify(record: Record, key: bytes | None) -> bool:
    """True when *record* may be trusted: no key is configured, or it is signed with it."""
    if key is None:
        return True
    return record.signature is not None and hmac.compare_digest(record.signature, _mac(record, key))


def trusted_record(data: bytes, source: Source, object_key: str, key: bytes | None) -> Record | str:
    """The record *data* read from *object_key*, or the problem that makes it untrusted.

    A record is trusted when it is well formed, belongs at its object name
    and to *source*'s current revision, and (with a *key*) is signed with it.
    """
    record = Record.decode(data)
    if record is None or not record.describes(source, object_key):
        return "not a record of this source's revision"
    if not verify(record, key):
        return "the record's signature is missing or wrong"
    return record
