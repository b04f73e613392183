"""Named pause points for deterministic concurrency tests.

Production code calls :func:`reach` at the steps of its protocols
(``"publish.before-rename"``, ``"prune.before-trash"``, ...). Normally that is
one global lookup and a return. When the environment variable
``WHEELCACHE_SYNCPOINTS`` names a directory, a test can *arm* a point by
creating ``<dir>/<name>.arm``; a process reaching an armed point creates
``<dir>/<name>.reached`` (holding its pid) and waits until the test creates
``<dir>/<name>.release``. That lets a test place another process's operation
exactly between two steps, as git's and Nix's GC tests do, or kill the paused
process with SIGKILL at a known step.

A paused process gives up waiting after :data:`WAIT_SECONDS` and carries on,
so a broken test cannot hang a process forever.
"""

from __future__ import annotations

import os
import time

from .._log import get_logger

TYPE_CHECKING = False  # pathlib only once a test configures sync points: lookups reach them
if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["ENVIRONMENT_VARIABLE", "POINTS", "WAIT_SECONDS", "reach"]

logger = get_logger()

ENVIRONMENT_VARIABLE = "WHEELCACHE_SYNCPOINTS"
WAIT_SECONDS = 120.0

POINTS = frozenset(
    {
        # publishing an entry (wheelcache._store.store)
        "publish.staged",
        "publish.before-rename",
        "publish.after-rename",
        "publish.rename-failed",
        "publish.found-existing",
        # a lookup recording its source's use (wheelcache._cache)
        "lookup.record-use",
        # updating a pointer (wheelcache._pointers.revision)
        "pointer.locked",
        "pointer.before-replace",
        "pointer.after-replace",
        # building (wheelcache._cache.get_or_build)
        "build.locked",
        # taking over an expired lease (wheelcache._fs.lease): found expired; the right to
        # take it over won. Their kill scenarios are in tests/netfs/test_lease.py
        "lease.expired",
        "lease.marked",
        # garbage collection (wheelcache._gc.prune, wheelcache._gc.retire, wheelcache._gc.trash)
        "prune.locked",
        "prune.scanned",
        "prune.before-trash",
        "prune.after-trash",
        "prune.before-delete",
        "prune.before-adopt",
        "prune.after-adopt",
        "prune.retire-before-unlink",
        # a tree renamed into the trash, before its freshness is read again (wheelcache._gc.trees)
        "prune.tree-trashed",
        "clean.after-rename",
        # verifying an entry (wheelcache._gc.verify), a tree (wheelcache._gc.trees)
        "verify.opened",
        "verify.tree-listed",
        "verify.tree-read",
        # the remote tier (wheelcache._remote.push, wheelcache._remote.pull); their kill
        # scenarios are in tests/remote/test_remote_concurrency.py
        "remote-push.before-record",
        "remote-pull.downloaded",
        # unpacking a tree (wheelcache._unpacked.trees)
        "tree.before-rename",
        # installing (wheelcache._install.install)
        "install.recorded",
    }
)

_directory: Path | None = None
_configured = False


def _configure() -> Path | None:
    global _directory, _configured
    value = os.environ.get(ENVIRONMENT_VARIABLE)
    if value:
        from pathlib import Path

        _directory = Path(value)
    else:
        _directory = None
    _configured = True
    return _directory


def reach(name: str) -> None:
    """Pause here if a test armed the sync point *name*; otherwise return at once."""
    directory = _directory if _configured else _configure()
    if directory is None:
        return
    if name not in POINTS:  # a typo in a test must fail loudly
        raise ValueError(f"unknown sync point {name!r}")
    if not (directory / f"{name}.arm").exists():
        return
    (directory / f"{name}.reached").write_text(str(os.getpid()))
    deadline = time.monotonic() + WAIT_SECONDS
    release = directory / f"{name}.release"
    while not release.exists():
        if time.monotonic() > deadline:
            logger.warning("sync point %s was never released; continuing", name)
            return
        time.sleep(0.002)


def reset() -> None:
    """Re-read the environment (tests that change it in-process call this)."""
    global _configured
    _configured = False
