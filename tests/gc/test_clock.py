"""A forward clock jump does not let prune delete what it just handed out (issue 12, item 10).

The jump is simulated on disk: the prune stamp records the boot id and the
boot clock of the previous prune, and its mtime says when that prune ran by
the filesystem's clock. Setting that mtime two hours back while the boot
clock says no time passed is exactly what a prune sees after the wall clock
jumped two hours forward.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING

import pytest

from ondisk import HOUR, age
from wheelcache import Source, WheelCache
from wheelcache._gc.clock import JUMP_TOLERANCE

if TYPE_CHECKING:
    from pathlib import Path

BOOT_ID = "/proc/sys/kernel/random/boot_id"

pytestmark = pytest.mark.skipif(
    not hasattr(time, "CLOCK_BOOTTIME") or not os.path.exists(BOOT_ID),
    reason="jump detection needs a boot clock (CLOCK_BOOTTIME) and a boot id (Linux)",
)


def uptime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def boot_id() -> str:
    with open(BOOT_ID, encoding="ascii") as handle:
        return handle.read().strip()


def previous_prune(cache: WheelCache, *, wall_ago: float, real_ago: float, **extra: object) -> None:
    """Make the stamp say: the last prune ran *wall_ago* s ago by the clock, *real_ago* s really."""
    stamp = cache.root / "locks-v1" / "prune.stamp"
    stamp.write_text(json.dumps({"boot": boot_id(), "uptime": uptime() - real_ago, **extra}))
    age(stamp, wall_ago)


def unreferenced_entry(cache: WheelCache, wheel: Path, *, freshened_ago: float) -> Path:
    """An entry no pointer names, freshened *freshened_ago* seconds ago by the clock."""
    added = cache.add(Source("gone"), wheel)
    cache._layout.pointer_file(Source("gone").digest).unlink()
    age(added.path, freshened_ago)
    return added.path


def test_prune_deletes_nothing_after_a_forward_jump_of_the_clock(
    cache: WheelCache, wheel: Path
) -> None:
    path = unreferenced_entry(cache, wheel, freshened_ago=2 * HOUR)  # handed out just before
    previous_prune(cache, wall_ago=2 * HOUR, real_ago=0)  # ... the clock jumped 2 h ahead

    report = cache.prune(grace=HOUR)

    assert report.removed_entries == 0
    assert not report.trusted_clock
    assert report.clock_jump > 2 * HOUR - JUMP_TOLERANCE
    assert path.exists()
    again = cache.prune(grace=HOUR)  # less than a grace period of real time since the jump
    assert again.removed_entries == 0
    assert not again.trusted_clock
    assert path.exists()


def test_prune_trusts_the_clock_again_a_grace_period_after_the_jump(
    cache: WheelCache, wheel: Path
) -> None:
    path = unreferenced_entry(cache, wheel, freshened_ago=3 * HOUR)
    previous_prune(cache, wall_ago=60, real_ago=60, jumped_at=uptime() - HOUR - 1)

    report = cache.prune(grace=HOUR)

    assert report.trusted_clock
    assert report.removed_entries == 1
    assert not path.exists()


def test_prune_after_an_ordinary_interval_trusts_the_clock(cache: WheelCache, wheel: Path) -> None:
    path = unreferenced_entry(cache, wheel, freshened_ago=3 * HOUR)
    previous_prune(cache, wall_ago=2 * HOUR, real_ago=2 * HOUR)  # time simply passed

    report = cache.prune(grace=HOUR)

    assert report.trusted_clock
    assert report.clock_jump == 0.0
    assert report.removed_entries == 1
    assert not path.exists()


def test_a_jump_stops_retirement_by_age(cache: WheelCache, source: Source, wheel: Path) -> None:
    cache.add(source, wheel)
    age(cache._layout.pointer_file(source.digest), 2 * HOUR)
    previous_prune(cache, wall_ago=2 * HOUR, real_ago=0)

    report = cache.prune(grace=HOUR, max_age=HOUR)

    assert report.retired_sources == ()
    assert cache.get(source) is not None
