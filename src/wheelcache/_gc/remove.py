"""Removing chosen sources: ``WheelCache.remove(*patterns)``, ``wheelcache remove PATTERN``.

A source matches a pattern (a shell glob, as :mod:`fnmatch` reads it) by its
project name (both normalised as :func:`packaging.utils.canonicalize_name`
does, so ``Django*`` matches ``django``), by its sdist's file name, or by its
key, which for a project directory is its resolved path. Matching sources are
retired exactly as prune retires them (:mod:`wheelcache._gc.retire`), and
the entries they named are swept in the same run: those of idle sources go
now, the rest wait for the grace period and are reported as waiting. No
other entry is looked at.
"""

from __future__ import annotations

import os
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from .prune import prune

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._layout import Layout
    from .reports import Progress, PruneReport
    from .retire import ScannedSource

__all__ = ["matches", "remove"]


def matches(patterns: Sequence[str], *, name: str | None, filename: str | None, key: str) -> bool:
    """True when a pattern matches the project *name*, the sdist *filename* or the *key*."""
    from packaging.utils import canonicalize_name

    for pattern in patterns:
        if name is not None and fnmatchcase(canonicalize_name(name), canonicalize_name(pattern)):
            return True
        if filename is not None and fnmatchcase(filename.lower(), pattern.lower()):
            return True
        if fnmatchcase(key, pattern) or (
            _path_like(pattern) and fnmatchcase(key, _absolute(pattern))
        ):
            return True
    return False


def _path_like(pattern: str) -> bool:
    return os.sep in pattern or "/" in pattern or pattern in (".", "..", "~")


def _absolute(pattern: str) -> str:
    return os.path.abspath(os.path.expanduser(pattern))


def remove(
    layout: Layout,
    patterns: Sequence[str],
    *,
    grace: float,
    dry_run: bool,
    progress: Progress | None = None,
    lock_timeout: float | None = None,
    lock_mode: str = "flock",
) -> PruneReport:
    """Retire the sources *patterns* match and sweep what they named; see the module docstring."""
    return prune(
        layout,
        grace=grace,
        max_size=None,
        max_age=None,
        dry_run=dry_run,
        progress=progress,
        lock_timeout=lock_timeout,
        lock_mode=lock_mode,
        select=lambda sources: [s for s in sources if _chosen(s, patterns)],
    )


def _chosen(source: ScannedSource, patterns: Sequence[str]) -> bool:
    if source.key is None:
        return False  # a pointer this version cannot read: not ours to judge
    return matches(patterns, name=source.name, filename=source.filename, key=source.key)
