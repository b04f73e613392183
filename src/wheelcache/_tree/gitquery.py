"""Asking git about a checkout: where a project sits in it, and what git knows of its files.

:func:`ask_git` runs two git processes at once in the project directory --
``git rev-parse --show-toplevel --show-prefix --show-object-format`` and the
listing :mod:`wheelcache._tree.gitfresh` reads -- with ``GIT_OPTIONAL_LOCKS=0``
(nothing is written, not even a refreshed index) and a bound of
:data:`GIT_TIMEOUT`. Git missing, failing or too slow is an answer of None,
logged at debug level: the tree is then not portable, never an error.
"""

from __future__ import annotations

import logging
import os
import subprocess
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["GIT_TIMEOUT", "LISTING", "Checkout", "ask_git", "in_checkout"]

logger = logging.getLogger("wheelcache")

GIT_TIMEOUT = 60.0
"""Seconds a git command may take before the tree is taken as not portable."""

LISTING = ("ls-files", "-z", "-v", "-s", "-c", "-m", "-d", "-o", "--directory")


class Checkout(NamedTuple):
    """Where a project sits in its git checkout."""

    top: str
    """The checkout's top directory (git's own spelling, resolved)."""
    prefix: str
    """The project directory relative to ``top``, ``/``-separated; ``""`` at the top."""
    algorithm: str
    """The repository's object format: ``"sha1"`` or ``"sha256"``."""


def in_checkout(tree: Path) -> bool:
    """Whether *tree* or a parent holds a ``.git``: only then is git asked anything."""
    return any(os.path.lexists(os.path.join(up, ".git")) for up in (tree, *tree.parents))


def ask_git(tree: Path) -> tuple[Checkout, bytes] | None:
    """Where the checkout holding *tree* is, and git's listing of *tree*; None if git cannot say.

    The two git processes run at once: ``git rev-parse --show-toplevel
    --show-prefix --show-object-format`` and :data:`LISTING`, which
    :mod:`wheelcache._tree.gitfresh` explains.
    """
    if not in_checkout(tree):
        return None
    where = _start(tree, "rev-parse", "--show-toplevel", "--show-prefix", "--show-object-format")
    listing = _finish(_start(tree, *LISTING))
    found = _finish(where)
    lines = found.decode("utf-8", "surrogateescape").split("\n") if found is not None else []
    if listing is None or len(lines) < 3 or lines[2] not in ("sha1", "sha256"):
        return None
    return Checkout(lines[0], lines[1].rstrip("/"), lines[2]), listing


def _start(cwd: Path, *arguments: str) -> subprocess.Popen[bytes] | None:
    """Start a git command in cwd, or None when git cannot be run (logged at debug level)."""
    environment = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        return subprocess.Popen(
            ["git", *arguments],
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as error:
        logger.debug("git %s in %s failed: %s", arguments[0], cwd, error)
        return None


def _finish(process: subprocess.Popen[bytes] | None) -> bytes | None:
    """The output of a started git command, or None when it failed (logged at debug level)."""
    if process is None:
        return None
    with process:
        try:
            out, err = process.communicate(timeout=GIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            out, err = None, b"timed out"
    if process.returncode != 0 or out is None:
        logger.debug("git %s failed: %s", process.args, err.decode(errors="replace"))
        return None
    return out
