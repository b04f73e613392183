"""Idle sources: a retired source unused for longer than grace + USE_INTERVAL frees its wheels now.

One test per clause of docs/design.md, "Idle sources": the wheels of an idle
source go in the prune that retires it; those named by another pointer, or
freshened within grace (published, found present, handed out by find()),
stay; a source used within grace + USE_INTERVAL is retired in two phases;
where a reader could not record its use, the shortcut does not apply. The
races between a hit recording its use and the retirement are played with
sync points in real processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import procs
from ondisk import DAY, HOUR, age, sha256_of
from wheelcache import Source, WheelCache
from wheelcache._cache import USE_INTERVAL
from wheelcache._gc.idle import uses_are_recorded
from wheelcache._layout import Layout
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from collections.abc import Iterator

    from procs import SyncPoints

KEY = "k"  # the key tests/worker.py looks up


def wheel_with_seed(tmp_path: Path, seed: int, payload_size: int = 0) -> Path:
    return make_wheel(tmp_path / f"w{seed}", "demo", "1.0", seed=seed, payload_size=payload_size)


def pointer_path(cache: WheelCache, source: Source) -> Path:
    return Layout(cache.root).pointer_file(source.digest)


def idle_source(cache: WheelCache, tmp_path: Path, seed: int, key: str = KEY) -> Path:
    """Add a wheel for *key*, last used and last freshened a day ago; the wheel's path."""
    source = Source(key, "", "demo")
    added = cache.add(source, wheel_with_seed(tmp_path, seed))
    age(added.path, DAY)
    age(pointer_path(cache, source), DAY)
    return added.path


def test_idle_source_is_retired_and_its_wheels_removed_in_the_same_prune(
    cache: WheelCache, tmp_path: Path
) -> None:
    wheel = idle_source(cache, tmp_path, 1)
    size = wheel.stat().st_size

    report = cache.prune(grace=HOUR, max_age=HOUR)

    assert report.retired_sources == (KEY,)
    assert (report.removed_entries, report.freed_bytes) == (1, size)
    assert not wheel.parent.exists()
    assert (report.waiting_entries, report.waiting_until) == (0, None)


def test_max_size_reaches_the_limit_in_one_run_when_the_least_recently_used_are_idle(
    cache: WheelCache, tmp_path: Path
) -> None:
    sizes = []
    for i in range(5):
        source = Source(f"s{i}", "", f"p{i}")
        added = cache.add(source, wheel_with_seed(tmp_path, i, payload_size=20_000))
        age(added.path, (6 - i) * HOUR)
        age(pointer_path(cache, source), (6 - i) * HOUR)  # s0 least recently used
        sizes.append(added.size)

    report = cache.prune(grace=HOUR, max_size=sizes[3] + sizes[4])

    assert report.retired_sources == ("s0", "s1", "s2")
    assert report.removed_entries == 3
    assert cache.stats().wheel_bytes == sizes[3] + sizes[4]
    assert report.waiting_bytes == 0


def test_wheel_of_an_idle_source_named_by_another_pointer_stays(
    cache: WheelCache, tmp_path: Path
) -> None:
    wheel = idle_source(cache, tmp_path, 1)
    other = Source("other", "", "demo")
    cache.add(other, wheel_with_seed(tmp_path, 1))  # the same bytes: the same entry
    age(wheel, DAY)

    report = cache.prune(grace=HOUR, max_age=HOUR)

    assert report.retired_sources == (KEY,)
    assert report.removed_entries == 0
    assert cache.get(other) is not None
    assert wheel.exists()


@pytest.mark.parametrize("event", ["published", "found present", "handed out by find"])
def test_wheel_of_an_idle_source_freshened_within_grace_stays_and_is_reported_waiting(
    cache: WheelCache, tmp_path: Path, event: str
) -> None:
    wheel = idle_source(cache, tmp_path, 1)
    if event == "published":
        os.utime(wheel, (time.time() - 60, time.time() - 60))
    elif event == "found present":
        cache.add(Source("throwaway"), wheel_with_seed(tmp_path, 1))
        os.unlink(pointer_path(cache, Source("throwaway")))
    else:
        assert cache.find(sha256_of(wheel)) is not None

    report = cache.prune(grace=HOUR, max_age=HOUR)

    assert report.retired_sources == (KEY,)
    assert report.removed_entries == 0
    assert wheel.exists()
    assert (report.waiting_entries, report.waiting_bytes) == (1, wheel.stat().st_size)
    assert report.waiting_until == pytest.approx(wheel.stat().st_mtime + HOUR, abs=2)


def test_source_used_within_grace_plus_use_interval_keeps_its_wheels_for_grace(
    cache: WheelCache, tmp_path: Path
) -> None:
    wheel = idle_source(cache, tmp_path, 1)
    age(pointer_path(cache, Source(KEY)), HOUR + USE_INTERVAL / 2)

    report = cache.prune(grace=HOUR, max_age=HOUR)

    assert report.retired_sources == (KEY,)
    assert report.removed_entries == 0
    assert wheel.exists()
    assert report.waiting_entries == 1
    assert report.waiting_until is not None
    assert report.waiting_until > time.time() + HOUR - 60


def test_dry_run_reports_the_idle_sources_wheels_as_removable(
    cache: WheelCache, tmp_path: Path
) -> None:
    wheel = idle_source(cache, tmp_path, 1)

    dry = cache.prune(grace=HOUR, max_age=HOUR, dry_run=True)

    assert (dry.retired_sources, dry.removed_entries) == ((KEY,), 1)
    assert wheel.exists()
    assert cache.prune(grace=HOUR, max_age=HOUR).removed_entries == 1


# -- who may record a use --------------------------------------------------------------


