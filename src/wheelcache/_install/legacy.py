"""Installations of a project made before wheels: ``.egg-info``, ``.egg-link`` and ``.egg``.

An environment can hold a project installed without a ``.dist-info``
directory. Installing a wheel of the same project must remove it first, or
both would be importable and ``pip`` would list two versions. This module
finds such an installation and says which files are its, judging as
``pip uninstall`` does (pip's ``UninstallPathSet.from_dist``):

- a *flat* ``<name>-<version>-pyX.Y.egg-info`` directory in site-packages
  (``setup.py install --single-version-externally-managed``, what pip's
  legacy ``setup.py install`` did): the files its ``installed-files.txt``
  lists (relative to the directory) and the directory itself; without that
  list, the top-level packages and modules of ``top_level.txt`` except the
  namespace packages of ``namespace_packages.txt``;
- a legacy editable install (``setup.py develop``, ``pip install -e`` with
  setuptools before PEP 660): the ``<name>.egg-link`` file and its line in
  ``easy-install.pth`` (the project's own ``.egg-info`` stays in its source
  tree);
- an ``.egg`` directory or archive (``easy_install``, ``setup.py install``):
  the egg and its line in ``easy-install.pth``;
- and for each of them, the console and GUI scripts its ``entry_points.txt``
  names.

Only paths inside the environment's directories are removed, whatever a list
names.

A ``<name>-<version>.egg-info`` *file* was written by plain distutils, which
records no file list: like pip, the install refuses
(:class:`LegacyInstallError`), naming the file and what to do.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .._errors import CacheError
from .._log import get_logger
from .uninstall import canonical_name

if TYPE_CHECKING:
    from .scheme import Target
    from .uninstall import Stash

__all__ = ["Legacy", "LegacyInstallError", "find_legacy"]

logger = get_logger()

_PTH = "easy-install.pth"


class LegacyInstallError(CacheError):
    """The environment holds the project installed in a way whose files cannot be known."""


class Legacy:
    """One pre-wheel installation of the project: what to move aside to remove it.

    A plain class: every install imports this module, most find no such
    installation, and :mod:`dataclasses` would cost them more than looking.
    """

    __slots__ = ("directories", "files", "kind", "path", "pth_entry", "version")

    def __init__(
        self,
        kind: str,
        path: str,
        version: str,
        files: list[str] | None = None,
        directories: list[str] | None = None,
        pth_entry: str | None = None,
    ) -> None:
        self.kind = kind
        """``egg-info``, ``egg-link`` or ``egg``."""
        self.path = path
        self.version = version
        self.files = files or []
        """The installation's files, moved one by one."""
        self.directories = directories or []
        """Its directories (the ``.egg-info``, the ``.egg``, top-level packages), moved whole."""
        self.pth_entry = pth_entry
        """The line of ``easy-install.pth`` (next to *path*) that puts it on ``sys.path``."""

    def __repr__(self) -> str:
        return f"Legacy({self.kind!r}, {self.path!r}, {self.version!r})"

    def move_aside(self, stash: Stash) -> None:
        """Move every file of the installation aside, and take its line out of the ``.pth``."""
        stash.move_files(self.files)  # directories among them are skipped
        for path in self.directories:
            stash.move(path)
        if self.pth_entry is not None:
            _remove_pth_entry(os.path.join(os.path.dirname(self.path), _PTH), self.pth_entry, stash)


def find_legacy(target: Target, project: str) -> list[Legacy]:
    """Every pre-wheel installation of *project* in *target* (see the module docstring)."""
    wanted = canonical_name(project)
    found = []
    for site in target.site_dirs:
        try:
            names = sorted(os.listdir(site))
        except OSError:
            continue
        for name in names:
            stem, dot, suffix = name.rpartition(".")
            if not dot or suffix not in ("egg-info", "egg-link", "egg"):
                continue
            if canonical_name(stem.split("-", 1)[0]) != wanted:
                continue
            path = os.path.join(site, name)
            legacy = _describe(path, suffix)
            if legacy is not None:
                legacy.files.extend(_scripts(legacy, target.scripts))
                legacy.files = [p for p in legacy.files if _inside(p, target)]
                legacy.directories = [p for p in legacy.directories if _inside(p, target)]
                found.append(legacy)
    return found


def _inside(path: str, target: Target) -> bool:
    """Whether *path* is below the environment's directories (a list may name any path)."""
    roots = {target.purelib, target.platlib, target.scripts, target.data, target.include}
    if any(path.startswith(os.path.join(root, "")) for root in roots):
        return True
    logger.info("not removing %s: it is outside the environment", path)
    return False


