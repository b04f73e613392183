"""Verify on one host while a prune on the other empties the entries it reads."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from ondisk import DAY, HOUR, age, pointer_path
from procs import SyncPoints, start
from wheelcache import Source, WheelCache
from wheelfactory import wheel_with_seed

if TYPE_CHECKING:
    from pathlib import Path

    from netfs.rig import Hosts

pytestmark = [pytest.mark.netfs, pytest.mark.timeout(300)]


def test_verify_reports_no_entry_the_other_host_pruned_and_published_again_while_it_read_it(
    shared: Hosts, tmp_path: Path
) -> None:
    """Host A's verify has the entry's directory open; host B prunes it and publishes it again.

    Host A then reads the emptied directory ("holds no wheel"), and the
    directory now at the entry's place has the number the old one had:
    sshfs numbers inodes by path, so verify cannot tell them apart by
    identity as on a local disk (tests/gc/test_gc_races.py). No corrupt
    entry may be reported all the same.
    """
    cache_b = WheelCache(shared.b / "cache")
    wheel = wheel_with_seed(tmp_path, 1)
    throwaway = Source("throwaway")
    added = cache_b.add(throwaway, wheel)
    os.unlink(pointer_path(cache_b, throwaway))
    age(added.path, DAY)
    points = SyncPoints(tmp_path / "sync")
    points.arm("verify.opened")
    verifier = start({"op": "verify", "root": str(shared.a / "cache")}, env=points.env)
    points.wait_reached("verify.opened")  # host A has the entry's directory open

    assert cache_b.prune(grace=HOUR).removed_entries == 1
    assert cache_b.add(Source("again"), wheel).path == added.path
    points.release("verify.opened")

    verified = verifier.result()
    assert verified["problems"] == []
    assert verified["checked"] == 1
