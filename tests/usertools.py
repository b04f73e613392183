"""Run test code as another user: the tests of shared and hostile caches run as root.

:func:`as_other_user` forks a child that drops to an unprivileged user and
group (``nobody``/``nogroup`` by default) and runs a function there; the
child's exception, if any, is re-raised in the test as an AssertionError with
its traceback. Tests that need it are skipped with a reason when the suite
does not run as root (it cannot then switch users).
"""

from __future__ import annotations

import codecs
import contextlib
import importlib
import os
import pickle
import shutil
import sysconfig
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import pytest

from procs import DEADLINE

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
    function: Callable[[], Any], *, uid: int = OTHER_UID, gid: int = OTHER_GID, umask: int = 0o022
) -> Any:
    """Run *function* in a forked child as *uid*/*gid*; return its (picklable) result."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("simulating another user needs root (setuid in a child process)")
    for module in _PREWARM:
        importlib.import_module(module)
    sysconfig.get_config_vars()  # loads the interpreter's _sysconfigdata module
    for encoding in ("ascii", "latin-1", "utf-8", "cp437"):
        codecs.lookup(encoding)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(reader)
        try:
            os.setgroups([gid])
            os.setgid(gid)
            os.setuid(uid)
            os.umask(umask)
            outcome: tuple[bool, Any] = (True, function())
        except BaseException:
            outcome = (False, traceback.format_exc())
        try:
            data = pickle.dumps(outcome)
        except Exception:
            data = pickle.dumps((False, f"unpicklable result: {outcome!r}"))
        with os.fdopen(writer, "wb") as pipe:
            pipe.write(data)
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        data = pipe.read()
    deadline = time.monotonic() + DEADLINE
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError("the other user's child missed its deadline")
        time.sleep(0.01)
    ok, value = pickle.loads(data)
    if not ok:
        raise AssertionError(f"as user {uid}:\n{value}")
    return value
