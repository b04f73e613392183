"""``WheelCache.install``: where the cache meets the installer.

:class:`Installs` is a mixin of :class:`wheelcache.WheelCache`: it asks the
cache's store for the wheel's unpacked tree (:mod:`wheelcache._unpacked`) and
hands that tree to :func:`~wheelcache._install.install.install_tree`. This
module imports nothing heavy at import time (``import wheelcache`` loads it);
the installer, pypa/installer and the unpacking code load on the first install.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import CacheError
from .._log import get_logger

if TYPE_CHECKING:
    from .._layout import Layout
    from .._store.store import Store
    from .._wheel import CachedWheel
    from .result import InstallResult

__all__ = ["Installs", "direct_url"]

logger = get_logger()


class Installs:
    """The install half of :class:`wheelcache.WheelCache` (see the module docstring)."""

    _layout: Layout
    _store: Store

    def _ensure_root(self) -> None:
        raise NotImplementedError

    def install(
        self,
        wheel: CachedWheel,
        *,
        python: str | os.PathLike[str] | None = None,
        target: str | os.PathLike[str] | None = None,
        link_mode: str = "auto",
        compile: bool = False,
        origin: str | os.PathLike[str] | None = None,
    ) -> InstallResult:
        """Install *wheel* into an environment by linking its unpacked files, without dependencies.

        The environment is the interpreter *python*'s (default: the running
        interpreter's) or, with *target*, a plain directory (like ``pip install
        --target``). The wheel is unpacked once into the cache's read-only
        tree of it; its files are then placed by ``link_mode``: ``auto``
        (reflink clone, else hard link, else copy, said once), ``clone``,
        ``hardlink`` or ``copy``. The result is what ``pip install --no-deps``
        leaves: a ``.dist-info`` with METADATA, INSTALLER and RECORD (so pip
        can show and uninstall it), entry-point scripts, ``.data`` files in
        the scheme's directories. Another installed version of the project is
        uninstalled first; the identical wheel again is ``unchanged``. On
        failure the previous installation is left in place. *compile* writes
        bytecode with the target interpreter. *origin*, the project directory
        or archive the wheel came from, is recorded in ``direct_url.json``.

        Needs pypa/installer (``pip install 'wheelcache[install]'``).
        Raises :class:`~wheelcache.CacheError` (``ValueError`` too for a bad
        argument or interpreter).
        """
        import importlib.util

        from .._unpacked.trees import Trees
        from . import scheme as _scheme
        from .install import TreeVanishedError, install_tree
        from .result import InstallResult

        if python is not None and target is not None:
            raise ValueError("give python or target, not both")
        if importlib.util.find_spec("installer") is None:
            raise CacheError("installing needs pypa/installer: pip install 'wheelcache[install]'")
        if target is not None:
            environment = _scheme.for_directory(target)
        else:
            environment = _scheme.for_interpreter(os.fspath(python or sys.executable))
        url = direct_url(Path(origin)) if origin is not None else None
        self._ensure_root()
        trees = Trees(self._store)
        for attempt in range(2):
            tree = trees.unpacked(wheel)
            try:
                installed = install_tree(
                    tree,
                    environment,
                    link_mode=link_mode,
                    compile_bytecode=compile,
                    direct_url=url,
                )
                return InstallResult(*installed)
            except TreeVanishedError:
                if attempt:
                    raise
                logger.info("the tree of %s vanished while installing; unpacking again", wheel)
        raise AssertionError("unreachable")  # pragma: no cover


def direct_url(origin: Path, digest: str | None = None) -> dict[str, Any]:
    """What ``direct_url.json`` says about a project directory or archive (PEP 610).

    *digest* is the archive's SHA-256 when the caller has hashed it already.
    """
    url = origin.absolute().as_uri()
    if origin.is_dir():
        return {"url": url, "dir_info": {}}
    if digest is None:
        from .._fs.hashing import file_sha256

        digest = file_sha256(origin)
    return {"url": url, "archive_info": {"hash": f"sha256={digest}", "hashes": {"sha256": digest}}}
