"""Installing an unpacked tree into an environment: the order of the steps, and undoing them.

:func:`install_tree` makes an environment hold what ``pip install --no-deps``
of the wheel would leave there:

1. If the environment already holds this exact wheel (its ``.dist-info``
   names the wheel's SHA-256 in ``WHEELCACHE``), nothing is done:
   ``unchanged``.
2. Every installed distribution of the same project is moved aside
   (:class:`~.uninstall.Stash`), whatever its version, and so is a
   pre-wheel installation of it (:mod:`.legacy`).
3. The new ``.dist-info`` directory is put in place (its files linked from
   the tree; ``INSTALLER``, ``REQUESTED`` and ``direct_url.json`` written),
   then RECORD, listing every file the install will place. From here on pip
   knows the distribution: an install killed (``kill -9``) at any later
   moment leaves one that ``pip uninstall`` removes, and that the next
   install replaces.
4. Every other file is linked into its scheme's directory
   (:class:`~.linking.Linker`); ``.data/scripts`` are copied with their
   shebang rewritten and entry-point launchers generated (:mod:`.scripts`);
   with *compile*, the target interpreter compiles the modules and RECORD
   is replaced to list the bytecode too.
5. ``WHEELCACHE`` is written last, so only a complete install is ever
   ``unchanged``; then the moved-aside files are deleted.

If any step fails with an exception, every file written is removed and every
file moved aside put back, so the previous installation is as it was; an
error that prevents even that names the files left aside. A file that already
exists where a new one goes (another distribution's, or a stray) is moved
aside too, and put back the same way.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from .._errors import CacheError
from .._fs import syncpoints as _syncpoints
from .._layout import unique_token
from .._log import get_logger
from .legacy import find_legacy
from .linking import Linker
from .records import INSTALLER, MARKER, RecordRows, hashed_row
from .requirements import unsatisfied
from .scripts import entry_point_scripts, rewrite_shebang
from .undo import Undo
from .uninstall import Stash, find_installed

if TYPE_CHECKING:
    from pathlib import Path

    from .._unpacked.trees import Tree
    from .scheme import Target

__all__ = ["Installed", "TreeVanishedError", "install_tree"]

logger = get_logger()

_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_WRITTEN_BY_INSTALL = frozenset({"RECORD", "INSTALLER", "REQUESTED", MARKER, "direct_url.json"})


class Installed(NamedTuple):
    """What installing one wheel did: the fields of :class:`~.result.InstallResult`, in order.

    :meth:`WheelCache.install <wheelcache.WheelCache.install>` returns them as
    that public dataclass; the command's warm path prints them as they are,
    because importing :mod:`dataclasses` would cost it more than writing RECORD.
    """

    name: str
    version: str
    action: str
    link_mode: str | None
    files: int
    seconds: float
    dist_info: str
    replaced: tuple[str, ...] = ()
    unsatisfied: tuple[str, ...] = ()
    wheel_sha256: str = ""


class TreeVanishedError(CacheError):
    """A tree's file disappeared while it was being linked (garbage collection, or ``clean``)."""


