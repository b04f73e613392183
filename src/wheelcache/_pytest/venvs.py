"""``project_venv``: a fresh virtual environment holding the project, installed from the cache.

:func:`make_project_venv` creates a virtual environment without pip (in
process, with :mod:`venv`: no interpreter is started) and installs a wheel
into it with :meth:`WheelCache.install`, which links the files of the
wheel's unpacked tree: warm, that is a few milliseconds for the venv and a
few for the install, and nothing is built or unpacked.

The linked files are the cache's read-only inodes. A test cannot change them
by accident (writing one fails with ``PermissionError``), but root, or a test
that makes one writable first, can; every such write would change the cache's
tree and every environment linked from it. So :class:`ProjectVenv` records
the identity of each linked file (inode, size, modification time, mode) when
it installs, and :meth:`ProjectVenv.check_links` compares them at the end of
the session: a changed file means the tree was written through the link, and
the tree is moved to the quarantine (the next install unpacks it again from
its wheel) and the session's last test errors, naming the file.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from .._cache import WheelCache
    from .._install.result import InstallResult
    from .._wheel import CachedWheel

__all__ = ["ProjectVenv", "make_project_venv"]

_Identity = tuple[int, int, int, int]


class ProjectVenv:
    """A virtual environment with wheels installed from the cache by linking.

    ``root`` is the environment's directory, ``python`` its interpreter,
    ``bin`` its scripts directory, ``installed`` the :class:`InstallResult`
    of each install (the project's first). :meth:`run` runs a command in it;
    :meth:`install` adds another wheel (say ``wheel_for("../plugin")``).
    """

    def __init__(self, root: Path, cache: WheelCache) -> None:
        self.root = root
        self.cache = cache
        scripts = "Scripts" if os.name == "nt" else "bin"
        self.bin = root / scripts
        self.python = self.bin / ("python.exe" if os.name == "nt" else "python")
        self.installed: list[InstallResult] = []
        self._links: dict[str, tuple[str, _Identity]] = {}

    def install(self, wheel: CachedWheel, **options: Any) -> InstallResult:
        """Install *wheel* (no dependencies) by linking; *options* as :meth:`WheelCache.install`."""
        result = self.cache.install(wheel, python=self.python, **options)
        self.installed.append(result)
        for path, identity in _linked_files(result.dist_info):
            self._links[path] = (result.wheel_sha256, identity)
        return result

    def run(
        self,
        command: str | os.PathLike[str],
        *args: str | os.PathLike[str],
        check: bool = True,
        **options: Any,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the environment, as if it were activated; return its outcome.

        The command (``python``, a console script, any program) is looked up
        in the environment's scripts directory first, then on ``PATH``.
        ``VIRTUAL_ENV`` is set, ``PYTHONPATH`` and ``PYTHONHOME`` are unset,
        output is captured as text, the working directory is the
        environment's root (so a source tree in the current directory does
        not shadow the installed project), and a non-zero exit raises
        :class:`subprocess.CalledProcessError` unless *check* is false.
        *options* go to :func:`subprocess.run` (``cwd``, ``env``, ``timeout``...).
        """
        program = os.fspath(command)
        search = os.pathsep.join([os.fspath(self.bin), os.environ.get("PATH", "")])
        found = shutil.which(program, path=search)
        if found is not None and os.sep not in program:
            program = found
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env.update({"VIRTUAL_ENV": os.fspath(self.root), "PATH": search})
        env.update(options.pop("env", None) or {})
        options.setdefault("cwd", self.root)
        options.setdefault("capture_output", True)
        options.setdefault("text", True)
        arguments = [program, *(os.fspath(arg) for arg in args)]
        return subprocess.run(arguments, check=check, env=env, **options)

    def check_links(self) -> list[str]:
        """The linked files written since they were installed (see the module docstring).

        Each one's tree is moved to the cache's quarantine.
        """
        changed: dict[str, list[str]] = {}
        for path, (sha256, identity) in self._links.items():
            now = _identity(path)
            if now is not None and now[0] == identity[0] and now != identity:
                changed.setdefault(sha256, []).append(path)
        for sha256 in changed:
            tree = self.cache._layout.tree_dir(sha256)
            self.cache._store.quarantine(tree, reason="written through a project_venv link")
        return sorted(p for paths in changed.values() for p in paths)

    def __repr__(self) -> str:
        return f"<ProjectVenv {self.root}>"


def make_project_venv(
    root: Path, cache: WheelCache, wheel: CachedWheel, origin: Path
) -> ProjectVenv:
    """A new virtual environment at *root* (without pip) with *wheel*, built from *origin*."""
    import venv

    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt", clear=True).create(root)
    made = ProjectVenv(root, cache)
    made.install(wheel, origin=origin)
    return made


def _linked_files(dist_info: str) -> Iterator[tuple[str, _Identity]]:
    """The installed files that share their inode with another name: the tree's."""
    site = os.path.dirname(dist_info)
    with open(os.path.join(dist_info, "RECORD"), encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    for row in rows:
        path = os.path.normpath(os.path.join(site, row[0]))
        try:
            info = os.stat(path)
        except OSError:
            continue
        if info.st_nlink > 1:
            yield path, (info.st_ino, info.st_size, info.st_mtime_ns, info.st_mode)


def _identity(path: str) -> _Identity | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns, info.st_mode
