"""Installing an unpacked tree into an environment: the order of the steps, and undoing them.

:func:`install_tree` makes an environment hold what ``pip install --no-deps``
of the wheel would leave there:

1. If the environment already holds this exact wheel (its ``.dist-info``
   names the wheel's SHA-256 in ``WHEELCACHE``), nothing is done:
   ``unchanged``.
2. Every installed distribution of the same project is moved aside
   (:class:`~.uninstall.Stash`), whatever its version.
3. Each file of the tree is linked into its scheme's directory
   (:class:`~.linking.Linker`); ``.data/scripts`` are copied with their
   shebang rewritten and entry-point launchers generated (:mod:`.scripts`);
   with *compile*, the target interpreter compiles the modules.
4. ``INSTALLER``, ``REQUESTED``, ``WHEELCACHE``, ``direct_url.json`` (when the
   origin is known) and finally RECORD are written into the ``.dist-info``
   directory.
5. The moved-aside files are deleted.

If any step before 5 fails, every file written is removed and every file moved
aside put back, so the previous installation is as it was; an error that
prevents even that names the files left aside. A file that already exists
where a new one goes (another distribution's, or a stray) is moved aside too,
and put back the same way.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import CacheError
from .._layout import unique_token
from .linking import Linker
from .records import INSTALLER, MARKER, RecordRows, hashed_row
from .requirements import unsatisfied
from .scripts import entry_point_scripts, rewrite_shebang
from .uninstall import Stash, find_installed

if TYPE_CHECKING:
    from pathlib import Path

    from .._unpacked.trees import Tree
    from .scheme import Target

__all__ = ["InstallResult", "TreeVanishedError", "install_tree"]

logger = logging.getLogger("wheelcache")

_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_WRITTEN_BY_INSTALL = frozenset({"RECORD", "INSTALLER", "REQUESTED", MARKER, "direct_url.json"})


@dataclass(frozen=True)
class InstallResult:
    """What installing one wheel did."""

    name: str
    version: str
    action: str
    """``installed``, or ``unchanged`` when the environment already held this exact wheel."""
    link_mode: str | None
    """How files were placed: ``clone``, ``hardlink`` or ``copy`` (None when unchanged)."""
    files: int
    """Files placed (linked, copied or written)."""
    seconds: float
    dist_info: str
    """The installed ``.dist-info`` directory."""
    replaced: tuple[str, ...] = ()
    """Versions of the project that were uninstalled first."""
    unsatisfied: tuple[str, ...] = ()
    """``Requires-Dist`` requirements the environment does not satisfy (nothing is resolved)."""
    wheel_sha256: str = ""


class TreeVanishedError(CacheError):
    """A tree's file disappeared while it was being linked (garbage collection, or ``clean``)."""


