"""Remote object names and records: which source's revision names which wheel.

::

    wheels-v1/<sha256>/<filename>.whl
    revisions-v1/<source digest>/<freshness digest>/<filename>.whl/<sha256>.rec2
    revisions-v1/<source digest>/<freshness digest>/<sha256>.json   (written by earlier versions)

A record is immutable and small: the source key, freshness and name, the
wheel's SHA-256, file name and size, and when it was made; optionally an
HMAC signature (:mod:`wheelcache._remote.signing`). One LIST of a revision's
prefix finds all its wheels, and the object name of a record (``.rec2``)
holds the wheel's file name and SHA-256, so the listing alone says which
wheels a revision has, their tags, and the object each is in: a pull ranks
them and starts the wheel's GET while its record is still being read.

Records of the first layout (``<sha256>.json``: the name holds no file
name) are still read (:func:`parse_record_key`). The new name keeps two
properties the earlier version relies on: it does not end in ``.json``, so
an earlier pull skips it without complaint, and its last segment is the
SHA-256 plus five characters, so an earlier remote prune still reads the
wheel it names (docs/design.md, section 14.2). The wheel's tags come from
its file name, so a record cannot claim tags its wheel does not have.
"""

from __future__ import annotations

import hashlib
import json
import ntpath
import posixpath
import time
from typing import TYPE_CHECKING, NamedTuple

from .._layout import is_digest, source_digest

if TYPE_CHECKING:
    from .._source import Source

__all__ = [
    "LEGACY_SUFFIX",
    "RECORD_SUFFIX",
    "REVISIONS",
    "WHEELS",
    "ListedRecord",
    "Record",
    "is_portable",
    "legacy_record_key",
    "parse_record_key",
    "record_key",
    "remote_identity",
    "revision_prefix",
    "wheel_key",
]

WHEELS = "wheels-v1"
REVISIONS = "revisions-v1"
RECORD_SUFFIX = ".rec2"
LEGACY_SUFFIX = ".json"
_FORMAT = "wheelcache-remote-record"
_FRESHNESS_PREFIX = b"wheelcache-freshness-v1\0"


def is_portable(source: Source) -> bool:
    """True when *source* means the same thing on every machine.

    A source with a remote identity (a tree, ``Source.from_tree`` given a
    cache with a remote) is; otherwise a key that is an absolute path names
    a directory on one machine, and no other machine could ever match it.
    """
    if source.remote_key is not None:
        return True
    return not (posixpath.isabs(source.key) or ntpath.isabs(source.key))


def remote_identity(source: Source) -> tuple[str, str]:
    """The key and freshness the remote knows *source* by: its remote pair, else its own."""
    if source.remote_key is not None and source.remote_freshness is not None:
        return source.remote_key, source.remote_freshness
    return source.key, source.freshness


def wheel_key(sha256: str, filename: str) -> str:
    """The object holding the wheel with this SHA-256."""
    return f"{WHEELS}/{sha256}/{filename}"


def revision_prefix(source: Source) -> str:
    """The prefix below which every record of *source*'s current revision lives."""
    key, freshness = remote_identity(source)
    data = freshness.encode("utf-8", "surrogatepass")
    digest = source.digest if key == source.key else source_digest(key)
    return f"{REVISIONS}/{digest}/{hashlib.sha256(_FRESHNESS_PREFIX + data).hexdigest()}/"


def record_key(source: Source, sha256: str, filename: str) -> str:
    """The record naming wheel *sha256*, called *filename*, for *source*'s current revision."""
    return f"{revision_prefix(source)}{filename}/{sha256}{RECORD_SUFFIX}"


def legacy_record_key(source: Source, sha256: str) -> str:
    """Where the first layout kept that record: its name holds no file name."""
    return f"{revision_prefix(source)}{sha256}{LEGACY_SUFFIX}"


class ListedRecord(NamedTuple):
    """A record as a listing shows it, before it is read."""

    key: str
    sha256: str
    filename: str | None
    """The wheel's file name, from the object name; None for the first layout."""


def parse_record_key(prefix: str, key: str) -> ListedRecord | None:
    """What the object name *key* below the revision *prefix* says; None if not a record's.

    The file name is taken as written, and checked as a wheel name by the caller.
    """
    if not key.startswith(prefix):
        return None
    rest = key[len(prefix) :]
    if rest.endswith(RECORD_SUFFIX) and rest.count("/") == 1:
        filename, _, last = rest.partition("/")
        sha256 = last[: -len(RECORD_SUFFIX)]
        if is_digest(sha256) and filename.endswith(".whl"):
            return ListedRecord(key, sha256, filename)
    elif rest.endswith(LEGACY_SUFFIX) and "/" not in rest:
        sha256 = rest[: -len(LEGACY_SUFFIX)]
        if is_digest(sha256):
            return ListedRecord(key, sha256, None)
    return None


class Record(NamedTuple):
    """One wheel of one revision of one source."""

    key: str
    freshness: str
    name: str | None
    sha256: str
    filename: str
    size: int
    created: float
    signature: str | None = None

    @classmethod
    def make(cls, source: Source, sha256: str, filename: str, size: int) -> Record:
        """A new, unsigned record of this wheel for *source*'s current revision."""
        key, freshness = remote_identity(source)
        return cls(key, freshness, source.name, sha256, filename, size, time.time())

    def unsigned(self) -> bytes:
        """The canonical bytes a signature covers: everything but the signature."""
        document = {
            "format": _FORMAT,
            "version": 1,
            "key": self.key,
            "freshness": self.freshness,
            "name": self.name,
            "sha256": self.sha256,
            "filename": self.filename,
            "size": self.size,
            "created": self.created,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()

    def encode(self) -> bytes:
        """The record as stored: the canonical document plus its signature, if any."""
        document = json.loads(self.unsigned())
        document["signature"] = self.signature
        return json.dumps(document, sort_keys=True, indent=1).encode() + b"\n"

    @classmethod
    def decode(cls, data: bytes) -> Record | None:
        """The record in *data*, or None when it is not a well-formed record."""
        try:
            document = json.loads(data)
            record = cls(
                document["key"],
                document["freshness"],
                document["name"],
                document["sha256"],
                document["filename"],
                document["size"],
                float(document["created"]),
                document.get("signature"),
            )
            wellformed = (
                document["format"] == _FORMAT
                and document["version"] == 1
                and isinstance(record.key, str)
                and isinstance(record.freshness, str)
                and isinstance(record.name, (str, type(None)))
                and isinstance(record.sha256, str)
                and is_digest(record.sha256)
                and isinstance(record.filename, str)
                and record.filename.endswith(".whl")
                and "/" not in record.filename
                and "\\" not in record.filename
                and type(record.size) is int
                and record.size > 0
                and record.created == record.created  # not NaN
                and abs(record.created) != float("inf")
                and isinstance(record.signature, (str, type(None)))
            )
        except (ValueError, KeyError, TypeError, ArithmeticError, RecursionError):
            # Anyone who may write to the bucket may write anything at all:
            # json's nesting limit and float's range are just more ways to be
            # malformed (UnicodeDecodeError is a ValueError).
            return None
        return record if wellformed else None

    def describes(self, source: Source, object_key: str) -> bool:
        """True when this record belongs at *object_key* and to *source*'s revision."""
        return (self.key, self.freshness) == remote_identity(source) and object_key in (
            record_key(source, self.sha256, self.filename),
            legacy_record_key(source, self.sha256),
        )
