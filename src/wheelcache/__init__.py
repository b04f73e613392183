"""wheelcache: an append-only, content-addressed cache of wheels built from sdists.

Any number of processes may share one cache: entries are immutable and
published by atomic rename, each source's pointer is replaced atomically, and
deletion happens only in garbage collection, which never removes what a
running process may still be using.

>>> from wheelcache import WheelCache, Source
>>> cache = WheelCache()                                   # doctest: +SKIP
>>> wheel = cache.build("path/to/project")                 # doctest: +SKIP
"""

import typing as _typing

from ._cache import SourceRecord, WheelCache
from ._errors import (
    BuildFailedError,
    CacheError,
    DiskFullError,
    InvalidSourceError,
    InvalidWheelError,
    LockTimeout,
    NoCompatibleWheelError,
)
from ._source import Source
from ._version import __version__
from ._wheel import CachedWheel

if _typing.TYPE_CHECKING:
    from ._gc.reports import (
        CleanReport,
        CorruptEntry,
        DanglingPointer,
        PruneReport,
        VerifyReport,
    )
    from ._gc.stats import CacheStats
    from ._install.install import InstallResult
    from ._remote.reports import PushReport, RemotePruneReport
    from ._remote.tier import RemoteStatus

__all__ = [
    "BuildFailedError",
    "CacheError",
    "CacheStats",
    "CachedWheel",
    "CleanReport",
    "CorruptEntry",
    "DanglingPointer",
    "DiskFullError",
    "InstallResult",
    "InvalidSourceError",
    "InvalidWheelError",
    "LockTimeout",
    "NoCompatibleWheelError",
    "PruneReport",
    "PushReport",
    "RemotePruneReport",
    "RemoteStatus",
    "Source",
    "SourceRecord",
    "VerifyReport",
    "WheelCache",
    "__version__",
]

# Garbage-collection and statistics types load on first use: a lookup never
# needs them, and importing them would slow down every process that only reads.
_LAZY = {
    "CleanReport": "_gc.reports",
    "CorruptEntry": "_gc.reports",
    "DanglingPointer": "_gc.reports",
    "PruneReport": "_gc.reports",
    "VerifyReport": "_gc.reports",
    "CacheStats": "_gc.stats",
    "InstallResult": "_install.install",
    "PushReport": "_remote.reports",
    "RemotePruneReport": "_remote.reports",
    "RemoteStatus": "_remote.tier",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wheelcache' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"wheelcache.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
