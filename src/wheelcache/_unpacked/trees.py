"""Unpacked trees: each wheel entry's files, unpacked once and never changed.

A tree is the directory ``trees-v1/<aa>/<sha256>/`` holding ``files/`` (the
wheel's members, read-only) and ``manifest.json`` (:mod:`.manifest`). It is
named by the SHA-256 of the wheel it was unpacked from, so like an entry it is
never modified: installers link its files into environments.

Publishing (:meth:`Trees.unpacked`), on first need:

1. in a staging directory owned by this process (:meth:`Store.workspace`,
   the owner lock tells prune a live unpacker from a dead one), unpack the
   entry's wheel into ``files/`` and write ``manifest.json`` (the manifest
   last: it is what marks a tree complete);
2. ``rename`` the staged tree to ``trees-v1/<aa>/<sha256>``.

A process killed while unpacking leaves only its staging directory, which
prune reclaims; nothing ever appears under ``trees-v1`` but by that rename. If
the rename finds the tree present, another process published it first: this
process uses that one and discards its own. Two processes installing from one
cold tree therefore both unpack, one publishes, and both link from the
published tree.

Files are not fsynced one by one (that would cost more than the unpacking):
a tree is derived data, always re-creatable from its fsynced wheel. A tree
damaged by a power loss is found by ``verify``, which re-hashes every tree
against its manifest, and ``verify --repair`` moves it aside.

No symbolic link below the cache root is followed: a link where the bucket,
a shard, the tree or its manifest belongs is refused with a ``CacheError``.

Freshness: the manifest's modification time is set to now whenever a tree is
used, and garbage collection removes a tree only when no pointer names its
wheel and it was not used within the grace period (docs/design.md, "Trees").
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, NamedTuple

from .._errors import cache_error
from .._fs import syncpoints as _syncpoints
from .._fs.fsutil import EXISTS_ERRNOS, MAY_EXIST_ERRNOS, make_directories, touch
from .._fs.nofollow import refuse_links
from .._log import get_logger
from .manifest import Manifest, decode_manifest

if TYPE_CHECKING:
    from pathlib import Path

    from .._store.store import Store
    from .._wheel import CachedWheel

__all__ = ["MANIFEST_NAME", "Tree", "Trees", "published_tree", "read_manifest"]

logger = get_logger()

MANIFEST_NAME = "manifest.json"


class Tree(NamedTuple):
    """A published tree: where its files are and what they are."""

    files: str
    """The ``files/`` directory (a string: installers join thousands of paths to it)."""
    manifest: Manifest
    created: bool
    """True when this call unpacked it."""


_MEMO: dict[str, Manifest] = {}
_MEMO_SIZE = 64


def published_tree(directory: str, sha256: str) -> Tree | None:
    """The whole tree of the wheel *sha256* at *directory*, freshened; None if there is none.

    None too for a damaged tree (:meth:`Trees.unpacked` moves it aside) and
    for one garbage collection took just now. The caller has refused links
    on the way to it (:func:`~wheelcache._fs.nofollow.refuse_links`).
    """
    manifest_path = os.path.join(directory, MANIFEST_NAME)
    # A tree never changes, so its manifest is parsed once per process; the
    # touch below still checks, every time, that the tree is in place.
    manifest = _MEMO.get(directory) or read_manifest(directory)
    if manifest is None or manifest.wheel_sha256 != sha256 or not touch(manifest_path):
        _MEMO.pop(directory, None)
        return None
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.clear()
    _MEMO[directory] = manifest
    return Tree(os.path.join(directory, "files"), manifest, created=False)


def read_manifest(tree: str | Path) -> Manifest | None:
    """The manifest of the tree at *tree*; None when it is missing or damaged."""
    try:
        with open(os.path.join(tree, MANIFEST_NAME), "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return decode_manifest(data)


class Trees:
    """Finds and publishes the unpacked trees of a :class:`Store`'s entries."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.layout = store.layout

    def unpacked(self, wheel: CachedWheel) -> Tree:
        """The tree of *wheel*, unpacking and publishing it if there is none (freshened either way).

        Raises :class:`InvalidWheelError` when the wheel cannot be unpacked
        safely, :class:`CacheError` when the cache cannot be written.
        """
        directory = self.layout.tree_dir(wheel.sha256)
        # Nothing below the cache root is followed: a link planted where the
        # bucket, the shard, the tree or its manifest belongs is refused.
        refuse_links(self.layout.root, directory / MANIFEST_NAME)
        for _attempt in range(5):
            tree = self._published(directory, wheel.sha256)
            if tree is not None:
                return tree
            published = self._publish(wheel, directory)
            if published is not None:
                return published
        raise cache_error(directory, "publish", OSError(errno.EBUSY, "it keeps changing"))

    def _published(self, directory: Path, sha256: str) -> Tree | None:
        tree = published_tree(os.fspath(directory), sha256)
        if tree is None and os.path.lexists(directory):
            manifest = read_manifest(directory)
            if manifest is None or manifest.wheel_sha256 != sha256:
                self.store.quarantine(directory, reason="damaged tree found while installing")
        return tree

    def _publish(self, wheel: CachedWheel, directory: Path) -> Tree | None:
        with self.store.workspace("unpack") as workspace:
            stage = workspace / "tree"
            try:
                stage.mkdir()
                from .unpack import unpack_wheel  # only here: it imports the archive code

                manifest = unpack_wheel(wheel.path, wheel.sha256, stage)
                (stage / MANIFEST_NAME).write_bytes(manifest.encode())
                os.chmod(stage / MANIFEST_NAME, 0o444)
            except OSError as exc:
                raise cache_error(stage, "unpack into", exc) from exc
            _syncpoints.reach("tree.before-rename")
            try:
                _rename_into_place(stage, directory)
            except OSError as exc:
                # Published by another process meanwhile: use that one. Over
                # SFTP the rename onto it fails with EPERM, so look.
                if exc.errno in EXISTS_ERRNOS or (
                    exc.errno in MAY_EXIST_ERRNOS and os.path.lexists(directory)
                ):
                    return None
                raise cache_error(directory, "publish", exc) from exc
        logger.debug("unpacked %s into %s", wheel.filename, directory)
        return Tree(os.path.join(directory, "files"), manifest, created=True)


def _rename_into_place(stage: Path, directory: Path) -> None:
    try:
        os.rename(stage, directory)
    except FileNotFoundError:
        make_directories(directory.parent)
        os.rename(stage, directory)