@contextlib.contextmanager
def open_directory() -> Iterator[Path]:
    """A directory anyone may pass through (tmp_path's parents let only their owner in)."""
    directory = Path(tempfile.mkdtemp(prefix="wheelcache-idle-"))
    try:
        directory.chmod(0o755)
        yield directory
    finally:
        shutil.rmtree(directory)


def test_a_pointer_others_may_read_but_not_touch_is_not_recorded(tmp_path: Path) -> None:
    with open_directory() as directory:
        pointer = directory / "p.json"
        pointer.write_text("{}")
        pointer.chmod(0o644)
        assert not uses_are_recorded(pointer, pointer.stat())
        pointer.chmod(0o666)
        assert uses_are_recorded(pointer, pointer.stat()), "whoever reads may also write"
        pointer.chmod(0o600)
        assert uses_are_recorded(pointer, pointer.stat()), "nobody else may read"
        pointer.chmod(0o644)
        directory.chmod(0o700)
        assert uses_are_recorded(pointer, pointer.stat()), "nobody else may reach it"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to run as another user"
)
def test_hit_by_a_user_who_may_not_record_it_keeps_the_idle_sources_wheels(
    tmp_path: Path,
) -> None:
    """A user who may read but not touch the pointer hits without recording: no shortcut."""
    import pwd

    nobody = pwd.getpwnam("nobody")
    with open_directory() as directory:
        cache = WheelCache(directory / "cache")
        wheel = idle_source(cache, tmp_path, 1)
        for path in [cache.root, *cache.root.rglob("*")]:
            if path.is_dir():
                path.chmod(path.stat().st_mode | 0o055)
        op = {"op": "get", "root": str(cache.root), "uid": nobody.pw_uid, "gid": nobody.pw_gid}

        assert procs.start(op).result()["path"] == str(wheel), "nobody's hit"
        assert time.time() - pointer_path(cache, Source(KEY)).stat().st_mtime > DAY - 60, (
            "the hit could not record its use"
        )
        report = cache.prune(grace=HOUR, max_age=HOUR)

        assert report.retired_sources == (KEY,)
        assert report.removed_entries == 0, "the wheel may have been handed out within grace"
        assert wheel.exists()


# -- races between a hit recording its use and the retirement -------------------------------


def paused(syncpoints: SyncPoints, point: str, op: dict[str, object]) -> procs.Child:
    """A child performing *op*, paused at *point*."""
    syncpoints.arm(point)
    child = procs.start(op, env=syncpoints.env)
    syncpoints.wait_reached(point)
    return child


def get_op(cache: WheelCache) -> dict[str, object]:
    return {"op": "get", "root": str(cache.root)}


def idle_prune_op(cache: WheelCache) -> dict[str, object]:
    return {"op": "prune_with", "root": str(cache.root), "grace": HOUR, "max_age": HOUR}


def test_hit_recording_its_use_after_an_idle_retirement_misses_instead_of_returning_a_deleted_path(
    cache: WheelCache, tmp_path: Path, syncpoints: SyncPoints
) -> None:
    wheel = idle_source(cache, tmp_path, 1)
    # It has read the pointer and found the wheel:
    getter = paused(syncpoints, "lookup.record-use", get_op(cache))

    report = cache.prune(grace=HOUR, max_age=HOUR)

    assert report.removed_entries == 1
    assert not wheel.exists()
    syncpoints.release("lookup.record-use")
    assert getter.result()["path"] is None, "a miss, never a path to a deleted wheel"


def test_hit_recording_its_use_between_the_scan_and_the_unlink_keeps_the_wheel(
    cache: WheelCache, tmp_path: Path, syncpoints: SyncPoints
) -> None:
    wheel = idle_source(cache, tmp_path, 1)
    # The pointer is judged unchanged since the scan:
    pruner = paused(syncpoints, "prune.retire-before-unlink", idle_prune_op(cache))

    hit = cache.get(Source(KEY, "", "demo"))  # records the use: the pointer's mtime moves

    assert hit is not None
    assert hit.path == wheel
    syncpoints.release("prune.retire-before-unlink")
    report = pruner.result()
    assert report["retired_sources"] == [KEY]
    assert report["removed_entries"] == 0, "the use was seen after the unlink"
    assert sha256_of(wheel) == hit.sha256
    assert time.time() - wheel.stat().st_mtime < 600, "freshened: a full grace from now"


def test_hit_that_recorded_its_use_just_before_the_unlink_keeps_the_wheel(
    cache: WheelCache, tmp_path: Path, syncpoints: SyncPoints
) -> None:
    """Prune checked the pointer; the hit recorded its use and returned; then the unlink."""
    wheel = idle_source(cache, tmp_path, 1)
    getter = paused(syncpoints, "lookup.record-use", get_op(cache))
    pruner = paused(syncpoints, "prune.retire-before-unlink", idle_prune_op(cache))

    syncpoints.release("lookup.record-use")
    assert getter.result()["path"] == str(wheel), "handed out through a still-linked pointer"
    syncpoints.release("prune.retire-before-unlink")

    report = pruner.result()
    assert report["retired_sources"] == [KEY]
    assert report["removed_entries"] == 0
    assert wheel.exists()
    assert stat.S_ISREG(wheel.stat().st_mode)


def test_no_source_is_idle_on_a_network_filesystem(
    cache: WheelCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """There prune's look at its open pointer may show a cached mtime: two phases always."""
    wheel = idle_source(cache, tmp_path, 1)
    monkeypatch.setenv("WHEELCACHE_NETWORK_FS", "1")

    report = cache.prune(grace=HOUR, max_age=HOUR)

    assert report.retired_sources == (KEY,)
    assert report.removed_entries == 0
    assert wheel.exists()
