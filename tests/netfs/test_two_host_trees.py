"""Unpacked trees shared by two hosts: one published tree, whoever renames first."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from installkit import rich_wheel
from procs import SyncPoints, start
from wheelcache import Source, WheelCache
from wheelcache._unpacked.trees import Trees

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
