"""What ``wheelcache install`` does for one SOURCE: get its wheel through the cache, install it.

:func:`wheelcache._cli.commands.cmd_install` calls :func:`install_source` for
each SOURCE; so does the warm install path for a SOURCE whose tree garbage
collection took after it was found (:mod:`wheelcache._cli.warm_vanished`),
which therefore installs it exactly as the full command would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from .._cache import WheelCache
    from .._install.result import InstallResult
    from .._wheel import CachedWheel

__all__ = ["install_source", "wheel_through_cache"]


def install_source(
    cache: WheelCache,
    path: Path,
    environment: tuple[str | None, str | None],
    *,
    link_mode: str,
    compile_bytecode: bool,
    isolation: bool,
) -> tuple[InstallResult, CachedWheel, dict[str, Any], bool]:
    """Install SOURCE *path* into *environment* (python, target) as ``wheelcache install`` does.

    Its wheel comes through the cache (:func:`wheel_through_cache`: built or
    added on a miss), then :meth:`WheelCache.install` installs it, unpacking
    its tree if needed. Returns the result, the wheel, the JSON description
    of the source and whether it was built. Also the warm install's step for
    a SOURCE whose tree garbage collection took after it was found
    (:mod:`wheelcache._cli.warm_vanished`).
    """
    wheel, source, built = wheel_through_cache(cache, path, isolation=isolation)
    python, target = environment
    result = cache.install(
        wheel,
        python=python,
        target=target,
        link_mode=link_mode,
        compile=compile_bytecode,
        origin=path,
    )
    return result, wheel, source, built


def wheel_through_cache(
    cache: WheelCache, path: Path, *, isolation: bool
) -> tuple[CachedWheel, dict[str, Any], bool]:
    """The cached wheel of *path* (a ``.whl``, a project or an sdist), built on a miss.

    A ``.whl`` is looked up by its SHA-256 and added when missing; anything
    else goes the way of ``wheelcache build``. Returns the wheel, the JSON
    description of its source, and whether it was built.
    """
    from .._build.from_path import build_from_path
    from .._source import Source

    if path.name.endswith(".whl") and not path.is_dir():
        source = Source.from_archive(path)
        found = cache.find(source.key.removeprefix("sha256:"))
        if found is None:
            found = cache.add(Source(source.key, "", None), path)
        return found, {"kind": "wheel", "path": str(path), "key": source.key}, False
    built = build_from_path(cache, path, isolation=isolation)
    source_doc = {"kind": built.kind, "path": str(path), "key": built.source.key}
    return built.wheel, source_doc, built.built
