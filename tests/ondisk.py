"""Arrange and inspect the files a cache keeps: their age, digest, pointers, damage.

Ages are set with ``os.utime`` (never by sleeping), so a test of what garbage
collection keeps can use margins of minutes or hours and still run at once.
Import it as ``from ondisk import age``; pytest's ``pythonpath`` setting
(pyproject.toml) puts ``tests/`` on ``sys.path`` for every test folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import TYPE_CHECKING, Any, Callable

from wheelcache._layout import Layout

if TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType

    import pytest

    from wheelcache import Source, WheelCache

__all__ = [
    "DAY",
    "HOUR",
    "age",
    "flip_a_byte",
    "is_fresh",
    "named",
    "pointer_path",
    "replace_os_calls",
    "set_mtime",
    "sha256_of",
    "snapshot",
    "staging_is_empty",
]

HOUR = 3600.0
DAY = 24 * HOUR


def age(path: Path, seconds: float) -> None:
    """Make *path* look last modified *seconds* ago (see :func:`set_mtime`)."""
    set_mtime(path, time.time() - seconds)


def set_mtime(path: Path, when: float) -> None:
    """Make *path* look last modified at *when*.

    For an entry's wheel, the entry directory too: an entry's freshness is
    the later of the two (a user who does not own the wheel freshens the
    directory), so an entry only looks old when both are.
    """
    os.utime(path, (when, when))
    if (
        path.suffix == ".whl"
        and len(path.parent.name) == 64
        and path.parent.parent.name == path.parent.name[:2]
    ):
        os.utime(path.parent, (when, when))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip_a_byte(path: Path) -> None:
    """Invert the middle byte of a (read-only) cached file, leaving it read-only again."""
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.chmod(path, 0o444)


def is_fresh(path: Path) -> bool:
    """Modified within the last minute (tests age things by far more)."""
    return path.stat().st_mtime > time.time() - 60


def pointer_path(cache: WheelCache, source: Source) -> Path:
    return Layout(cache.root).pointer_file(source.digest)


def named(cache: WheelCache, source: Source) -> set[str]:
    """The digests the source's pointer names (empty when it has none)."""
    path = pointer_path(cache, source)
    if not path.exists():
        return set()
    return {w["sha256"] for w in json.loads(path.read_bytes())["wheels"]}


def staging_is_empty(cache: WheelCache) -> bool:
    staging = Layout(cache.root).staging
    return not staging.exists() or os.listdir(staging) == []


def snapshot(root: Path) -> dict[str, tuple[bytes, int] | None]:
    """Every path below *root* except the lock area: a file's bytes and mtime, None for the rest.

    Lock files are left out: they are created empty on first use and reclaimed
    by prune, so they come and go without changing what the cache holds.
    """
    found: dict[str, tuple[bytes, int] | None] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] == Layout(root).locks.name:
            continue
        is_file = path.is_file() and not path.is_symlink()
        found[str(relative)] = (path.read_bytes(), path.stat().st_mtime_ns) if is_file else None
    return found


class _OsAsSeenBy:
    """The ``os`` module with some functions replaced, as one module of wheelcache sees it."""

    def __init__(self, replacements: dict[str, Callable[..., Any]]) -> None:
        self.__dict__.update(replacements)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def replace_os_calls(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, **replacements: Callable[..., Any]
) -> None:
    """Make *module* (and only it) call *replacements* instead of the ``os`` functions so named.

    Every other module, the test itself and pytest keep the real ``os``: a fault
    injected into the store's renames does not also hit the pointer writer, the
    test's own checks, or a child process being started.
    """
    monkeypatch.setattr(module, "os", _OsAsSeenBy(replacements))
