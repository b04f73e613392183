"""The warm install's rare path: a tree garbage collection took after it was found.

:mod:`wheelcache._cli.warm_install` found every SOURCE's tree, freshened, and
began installing; then a ``clean`` (or a prune whose grace had run out, or a
hand) removed a tree before its files were linked. The install of that tree
rolled back (:class:`~wheelcache._install.install.TreeVanishedError`), and the
SOURCEs already installed were reported: the work is not redone from the
start. This SOURCE goes the full command's way instead
(:func:`wheelcache._cli.installing.install_source`): its wheel through the cache
-- found, or added or built again when it went too -- then
:meth:`WheelCache.install <wheelcache.WheelCache.install>`, which unpacks it
again. What the library logs meanwhile goes through the full command's logging
set-up, so the output is the full command's.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .._install.result import InstallResult

__all__ = ["install_as_the_full_command"]


def install_as_the_full_command(
    source: str,
    environment: tuple[str | None, str | None],
    *,
    cache_dir: str | None,
    link_mode: str,
    quiet: bool,
    isolation: bool,
) -> InstallResult:
    """Install SOURCE *source* into *environment* (python, target) as the full command does."""
    from pathlib import Path

    from .._cache import WheelCache
    from .installing import install_source
    from .main import _logging_to

    with _logging_to(sys.stderr, -1 if quiet else 0):
        result, _wheel, _source, _built = install_source(
            WheelCache(cache_dir),
            Path(source),
            environment,
            link_mode=link_mode,
            compile_bytecode=False,
            isolation=isolation,
        )
    return result
