"""wheelcache: an append-only, content-addressed cache of wheels built from sdists.

Any number of processes may share one cache: entries are immutable and
published by atomic rename, each source's pointer is replaced atomically, and
deletion happens only in garbage collection, which never removes what a
running process may still be using.

>>> from wheelcache import WheelCache, Source
>>> cache = WheelCache()                                   # doctest: +SKIP
>>> wheel = cache.build("path/to/project")                 # doctest: +SKIP
"""

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

_TYPE_CHECKING = False  # typing is not imported at run time: see _LAZY
if _TYPE_CHECKING:
    from typing import Any

    from ._cache import SourceRecord, WheelCache
    from ._gc.reports import (
        CleanReport,
        CorruptEntry,
        DanglingPointer,
        PruneReport,
        VerifyReport,
    )
    from ._gc.stats import CacheStats
    from ._install.result import InstallResult
    from ._remote.reports import PushReport, RemotePruneReport
    from ._remote.tier import RemoteStatus
    from ._wheel import CachedWheel

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

# The cache itself and the types of its results load on first use: ``python
# -m wheelcache`` and the ``wheelcache`` command import this package first,
# and a warm ``wheelcache build`` must not pay for pathlib, typing and logging
# (wheelcache._cli.warm). Garbage-collection and statistics types are never
# needed by a lookup at all.
_LAZY = {
    "WheelCache": "_cache",
    "SourceRecord": "_cache",
    "CachedWheel": "_wheel",
    "CleanReport": "_gc.reports",
    "CorruptEntry": "_gc.reports",
    "DanglingPointer": "_gc.reports",
    "PruneReport": "_gc.reports",
    "VerifyReport": "_gc.reports",
    "CacheStats": "_gc.stats",
    "InstallResult": "_install.result",
    "PushReport": "_remote.reports",
    "RemotePruneReport": "_remote.reports",
    "RemoteStatus": "_remote.tier",
}


def __getattr__(name: str) -> "Any":
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wheelcache' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"wheelcache.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