def install_tree(
    tree: Tree,
    target: Target,
    *,
    link_mode: str,
    compile_bytecode: bool,
    direct_url: dict[str, Any] | None,
) -> Installed:
    """Install *tree* into *target* (see the module docstring)."""
    started = time.perf_counter()
    manifest = tree.manifest
    linker = Linker(link_mode)
    root = target.purelib if manifest.root_is_purelib else target.platlib
    dist_info = os.path.join(root, manifest.dist_info)
    present = find_installed(target.site_dirs, manifest.name)
    legacy = find_legacy(target, manifest.name)  # raises if one cannot be removed
    try:
        metadata = _read(os.path.join(tree.files, manifest.dist_info, "METADATA"))
    except FileNotFoundError as exc:
        raise TreeVanishedError(f"the unpacked tree {tree.files} vanished") from exc
    missing = unsatisfied(metadata, target)
    if present == [dist_info] and not legacy and _marker_names(dist_info, manifest.wheel_sha256):
        return Installed(
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
    undo = Undo()
    replaced = tuple(os.path.basename(p)[: -len(".dist-info")].split("-", 1)[1] for p in present)
    replaced += tuple(old.version for old in legacy)
    head, rest = _plan(tree, target, direct_url)
    marker = _planned_file(
        os.path.join(dist_info, MARKER),
        json.dumps({"wheel_sha256": manifest.wheel_sha256}).encode() + b"\n",
        0o644,
    )
    record = RecordRows(root)
    record.add_all((item.destination, item.hash, item.size) for item in [*head, *rest, marker])
    record_path = os.path.join(dist_info, "RECORD")
    try:
        for old in present:
            stash.move_distribution(old)
        for pre_wheel in legacy:
            pre_wheel.move_aside(stash)
        for item in head:
            _put(item, linker, stash, undo)
        # From here on pip knows the distribution and every file it will have:
        # an install killed now leaves one that pip can uninstall.
        _write_new(record_path, record.encode(record_path), 0o644, stash, undo)
        _syncpoints.reach("install.recorded")
        for item in rest:
            _put(item, linker, stash, undo)
        if compile_bytecode:
            _compile(target, undo, record)
            _replace(record_path, record.encode(record_path))
        _put(marker, linker, stash, undo)  # last: only a complete install is "unchanged"
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
    return Installed(
        manifest.name,
        manifest.version,
        "installed",
        linker.mode or "copy",
        len(record.rows) + 1,
        seconds,
        dist_info,
        replaced=replaced,
        unsatisfied=missing,
        wheel_sha256=manifest.wheel_sha256,
    )


class _Planned(NamedTuple):
    """One file an install puts in place: linked from *source*, or written with *data*."""

    destination: str
    source: str | None
    data: bytes | None
    mode: int
    hash: str
    size: int


def _planned_file(destination: str, data: bytes, mode: int) -> _Planned:
    _path, hash_, size = hashed_row(destination, data)
    return _Planned(destination, None, data, mode, hash_, size)


def _plan(
    tree: Tree, target: Target, direct_url: dict[str, Any] | None
) -> tuple[list[_Planned], list[_Planned]]:
    """Every file to put in place: the ``.dist-info`` directory's, and the rest."""
    manifest = tree.manifest
    skipped = {f"{manifest.dist_info}/{name}" for name in _WRITTEN_BY_INSTALL}
    prefix = f"{manifest.dist_info}/"
    head: list[_Planned] = []
    rest: list[_Planned] = []
    scheme_dirs: dict[str, str] = {}
    for item in manifest.files:
        if item.path in skipped:
            continue
        base = scheme_dirs.get(item.scheme)
        if base is None:
            base = scheme_dirs[item.scheme] = target.scheme_dir(item.scheme, manifest.name)
        destination = _below(base, item.relative)
        source = _below(tree.files, item.path)
        if item.scheme == "scripts":
            data = rewrite_shebang(_read(source), target.executable)
            rest.append(_planned_file(destination, data, 0o755))
            continue
        mode = 0o555 if item.executable else 0o444
        planned = _Planned(destination, source, None, mode, item.hash, item.size)
        (head if item.path.startswith(prefix) else rest).append(planned)
    for name, data in entry_point_scripts(manifest.entry_points, target.executable):
        rest.append(_planned_file(os.path.join(target.scripts, name), data, 0o755))
    dist_info = os.path.join(
        target.purelib if manifest.root_is_purelib else target.platlib, manifest.dist_info
    )
    for name, data in _dist_info_files(direct_url):
        head.append(_planned_file(os.path.join(dist_info, name), data, 0o644))
    return head, rest


def _put(item: _Planned, linker: Linker, stash: Stash, undo: Undo) -> None:
    undo.make_dirs(os.path.dirname(item.destination))
    if item.data is not None:
        _write_new(item.destination, item.data, item.mode, stash, undo)
        return
    assert item.source is not None
    try:
        linker.place(item.source, item.destination, item.mode)
    except FileExistsError:
        stash.move(item.destination)
        linker.place(item.source, item.destination, item.mode)
    undo.files.append(item.destination)


def _replace(path: str, data: bytes) -> None:
    temporary = f"{path}.{unique_token()}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _compile(target: Target, undo: Undo, record: RecordRows) -> int:
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


def _dist_info_files(direct_url: dict[str, Any] | None) -> list[tuple[str, bytes]]:
    files = [("INSTALLER", INSTALLER), ("REQUESTED", b"")]
    if direct_url is not None:
        files.append(("direct_url.json", json.dumps(direct_url, sort_keys=True).encode()))
    return files


def _write_new(path: str, data: bytes, mode: int, stash: Stash, undo: Undo) -> None:
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
