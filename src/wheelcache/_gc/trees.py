"""Sweeping unpacked trees: the same grace contract as entries, one rule apart.

A tree (``trees-v1/<aa>/<sha256>``) goes when no pointer names its wheel and
it was not used within the grace period: its freshness is the modification
time of its ``manifest.json``, set to now by every install that uses it. It
leaves by one rename into the trash (as ``tree-<sha256>.<token>``), and is put
back if an install freshened it between the look and the rename. A trashed
tree left by a killed prune is simply deleted: trees are derived data, and an
install that finds its tree gone unpacks it again.

Removing a tree never breaks an environment: hard-linked files are names of
the same inodes, and the environment's names stay.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .._fs import syncpoints as _syncpoints
from .._fs.fsutil import digest_directories, tree_size
from .._unpacked.trees import MANIFEST_NAME, read_manifest
from .reports import CorruptEntry
from .trash import delete_or_warn, move_to_trash, restore

if TYPE_CHECKING:
    from pathlib import Path

    from .._layout import Layout
    from .._store.store import Store
    from .reports import Tally
    from .trashrun import TrashRun

__all__ = ["check_tree", "sweep_trees", "tree_state", "verify_trees"]


def tree_state(tree: Path) -> tuple[float, int] | None:
    """(when last used, bytes) of a tree; None when it is gone.

    Without a readable manifest, the directory's own time and a walk's size.
    """
    manifest = read_manifest(tree)
    try:
        used = os.stat(os.path.join(tree, MANIFEST_NAME)).st_mtime
    except OSError:
        try:
            used = os.stat(tree).st_mtime
        except OSError:
            return None
    return used, (manifest.size if manifest is not None else tree_size(tree))


def sweep_trees(
    layout: Layout,
    run: TrashRun,
    referenced: frozenset[str],
    horizon: float,
    tally: Tally,
    dry_run: bool,
) -> None:
    """Remove the trees no pointer's wheel names and no install used within the grace period."""
    for sha256, tree in list(digest_directories(layout.trees)):
        state = tree_state(tree)
        if state is None:
            continue
        used, size = state
        if sha256 in referenced or used >= horizon:
            tally.kept_trees += 1
            tally.kept_tree_bytes += size
            continue
        if dry_run:
            tally.removed_trees += 1
            tally.freed += size
            continue
        trashed = move_to_trash(run, tree, f"tree-{sha256}")
        if trashed is None:
            continue
        _syncpoints.reach("prune.tree-trashed")
        again = tree_state(trashed)
        if again is not None and again[0] >= horizon:
            if not restore(trashed, tree):
                delete_or_warn(trashed)  # unpacked again meanwhile
            tally.kept_trees += 1
            tally.kept_tree_bytes += size
            continue
        if delete_or_warn(trashed):
            tally.removed_trees += 1
            tally.freed += size


_LOOKS = 3
"""How many looks verify takes at a tree whose problem changes between looks; the last counts."""


def check_tree(sha256: str, tree: Path) -> tuple[str | None, int] | None:
    """(problem or None, bytes hashed) for one tree, re-hashed against its manifest.

    The tree's files must be exactly the manifest's, each with its size,
    hash and mode (read-only). None when the tree vanished meanwhile.

    A look is not an instant, and it reads the tree by its path: a prune may
    rename the tree into the trash while it is read and put it back (an
    install freshened it meanwhile, docs/design.md 6.9), so that a manifest
    or file read in between seems missing from a tree that is there again
    when the look ends. A problem therefore counts only if the next look
    finds it too. A tree that is still there with a problem at each of
    :data:`_LOOKS` looks, each unlike the one before, was never seen sound:
    its last problem counts (one prune's trash-and-restore makes at most one
    look go wrong; damage in flux must not escape verify run after run).
    """
    outcome = None
    seen = None
    for _look in range(_LOOKS):
        outcome = _look_at_tree(sha256, tree)
        if outcome is None or outcome[0] is None or outcome[0] == seen:
            return outcome
        seen = outcome[0]
    return outcome


def _look_at_tree(sha256: str, tree: Path) -> tuple[str | None, int] | None:
    """One look of :func:`check_tree`: its answer, as this look found the tree."""
    import hashlib

    from .._unpacked.manifest import record_hash

    manifest = read_manifest(tree)
    _syncpoints.reach("verify.tree-read")
    if manifest is None or manifest.wheel_sha256 != sha256:
        return (None if not os.path.lexists(tree) else "its manifest is missing or damaged"), 0
    files = os.path.join(tree, "files")
    expected = {item.path: item for item in manifest.files}
    found = set()
    checked = 0
    for top, _dirs, names in os.walk(files):
        for name in names:
            path = os.path.join(top, name)
            found.add(os.path.relpath(path, files).replace(os.sep, "/"))
    extra = sorted(found - set(expected))
    if extra:
        return f"holds files its wheel does not: {', '.join(extra[:3])}", checked
    for relative, item in expected.items():
        path = os.path.join(files, *relative.split("/"))
        try:
            info = os.stat(path)
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read())
        except FileNotFoundError:
            if not os.path.lexists(tree):
                return None
            return f"{relative} is missing", checked
        except OSError as exc:
            return f"{relative} cannot be read ({exc.strerror})", checked
        checked += info.st_size
        if record_hash(digest.digest()) != item.hash or info.st_size != item.size:
            return f"{relative} was modified (its hash differs from the manifest's)", checked
        if info.st_mode & 0o222:
            return f"{relative} is writable (tree files are read-only)", checked
    return None, checked


def verify_trees(
    layout: Layout, store: Store, repair: bool, quarantined: list[Path]
) -> tuple[list[CorruptEntry], int]:
    """Re-hash every tree against its manifest: (the corrupt ones, bytes hashed).

    With *repair* a corrupt tree is moved to the quarantine (appended to *quarantined*).
    """
    corrupt: list[CorruptEntry] = []
    hashed = 0
    for sha256, tree in list(digest_directories(layout.trees)):
        _syncpoints.reach("verify.tree-listed")
        outcome = check_tree(sha256, tree)
        if outcome is None:
            continue  # pruned meanwhile
        problem, size = outcome
        hashed += size
        if problem is None:
            continue
        corrupt.append(CorruptEntry(sha256, tree, problem))
        if repair:
            moved = store.quarantine(tree, reason=f"unpacked tree: {problem}")
            if moved is not None:
                quarantined.append(moved)
    return corrupt, hashed