class _Undo:
    """What an install has done so far, to be undone if it fails."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.directories: list[str] = []
        self.known_dirs: set[str] = set()

    def make_dirs(self, directory: str) -> None:
        if directory in self.known_dirs:
            return
        missing = []
        probe = directory
        while not os.path.isdir(probe):
            missing.append(probe)
            parent = os.path.dirname(probe)
            if parent == probe:
                break
            probe = parent
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except FileExistsError:
                continue
            self.directories.append(path)
        self.known_dirs.add(directory)

    def rollback(self) -> None:
        for path in reversed(self.files):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        for path in reversed(self.directories):
            with contextlib.suppress(OSError):
                os.rmdir(path)


def install_tree(
    tree: Tree,
    target: Target,
    *,
    link_mode: str,
    compile_bytecode: bool,
    direct_url: dict[str, Any] | None,
) -> InstallResult:
    """Install *tree* into *target* (see the module docstring)."""
    started = time.perf_counter()
    manifest = tree.manifest
    linker = Linker(link_mode)
    root = target.purelib if manifest.root_is_purelib else target.platlib
    dist_info = os.path.join(root, manifest.dist_info)
    present = find_installed(target.site_dirs, manifest.name)
    try:
        metadata = _read(os.path.join(tree.files, manifest.dist_info, "METADATA"))
    except FileNotFoundError as exc:
        raise TreeVanishedError(f"the unpacked tree {tree.files} vanished") from exc
    missing = unsatisfied(metadata, target.site_dirs, target.markers)
    if present == [dist_info] and _marker_names(dist_info, manifest.wheel_sha256):
        return InstallResult(
            manifest.name,
            manifest.version,
            "unchanged",
            None,
            0,
            time.perf_counter() - started,
            dist_info,
            unsatisfied=missing,
            wheel_sha256=manifest.wheel_sha256,
        )
    stash = Stash(unique_token())
    undo = _Undo()
    replaced = tuple(os.path.basename(p)[: -len(".dist-info")].split("-", 1)[1] for p in present)
    try:
        for old in present:
            stash.move_distribution(old)
        record = RecordRows(root)
        placed = _place_files(tree, target, linker, stash, undo, record)
        if compile_bytecode:
            placed += _compile(target, tree, undo, record)
        extras = [
            (name, data) for name, data in _dist_info_files(manifest.wheel_sha256, direct_url)
        ]
        for name, data in extras:
            path = os.path.join(dist_info, name)
            _write_new(path, data, 0o644, stash, undo)
            record.add_all([hashed_row(path, data)])
        record_path = os.path.join(dist_info, "RECORD")
        _write_new(record_path, record.encode(record_path), 0o644, stash, undo)
    except BaseException as exc:
        undo.rollback()
        left = stash.restore()
        if left:
            raise CacheError(
                f"installing {manifest.name} {manifest.version} failed ({exc}), and these files"
                f" of the previous installation could not be put back: {', '.join(left)}"
            ) from exc
        if isinstance(exc, FileNotFoundError) and not os.path.isdir(tree.files):
            raise TreeVanishedError(f"the unpacked tree {tree.files} vanished") from exc
        raise
    stash.discard(keep=_stops(target))
    seconds = time.perf_counter() - started
    logger.debug("installed %s %s by %s", manifest.name, manifest.version, linker.mode)
    return InstallResult(
        manifest.name,
        manifest.version,
        "installed",
        linker.mode or "copy",
        placed + len(extras) + 1,
        seconds,
        dist_info,
        replaced=replaced,
        unsatisfied=missing,
        wheel_sha256=manifest.wheel_sha256,
    )


def _place_files(
    tree: Tree, target: Target, linker: Linker, stash: Stash, undo: _Undo, record: RecordRows
) -> int:
    manifest = tree.manifest
    skipped = {f"{manifest.dist_info}/{name}" for name in _WRITTEN_BY_INSTALL}
    placed = 0
    scheme_dirs: dict[str, str] = {}
    for item in manifest.files:
        if item.path in skipped:
            continue
        base = scheme_dirs.get(item.scheme)
        if base is None:
            base = scheme_dirs[item.scheme] = target.scheme_dir(item.scheme, manifest.name)
        destination = _below(base, item.relative)
        source = _below(tree.files, item.path)
        undo.make_dirs(os.path.dirname(destination))
        if item.scheme == "scripts":
            data = rewrite_shebang(_read(source), target.executable)
            _write_new(destination, data, 0o755, stash, undo)
            record.add_all([hashed_row(destination, data)])
        else:
            mode = 0o555 if item.executable else 0o444
            try:
                linker.place(source, destination, mode)
            except FileExistsError:
                stash.move(destination)
                linker.place(source, destination, mode)
            undo.files.append(destination)
            record.add(destination, item.hash, item.size)
        placed += 1
    if manifest.entry_points:
        undo.make_dirs(target.scripts)
    for name, data in entry_point_scripts(manifest.entry_points, target.executable):
        path = os.path.join(target.scripts, name)
        _write_new(path, data, 0o755, stash, undo)
        record.add_all([hashed_row(path, data)])
        placed += 1
    return placed


def _compile(target: Target, tree: Tree, undo: _Undo, record: RecordRows) -> int:
    from .bytecode import compile_bytecode

    sources = [
        os.path.join(record.root, path)
        for path, _hash, _size in record.rows
        if path.endswith(".py") and not path.startswith("..")
    ]
    written = compile_bytecode(target.executable, sources)
    for path in written:
        undo.files.append(path)
        record.add_all([hashed_row(path, _read(path))])
    return len(written)


def _dist_info_files(sha256: str, direct_url: dict[str, Any] | None) -> list[tuple[str, bytes]]:
    files = [
        ("INSTALLER", INSTALLER),
        ("REQUESTED", b""),
        (MARKER, json.dumps({"wheel_sha256": sha256}).encode() + b"\n"),
    ]
    if direct_url is not None:
        files.append(("direct_url.json", json.dumps(direct_url, sort_keys=True).encode()))
    return files


def _write_new(path: str, data: bytes, mode: int, stash: Stash, undo: _Undo) -> None:
    try:
        fd = os.open(path, _WRITE_FLAGS, mode)
    except FileExistsError:
        stash.move(path)
        fd = os.open(path, _WRITE_FLAGS, mode)
    undo.files.append(path)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _below(directory: str, relative: str) -> str:
    """*directory* joined with a ``/``-separated relative path (cheaply: once per file)."""
    if os.sep == "/":
        return f"{directory}/{relative}"
    return os.path.join(directory, *relative.split("/"))  # pragma: no cover - Windows


def _read(path: str | Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _marker_names(dist_info: str, sha256: str) -> bool:
    """True when the installed ``.dist-info`` is this wheel's, whole (its RECORD written last)."""
    try:
        document = json.loads(_read(os.path.join(dist_info, MARKER)))
    except (OSError, ValueError):
        return False
    if not isinstance(document, dict) or document.get("wheel_sha256") != sha256:
        return False
    return os.path.isfile(os.path.join(dist_info, "RECORD"))


def _stops(target: Target) -> list[str]:
    return [target.purelib, target.platlib, target.scripts, target.data, target.include]
