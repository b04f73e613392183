"""A tree's portable identity: the key and freshness the remote tier knows it by.

Locally a tree is keyed by its resolved path, a place on one machine. For the
remote (docs/design.md, section 14.2) it is keyed by what two checkouts of one
repository share:

* in a git checkout, ``tree:<normalised project name>:<project directory
  relative to the checkout's top, "." at the top>``, fresh by
  :func:`~wheelcache._tree.gitfresh.git_freshness` (git's blob ids);
* outside one (an unpacked archive, a copied directory), ``tree:<name>:.``,
  fresh by the local fingerprint itself, already made of contents only: no
  second pass over the files. Two projects of one name with equal contents
  then share wheels, which is right: the same bytes build the same wheel.

:class:`PortableIdentity` asks git in a thread, started before the local
fingerprint walks the tree. A project without a readable name, a submodule,
a symlink leading out of the project, or git failing in a checkout give no
identity (logged at debug
level): the remote tier then skips the source, as before.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING

from .gitfresh import git_freshness
from .gitquery import ask_git, in_checkout

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from .gitquery import Checkout

__all__ = ["KEY_PREFIX", "PortableIdentity", "portable_identity"]

logger = logging.getLogger("wheelcache")

KEY_PREFIX = "tree:"


class PortableIdentity:
    """A tree's remote identity, asked of git in a thread while the local fingerprint walks.

    Git runs in its own processes, so on a machine with two cores the two
    walks of the tree (git's ``lstat`` of every tracked file and its search
    for untracked ones; the fingerprint's) overlap instead of adding up.
    """

    def __init__(self, tree: Path, cache_keys: Sequence[str] | None, name: str | None) -> None:
        self.tree, self.cache_keys, self.name = tree, cache_keys, name
        self._answer: tuple[Checkout, bytes] | None = None
        self._thread: threading.Thread | None = None
        if name is not None and in_checkout(tree):
            self._thread = threading.Thread(target=self._ask, name="wheelcache-git", daemon=True)
            self._thread.start()

    def _ask(self) -> None:
        self._answer = ask_git(self.tree)

    def result(self, local_freshness: str) -> tuple[str, str] | None:
        """The remote key and freshness, or None: not portable (logged at debug level)."""
        tree, name = self.tree, self.name
        if name is None:
            logger.debug("%s declares no project name: not shared through the remote", tree)
            return None
        normalised = re.sub(r"[-_.]+", "-", name).lower()
        if self._thread is None:  # not in a git checkout
            return f"{KEY_PREFIX}{normalised}:.", local_freshness
        self._thread.join()
        answer = self._answer
        freshness = None
        if answer is not None:
            checkout, listing = answer
            freshness = git_freshness(tree, checkout, listing, self.cache_keys)
        if answer is None or freshness is None:
            logger.debug("%s: no portable freshness; not shared through the remote", tree)
            return None
        return f"{KEY_PREFIX}{normalised}:{answer[0].prefix or '.'}", freshness


def portable_identity(
    tree: Path, cache_keys: Sequence[str] | None, name: str | None, local_freshness: str
) -> tuple[str, str] | None:
    """The remote key and freshness of the project at the resolved path *tree*, or None."""
    return PortableIdentity(tree, cache_keys, name).result(local_freshness)
