"""Unpacked trees shared by two hosts: one published tree, whoever renames first."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from installkit import rich_wheel
from ondisk import DAY, HOUR, age
from procs import SyncPoints, start
from wheelcache import Source, WheelCache
from wheelcache._layout import Layout
from wheelcache._unpacked.trees import Trees, read_manifest

if TYPE_CHECKING:
    from netfs.rig import Hosts

pytest.importorskip("installer")

pytestmark = [pytest.mark.netfs, pytest.mark.timeout(300)]


def test_a_tree_the_other_host_published_first_is_used_not_refused(
    shared: Hosts, tmp_path: Path
) -> None:
    """Hosts A and B unpack one wheel at once, and B's rename lands first.

    A's rename onto B's (non-empty) tree fails with EPERM over SFTP, not
    ENOTEMPTY: that means "published meanwhile", and A uses B's tree.
    """
    cache_b = WheelCache(shared.b / "cache")
    cached = cache_b.add(Source("k"), rich_wheel(tmp_path / "wheels"))
    points = SyncPoints(tmp_path / "sync")
    points.arm("tree.before-rename")
    on_a = start(
        {"op": "unpack", "root": str(shared.a / "cache"), "sha256": cached.sha256}, env=points.env
    )
    points.wait_reached("tree.before-rename")
    on_b = Trees(cache_b._store).unpacked(cached)
    points.release("tree.before-rename")

    result = on_a.result()

    assert on_b.created
    assert result["created"] is False
    assert Path(result["files"]).relative_to(shared.a) == Path(on_b.files).relative_to(shared.b)
    assert cache_b.verify().sound


def test_a_good_tree_the_other_host_trashes_and_restores_while_verify_reads_it_is_kept(
    shared: Hosts, tmp_path: Path
) -> None:
    """As tests/gc/test_gc_races.py's local case, with the prune on A and verify --repair on B."""
    cache_a = WheelCache(shared.a / "cache")
    added = cache_a.add(Source("tree"), rich_wheel(tmp_path / "wheels"))
    tree_a = Path(Trees(cache_a._store).unpacked(added).files).parent
    os.unlink(Layout(shared.a / "cache").pointer_file(Source("tree").digest))
    age(tree_a / "manifest.json", DAY)
    points = SyncPoints(tmp_path / "sync")
    points.arm("verify.tree-listed")
    points.arm("verify.tree-read")
    points.arm("prune.tree-trashed")
    op = {"op": "verify", "root": str(shared.b / "cache"), "repair": True}
    verifier = start(op, env=points.env)
    points.wait_reached("verify.tree-listed")
    pruner = start({"op": "prune", "root": str(shared.a / "cache"), "grace": HOUR}, env=points.env)
    points.wait_reached("prune.tree-trashed")
    (trashed,) = Layout(shared.a / "cache").trash.glob("tree-*")
    os.utime(trashed / "manifest.json")  # freshened by an install just before the rename
    points.release("verify.tree-listed")
    points.wait_reached("verify.tree-read")
    points.release("prune.tree-trashed")
    assert pruner.result()["kept_trees"] == 1
    points.release("verify.tree-read")

    verified = verifier.result()

    assert (verified["tree_problems"], verified["quarantined"]) == ([], [])
    assert read_manifest(tree_a) is not None
