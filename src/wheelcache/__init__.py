"""wheelcache: an append-only, content-addressed cache of wheels built from sdists.

Any number of processes may share one cache: entries are immutable and
published by atomic rename, each source's pointer is replaced atomically, and
deletion happens only in garbage collection, which never removes what a
running process may still be using.

>>> from wheelcache import WheelCache, Source
>>> cache = WheelCache()                                   # doctest: +SKIP
>>> wheel = cache.get_or_build(Source.from_tree("."), build)  # doctest: +SKIP
"""


from ._cache import SourceRecord, WheelCache
from ._errors import (
    CacheError,
    DiskFullError,
    InvalidSourceError,
    InvalidWheelError,
    NoCompatibleWheelError,
)
from ._gc import CorruptEntry, DanglingPointer, PruneReport, VerifyReport
from ._locking import LockTimeout
from ._source import Source
from ._version import __version__
from ._wheel import CachedWheel

__all__ = [
    "CacheError",
    "CachedWheel",
    "CorruptEntry",
    "DanglingPointer",
    "DiskFullError",
    "InvalidSourceError",
    "InvalidWheelError",
    "LockTimeout",
    "NoCompatibleWheelError",
    "PruneReport",
    "Source",
    "SourceRecord",
    "VerifyReport",
    "WheelCache",
    "__version__",
]
