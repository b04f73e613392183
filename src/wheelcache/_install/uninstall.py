"""Finding an installed distribution, and moving its files aside until the new one is in.

:func:`find_installed` looks for a project's ``.dist-info`` directories in an
environment. :class:`Stash` takes a distribution's files (the ones its RECORD
lists, their cached bytecode, and the whole ``.dist-info`` directory; or a
pre-wheel installation's files and directories, :mod:`.legacy`) out of
the way by renaming each one next to itself (``.<name>.wheelcache-old-<token>``,
same directory, so the rename cannot cross filesystems). If the new
installation fails, :meth:`Stash.restore` puts every file back; once it has
succeeded, :meth:`Stash.discard` deletes them, and the directories they leave
empty.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["Stash", "canonical_name", "dist_infos", "find_installed", "recorded_files"]

_SEPARATORS = frozenset("-_.")


def canonical_name(name: str) -> str:
    """*name* normalised as :func:`packaging.utils.canonicalize_name` does (PEP 503).

    Lower case, each run of ``-``, ``_`` and ``.`` one ``-``: written out here
    because importing :mod:`packaging.utils` (it imports :mod:`packaging.tags`,
    :mod:`subprocess`, ...) costs an install more than finding what is installed.
    """
    if name.isalnum():
        return name.lower()
    out: list[str] = []
    for char in name.lower():
        if char not in _SEPARATORS:
            out.append(char)
        elif not out or out[-1] != "-":
            out.append("-")
    return "".join(out)


def dist_infos(site_dirs: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(site directory, name)`` of every ``.dist-info`` directory in *site_dirs*."""
    for site in site_dirs:
        try:
            names = os.listdir(site)
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info") and "-" in name:
                yield site, name


def find_installed(site_dirs: Iterable[str], project: str) -> list[str]:
    """The ``.dist-info`` directories of *project* (any version) in *site_dirs*."""
    wanted = canonical_name(project)
    return sorted(
        os.path.join(site, name)
        for site, name in dist_infos(site_dirs)
        if canonical_name(name.split("-", 1)[0]) == wanted
    )


def recorded_files(dist_info: str) -> list[str]:
    """Every path the distribution's RECORD lists (absolute), plus its ``.dist-info`` files."""
    from installer.records import parse_record_file

    site = os.path.dirname(dist_info)
    paths: list[str] = []
    try:
        with open(os.path.join(dist_info, "RECORD"), encoding="utf-8", newline="") as handle:
            rows = handle.read().splitlines()
    except OSError:
        rows = []
    for path, _hash, _size in parse_record_file(rows):
        paths.append(os.path.normpath(os.path.join(site, path)))
    for top, _dirs, files in os.walk(dist_info):
        paths.extend(os.path.join(top, name) for name in files)
    return paths


class Stash:
    """Files moved aside: put back on failure, deleted on success (see the module docstring)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.moved: list[tuple[str, str]] = []
        self._seen: set[str] = set()

    def move(self, path: str) -> bool:
        """Move the file *path* aside; False if it does not exist (or is moved already)."""
        if path in self._seen:
            return False
        directory, name = os.path.split(path)
        aside = os.path.join(directory, f".{name}.wheelcache-old-{self.token}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return False
        self._seen.add(path)
        self.moved.append((path, aside))
        return True

    def move_distribution(self, dist_info: str) -> int:
        """Move aside every file of an installed distribution; return how many."""
        return self.move_files(recorded_files(dist_info))

    def move_files(self, paths: Iterable[str]) -> int:
        """Move aside the files *paths* and their modules' cached bytecode; return how many."""
        moved = 0
        sources: dict[str, set[str]] = {}
        for path in paths:
            if os.path.isdir(path) and not os.path.islink(path):
                continue
            if self.move(path):
                moved += 1
            if path.endswith(".py"):
                directory, name = os.path.split(path)
                sources.setdefault(directory, set()).add(name[: -len(".py")] + ".")
        for directory, stems in sources.items():
            cache = os.path.join(directory, "__pycache__")
            with contextlib.suppress(OSError):
                for name in os.listdir(cache):
                    if name.endswith(".pyc") and any(name.startswith(s) for s in stems):
                        moved += self.move(os.path.join(cache, name))
        return moved

    def restore(self) -> list[str]:
        """Put every file back; return the ones that could not be (each still aside)."""
        failed = []
        for path, aside in reversed(self.moved):
            try:
                os.rename(aside, path)
            except OSError:
                failed.append(aside)
        self.moved.clear()
        return failed

    def discard(self, keep: Iterable[str]) -> None:
        """Delete the moved files, then the directories they leave empty (never those in *keep*)."""
        stops = {os.path.normpath(k) for k in keep}
        directories = set()
        for _path, aside in self.moved:
            if os.path.isdir(aside) and not os.path.islink(aside):
                import shutil  # only here: a warm install imports no copying code

                shutil.rmtree(aside, ignore_errors=True)  # a legacy install's directory
            else:
                with contextlib.suppress(OSError):
                    os.unlink(aside)
            directories.add(os.path.dirname(aside))
        self.moved.clear()
        for directory in sorted(directories, key=len, reverse=True):
            remove_empty_parents(directory, stops)


def remove_empty_parents(directory: str, stops: set[str]) -> None:
    """Remove *directory* and its parents while they are empty, stopping at any in *stops*."""
    while directory and os.path.normpath(directory) not in stops:
        try:
            if os.listdir(directory) and os.listdir(directory) != ["__pycache__"]:
                return
            cache = os.path.join(directory, "__pycache__")
            if os.path.isdir(cache):
                os.rmdir(cache)
            os.rmdir(directory)
        except OSError:
            return
        parent = os.path.dirname(directory)
        if parent == directory:
            return
        directory = parent