def _describe(path: str, suffix: str) -> Legacy | None:
    if suffix == "egg-link":
        location = _first_line(path)
        info = _egg_info_in(location, os.path.basename(path)[: -len(".egg-link")])
        version = _version(info) if info else "?"
        return Legacy("egg-link", path, version, [path], pth_entry=location)
    if suffix == "egg":
        version = _version(os.path.join(path, "EGG-INFO"), os.path.basename(path))
        return Legacy("egg", path, version, [path], [path], f"./{os.path.basename(path)}")
    if os.path.isfile(path):
        raise LegacyInstallError(
            f"{path} is a distutils installation of {os.path.basename(path).split('-')[0]},"
            " which records no list of its files, so no installer can tell which files to"
            " remove (pip refuses too): delete that file and the project's modules by hand,"
            " then install again"
        )
    if not os.path.isdir(path):
        return None
    files, directories = _egg_info_files(path)
    return Legacy("egg-info", path, _version(path, os.path.basename(path)), files, directories)


def _egg_info_files(info: str) -> tuple[list[str], list[str]]:
    """(files, directories) a flat ``.egg-info`` directory's installation placed.

    The files of ``installed-files.txt`` (only files: a directory it names is
    left), else the top-level packages and modules of ``top_level.txt``; and
    the ``.egg-info`` directory itself.
    """
    listed = _lines(os.path.join(info, "installed-files.txt"))
    if listed is not None:
        return [os.path.normpath(os.path.join(info, line)) for line in listed], [info]
    site = os.path.dirname(info)
    namespaces = set(_lines(os.path.join(info, "namespace_packages.txt")) or ())
    files, directories = [], [info]
    for top in _lines(os.path.join(info, "top_level.txt")) or ():
        if top in namespaces or not all(part.isidentifier() for part in top.split("/")):
            continue
        base = os.path.join(site, *top.split("/"))
        files.extend([f"{base}.py", f"{base}.pyc"])
        directories.append(base)
    return files, directories


def _scripts(legacy: Legacy, scripts_dir: str) -> list[str]:
    """The entry-point scripts the installation's ``entry_points.txt`` names."""
    info = legacy.path
    if legacy.kind == "egg-link":
        info = _egg_info_in(_first_line(legacy.path), "") or ""
    elif legacy.kind == "egg":
        info = os.path.join(legacy.path, "EGG-INFO")
    import configparser
    import zipfile  # both only here: an install finding no legacy one loads neither

    parser = configparser.RawConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(_entry_points(info))
    except (OSError, configparser.Error, UnicodeDecodeError, zipfile.BadZipFile):
        return []
    names: list[str] = []
    for section in ("console_scripts", "gui_scripts"):
        if parser.has_section(section):
            names.extend(parser.options(section))
    return [os.path.join(scripts_dir, name) for name in names]


def _entry_points(info: str) -> str:
    """The text of ``<info>/entry_points.txt``, also inside a zipped ``.egg``; empty if none."""
    egg = os.path.dirname(info)
    if os.path.isfile(egg) and egg.endswith(".egg"):
        import zipfile

        with zipfile.ZipFile(egg) as archive:
            try:
                return archive.read("EGG-INFO/entry_points.txt").decode("utf-8")
            except KeyError:
                return ""
    try:
        with open(os.path.join(info, "entry_points.txt"), encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def _egg_info_in(location: str, name: str) -> str | None:
    """The ``.egg-info`` directory of a project checked out at *location*."""
    try:
        candidates = sorted(n for n in os.listdir(location) if n.endswith(".egg-info"))
    except OSError:
        return None
    wanted = canonical_name(name) if name else None
    for candidate in candidates:
        project = candidate[: -len(".egg-info")].split("-", 1)[0]
        if wanted is None or canonical_name(project) == wanted:
            return os.path.join(location, candidate)
    return None


def _version(info: str, name: str = "") -> str:
    """The version PKG-INFO in *info* gives, else the one in the file *name* (``demo-0.9-...``)."""
    for line in _lines(os.path.join(info, "PKG-INFO")) or ():
        if line.lower().startswith("version:"):
            return line.split(":", 1)[1].strip()
    parts = name.split("-")
    return parts[1] if len(parts) > 1 else "?"


def _first_line(path: str) -> str:
    lines = _lines(path) or [""]
    return lines[0]


def _lines(path: str) -> list[str] | None:
    """The non-blank lines of a text file, stripped; None when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return [line.strip() for line in handle if line.strip()]
    except OSError:
        return None


def _remove_pth_entry(pth: str, entry: str, stash: Stash) -> None:
    """Rewrite *pth* without *entry*; the original is moved aside, so a failure puts it back."""
    lines = _lines(pth)
    if lines is None:
        return
    base = os.path.dirname(pth)
    wanted = os.path.normcase(os.path.normpath(os.path.join(base, entry)))
    kept = [
        line
        for line in lines
        if os.path.normcase(os.path.normpath(os.path.join(base, line))) != wanted
    ]
    if len(kept) == len(lines) or not stash.move(pth):
        return
    with open(pth, "w", encoding="utf-8") as handle:
        handle.writelines(f"{line}\n" for line in kept)
