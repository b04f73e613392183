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

A project without a readable name, a submodule, a symlink leading out of the
project, or git failing in a checkout give no identity (logged at debug
level): the remote tier then skips the source, as before.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from .gitfresh import find_checkout, git_freshness

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["KEY_PREFIX", "portable_identity"]

logger = logging.getLogger("wheelcache")

KEY_PREFIX = "tree:"


def portable_identity(
    tree: Path, cache_keys: Sequence[str] | None, name: str | None, local_freshness: str
) -> tuple[str, str] | None:
    """The remote key and freshness of the project at the resolved path *tree*, or None."""
    if name is None:
        logger.debug("%s declares no project name: not shared through the remote", tree)
        return None
    normalised = re.sub(r"[-_.]+", "-", name).lower()
    checkout = find_checkout(tree)
    if checkout is None:
        return f"{KEY_PREFIX}{normalised}:.", local_freshness
    freshness = git_freshness(tree, checkout, cache_keys)
    if freshness is None:
        logger.debug("%s: no portable freshness; not shared through the remote", tree)
        return None
    return f"{KEY_PREFIX}{normalised}:{checkout.prefix or '.'}", freshness
