"""Run test code as another user: the tests of shared and hostile caches run as root.

:func:`as_other_user` switches this process's effective user and group to an
unprivileged one (``nobody``/``nogroup`` by default), runs a function, and
switches back. Tests that need it are skipped with a reason when the suite
does not run as root (it cannot then switch users).
"""

from __future__ import annotations

import codecs
import contextlib
import importlib
import os
import shutil
import sysconfig
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "OTHER_GID",
    "OTHER_UID",
    "as_other_user",
    "give_to_other_user",
    "needs_root",
    "shared_directory",
]

T = TypeVar("T")

OTHER_UID = 65534
OTHER_GID = 65534

needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="simulating another user needs root (setuid in a child process)",
)


@contextlib.contextmanager
def shared_directory() -> Iterator[Path]:
    """A fresh directory every user can reach (pytest's own temp root is root-only)."""
    directory = Path(tempfile.mkdtemp(prefix="wheelcache-shared-"))
    try:
        os.chmod(directory, 0o755)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def give_to_other_user(*paths: Path, gid: int = OTHER_GID) -> None:
    """Make *paths* and everything below them belong to the other user (not following links)."""
    for path in paths:
        os.chown(path, OTHER_UID, gid, follow_symlinks=False)
        for top, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(top, name), OTHER_UID, gid, follow_symlinks=False)


# What a child may import after it dropped root: the interpreter's own files
# may be unreadable to the other user (a home-directory Python), so everything
# is imported before the fork.
_PREWARM = (
    "encodings.cp437",
    "encodings.idna",
    "email.parser",
    "email.policy",
    "filelock",
    "secrets",
    "wheelcache._cli.main",
    "wheelcache._cli.commands",
    "wheelcache._cli.reports",
    "wheelcache._cli.maintenance_reports",
    "wheelcache._gc.links",
    "wheelcache._gc.clock",
    "wheelcache._wheels.dist_info",
    "packaging.tags",
    "packaging.metadata",
    "wheelcache._gc.prune",
    "wheelcache._gc.stats",
    "wheelcache._gc.verify",
    "wheelcache._wheels.wheelfile",
    "wheelcache._store.copying",
)


def as_other_user(
    function: Callable[[], T], *, uid: int = OTHER_UID, gid: int = OTHER_GID, umask: int = 0o022
) -> T:
    """Run *function* in this process as *uid*/*gid* (effective ids), then become root again.

    Only the effective user, group, supplementary groups and umask change, so
    the kernel checks every file access as the other user would, and the
    test process (its real user still root) switches back afterwards, even
    when *function* raises. In-process, so coverage counts what runs.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("simulating another user needs root (seteuid)")
    for module in _PREWARM:
        importlib.import_module(module)
    sysconfig.get_config_vars()  # loads the interpreter's _sysconfigdata module
    for encoding in ("ascii", "latin-1", "utf-8", "cp437"):
        codecs.lookup(encoding)
    groups = os.getgroups()
    previous_umask = os.umask(umask)
    try:
        os.setgroups([gid])
        os.setegid(gid)
        os.seteuid(uid)
        return function()
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(groups)
        os.umask(previous_umask)
