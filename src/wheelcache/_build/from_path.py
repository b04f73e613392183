"""Building whatever a path names: a project directory or an sdist, in one call.

:func:`source_at` turns a path into its :class:`~wheelcache.Source` (a tree
source for a directory, an archive source for a ``.tar.gz`` or ``.zip``
sdist); :func:`builder_for` gives the ``get_or_build`` callback that builds it
with pypa/build; :func:`build_from_path` joins the two behind ``wheelcache
build`` and :meth:`WheelCache.build <wheelcache.WheelCache.build>`, which
:class:`BuildsFromPaths` gives the cache.

This module is light: :mod:`wheelcache._build.builder`, and pypa/build with
it, are imported only when a build actually runs, so a cache hit never pays
for them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from .._errors import InvalidSourceError
from .._source import PROJECT_FILES, SDIST_SUFFIXES, Source

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from packaging.tags import Tag

    from .._wheel import CachedWheel


__all__ = [
    "SDIST_SUFFIXES",
    "BuildsFromPaths",
    "PathBuild",
    "build_from_path",
    "builder_for",
    "source_at",
]



class PathBuild(NamedTuple):
    """What :func:`build_from_path` found or built, and from what."""

    wheel: CachedWheel
    source: Source
    kind: str
    """``"tree"`` for a project directory, ``"sdist"`` for an archive."""
    built: bool
    """Whether this call ran the build (False: a hit, or another process built it)."""


def source_at(
    path: Path, cache_keys: Sequence[str] | None = None, *, cache: BuildsFromPaths | None = None
) -> tuple[Source, str]:
    """The source at *path* and its kind (``"tree"`` or ``"sdist"``).

    A tree's fingerprint uses the stat cache of *cache* (see ``Source.from_tree``).

    Raises :class:`~wheelcache.InvalidSourceError` for a path that is neither
    a project directory (holding ``pyproject.toml`` or ``setup.py``) nor a
    ``.tar.gz`` or ``.zip`` file, and for *cache_keys* given with an sdist
    (an sdist is keyed by its bytes; there is nothing to narrow).
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InvalidSourceError(path, "no such file or directory") from None
    except OSError as exc:
        raise InvalidSourceError(path, f"cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        if not any((path / name).is_file() for name in PROJECT_FILES):
            raise InvalidSourceError(path, "not a Python project: no pyproject.toml or setup.py")
        return Source.from_tree(path, cache_keys, cache=cache), "tree"
    if stat.S_ISREG(mode) and path.name.lower().endswith(SDIST_SUFFIXES):
        if cache_keys is not None:
            raise InvalidSourceError(path, "cache_keys apply to a project directory, not an sdist")
        return Source.from_archive(path), "sdist"
    raise InvalidSourceError(path, "not an sdist (.tar.gz or .zip) or a project directory")


def builder_for(path: Path, *, isolation: bool) -> Callable[[Path], None]:
    """The ``get_or_build`` callback that builds the project or sdist at *path*."""

    def build(output_dir: Path) -> None:
        from . import builder  # only a build pays for importing pypa/build

        builder.build_wheel(path, output_dir, isolation=isolation)

    return build


def build_from_path(
    cache: BuildsFromPaths,
    path: str | os.PathLike[str],
    *,
    isolation: bool = True,
    cache_keys: Sequence[str] | None = None,
    tags: Iterable[Tag] | None = None,
) -> PathBuild:
    """Find the wheel of the project or sdist at *path*, building it on a miss.

    *cache* is a :class:`~wheelcache.WheelCache` (typed as the part of it
    defined here, so that this module never imports the cache's). See :meth:`WheelCache.build
    <wheelcache.WheelCache.build>`; this also says which source it was and
    whether this call built it.
    """
    where = Path(path).absolute()
    source, kind = source_at(where, cache_keys, cache=cache)
    build = builder_for(where, isolation=isolation)
    built = False

    def build_and_note(output_dir: Path) -> None:
        nonlocal built
        built = True
        build(output_dir)

    wheel = cache.get_or_build(source, build_and_note, tags)
    return PathBuild(wheel, source, kind, built)


class BuildsFromPaths:
    """:meth:`build`, the one-call build, as a method of :class:`~wheelcache.WheelCache`.

    Also the type of the cache this module's functions are given: what they use
    of a :class:`~wheelcache.WheelCache` is declared here.
    """

    if TYPE_CHECKING:
        root: Path

        def get_or_build(
            self,
            source: Source,
            build: Callable[[Path], Any],
            tags: Iterable[Tag] | None = None,
        ) -> CachedWheel: ...

    def build(
        self,
        path: str | os.PathLike[str],
        *,
        isolation: bool = True,
        cache_keys: Sequence[str] | None = None,
        tags: Iterable[Tag] | None = None,
    ) -> CachedWheel:
        """The wheel of the project directory or sdist at *path*, building it at most once.

        *path* is a project directory (holding ``pyproject.toml`` or
        ``setup.py``; :meth:`Source.from_tree <wheelcache.Source.from_tree>`,
        narrowed by *cache_keys*) or an sdist, ``.tar.gz`` or ``.zip``
        (:meth:`Source.from_archive <wheelcache.Source.from_archive>`). On a
        miss the wheel is built with pypa/build (the ``wheelcache[build]``
        extra) through :meth:`get_or_build`, so concurrent callers build once.
        With *isolation* (the default) the backend's requirements are installed
        into a temporary environment; without it they must be installed here.

        The backend's output goes to the ``wheelcache.build`` logger, never to
        stdout or stderr. Raises :class:`~wheelcache.BuildFailedError` (its
        ``output`` holds the backend's last lines) when the build fails,
        :class:`~wheelcache.InvalidSourceError` for a path that is neither, and
        :class:`~wheelcache.NoCompatibleWheelError` as :meth:`get_or_build` does.
        """
        return build_from_path(
            self, path, isolation=isolation, cache_keys=cache_keys, tags=tags
        ).wheel
