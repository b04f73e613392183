"""Garbage collection, one test per promise: prune, clean and verify.

Ages are set with ``os.utime`` (never by sleeping), with margins of minutes or
hours so a busy machine cannot change an outcome. Every test looks at what is
on disk afterwards, not only at the report. The multi-process interleavings
live in test_gc_races.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from filelock import FileLock, Timeout

import procs
import wheelcache._cache
import wheelcache._fs.syncpoints
import wheelcache._gc.retire
import wheelcache._gc.verify
from ondisk import DAY, HOUR, age, flip_a_byte, is_fresh, named, pointer_path, sha256_of, snapshot
from wheelcache import (
    CachedWheel,
    CacheError,
    DanglingPointer,
    Source,
    WheelCache,
)
from wheelcache._cache import USE_INTERVAL
from wheelcache._gc.prune import DEFAULT_GRACE
from wheelcache._layout import Layout
from wheelcache._pointers import pointer as _pointer
from wheelcache._pointers import revision as _revision
from wheelfactory import wheel_with_seed

if TYPE_CHECKING:
    from procs import SyncPoints


# -- helpers ---------------------------------------------------------------------------


def layout(cache: WheelCache) -> Layout:
    return Layout(cache.root)


def unreferenced(cache: WheelCache, wheel: Path, *, aged: float) -> CachedWheel:
    """Publish *wheel* with no pointer naming it, last freshened *aged* seconds ago."""
    throwaway = Source(f"throwaway:{wheel}:{time.monotonic_ns()}")
    added = cache.add(throwaway, wheel)
    os.unlink(pointer_path(cache, throwaway))
    age(added.path, aged)
    return added


# -- grace -----------------------------------------------------------------------------


def test_default_grace_is_one_hour() -> None:
    assert DEFAULT_GRACE == HOUR


def test_unreferenced_entry_survives_until_grace_expires(cache: WheelCache, tmp_path: Path) -> None:
    young = unreferenced(cache, wheel_with_seed(tmp_path, 1), aged=HOUR - 300)
    old = unreferenced(cache, wheel_with_seed(tmp_path, 2), aged=HOUR + 300)

    report = cache.prune()  # the default grace: one hour

    assert young.path.read_bytes()
    assert not old.path.parent.exists()
    assert (report.removed_entries, report.freed_bytes) == (1, old.size)
    assert (report.kept_entries, report.kept_bytes) == (1, young.size)
    assert report.referenced_entries == 0
    assert list(layout(cache).trash.iterdir()) == []


def test_grace_is_measured_from_the_last_freshening(cache: WheelCache, tmp_path: Path) -> None:
    entry = unreferenced(cache, wheel_with_seed(tmp_path, 1), aged=10 * 60)

    assert cache.prune(grace=20 * 60).removed_entries == 0
    assert entry.path.exists()
    assert cache.prune(grace=5 * 60).removed_entries == 1
    assert not entry.path.parent.exists()


def test_referenced_entry_is_never_deleted(cache: WheelCache, source: Source, wheel: Path) -> None:
    added = cache.add(source, wheel)
    age(added.path, 10 * 365 * DAY)
    age(pointer_path(cache, source), 10 * 365 * DAY)

    report = cache.prune(grace=0)

    assert sha256_of(added.path) == added.sha256
    assert (report.removed_entries, report.referenced_entries) == (0, 1)
    assert report.referenced_bytes == added.size
    assert cache.get(source) == added


def test_entry_dropped_from_pointer_is_kept_for_grace_after_drop(
    cache: WheelCache, tmp_path: Path
) -> None:
    first = cache.add(Source("src", "rev-1"), wheel_with_seed(tmp_path, 1))
    age(first.path, 2 * HOUR)  # referenced for a long time, never freshened

    second = cache.add(Source("src", "rev-2"), wheel_with_seed(tmp_path, 2))

    assert named(cache, Source("src")) == {second.sha256}
    assert is_fresh(first.path), "dropping it from the pointer must freshen it"
    assert cache.prune(grace=HOUR).removed_entries == 0
    assert first.path.exists()

    age(first.path, HOUR + 300)  # a grace period after the drop
    report = cache.prune(grace=HOUR)
    assert report.removed_entries == 1
    assert not first.path.parent.exists()
    assert second.path.exists()


def test_reused_entry_is_freshened_by_publisher(cache: WheelCache, wheel: Path) -> None:
    entry = unreferenced(cache, wheel, aged=2 * HOUR)
    other = Source("other")

    again = cache.add(other, wheel)

    assert again == entry
    assert is_fresh(entry.path)
    os.unlink(pointer_path(cache, other))  # unreferenced again, freshened just now
    assert cache.prune(grace=HOUR).removed_entries == 0
    assert sha256_of(entry.path) == entry.sha256


def test_find_freshens_entry(cache: WheelCache, wheel: Path) -> None:
    entry = unreferenced(cache, wheel, aged=2 * HOUR)

    found = cache.find(entry.sha256)

    assert found == entry
    assert is_fresh(entry.path)
    assert cache.prune(grace=HOUR).removed_entries == 0
    assert entry.path.exists()


def test_find_of_an_absent_entry_is_a_miss_and_writes_nothing(cache: WheelCache) -> None:
    assert cache.find("0" * 64) is None
    assert not cache.root.exists()


def test_repeated_add_counts_as_a_use(cache: WheelCache, source: Source, wheel: Path) -> None:
    cache.add(source, wheel)
    age(pointer_path(cache, source), 30 * DAY)

    cache.add(source, wheel)

    assert is_fresh(pointer_path(cache, source))
    assert cache.prune(max_age=DAY).retired_sources == ()


# -- retiring: max_age and max_size ------------------------------------------------------


def test_max_age_retires_pointer_now_and_wheels_after_grace(
    cache: WheelCache, tmp_path: Path
) -> None:
    """A source used within grace + USE_INTERVAL is retired in two phases."""
    grace = 30 * DAY  # longer than max_age: the retired source is not idle
    stale, used = Source("stale", name="stale"), Source("used", name="used")
    stale_wheel = cache.add(stale, wheel_with_seed(tmp_path, 1))
    used_wheel = cache.add(used, wheel_with_seed(tmp_path, 2))
    for path in (stale_wheel.path, used_wheel.path, pointer_path(cache, stale)):
        age(path, 10 * DAY)
    age(pointer_path(cache, used), 1 * DAY)

    report = cache.prune(grace=grace, max_age=7 * DAY)

    assert report.retired_sources == ("stale",)
    assert not pointer_path(cache, stale).exists(), "phase one: the pointer goes now"
    assert cache.get(stale) is None
    assert sha256_of(stale_wheel.path) == stale_wheel.sha256, "its wheel stays for now"
    assert is_fresh(stale_wheel.path), "retiring freshens what the pointer named"
    assert report.removed_entries == 0
    assert (report.referenced_entries, report.kept_entries) == (1, 2)
    assert (report.waiting_entries, report.waiting_bytes) == (1, stale_wheel.size)
    assert cache.get(used) == used_wheel

    assert cache.prune(grace=grace, max_age=7 * DAY).removed_entries == 0
    assert stale_wheel.path.exists(), "still within grace of the retirement"

    age(stale_wheel.path, grace + 300)
    report = cache.prune(grace=grace, max_age=7 * DAY)
    assert report.removed_entries == 1, "phase two: the wheel goes after grace"
    assert not stale_wheel.path.parent.exists()
    assert cache.get(used) == used_wheel


def test_max_age_zero_grace_keeps_wheels_of_a_recently_used_source_until_the_next_prune(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    added = cache.add(source, wheel)
    age(pointer_path(cache, source), USE_INTERVAL / 2)  # used within zero grace + the interval
    age(added.path, DAY)

    report = cache.prune(grace=0, max_age=1)

    assert report.retired_sources == (source.key,)
    assert added.path.exists(), "even with zero grace, not in the prune that retired it"
    age(added.path, 60)  # any later prune, past its (zero) grace
    assert cache.prune(grace=0).removed_entries == 1
    assert not added.path.parent.exists()


def test_max_size_retires_least_recently_used_first(cache: WheelCache, tmp_path: Path) -> None:
    sources = [Source(f"s{i}", name=f"s{i}") for i in range(3)]
    added = [
        cache.add(s, wheel_with_seed(tmp_path, i, payload_size=20_000))
        for i, s in enumerate(sources)
    ]
    # s0 used 3 hours ago, s1 2 hours ago, s2 1 hour ago: s0 is least recently used.
    for i, s in enumerate(sources):
        age(pointer_path(cache, s), (3 - i) * HOUR)
    sizes = [w.size for w in added]

    report = cache.prune(grace=HOUR, max_size=sizes[1] + sizes[2])

    assert report.retired_sources == ("s0",)
    assert [pointer_path(cache, s).exists() for s in sources] == [False, True, True]
    assert all(w.path.exists() for w in added), "wheels go only after grace"
    assert report.referenced_bytes == sizes[1] + sizes[2]

    report = cache.prune(grace=HOUR, max_size=0)
    assert report.retired_sources == ("s1", "s2"), "oldest first"
    assert not any(pointer_path(cache, s).exists() for s in sources)


def test_max_size_counts_a_shared_wheel_once(
    cache: WheelCache, wheel: Path, tmp_path: Path
) -> None:
    first, second = Source("first"), Source("second")
    shared = cache.add(first, wheel)
    cache.add(second, wheel)
    age(pointer_path(cache, first), 2 * HOUR)

    report = cache.prune(max_size=shared.size)

    assert report.retired_sources == ()
    assert named(cache, first) == named(cache, second) == {shared.sha256}


def test_source_whose_writer_holds_its_pointer_lock_is_not_retired_and_prune_does_not_wait(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    added = cache.add(source, wheel)
    age(pointer_path(cache, source), 30 * DAY)
    lock = FileLock(layout(cache).pointer_lock(source.digest))
    lock.acquire(timeout=0)
    try:
        child = procs.start({"op": "prune_with", "root": str(cache.root), "max_age": 60.0})
        report = child.result()  # bounded: a prune that waited would miss the deadline
    finally:
        lock.release()

    assert report["retired_sources"] == []
    assert report["referenced_entries"] == 1
    assert named(cache, source) == {added.sha256}


def test_retiring_holds_the_pointer_lock_even_when_its_file_is_missing(
    cache: WheelCache, source: Source, wheel: Path, syncpoints: SyncPoints
) -> None:
    """With no lock file to probe, prune creates and takes it, so no writer can slip in."""
    cache.add(source, wheel)
    age(pointer_path(cache, source), 30 * DAY)
    lock = layout(cache).pointer_lock(source.digest)
    os.unlink(lock)
    syncpoints.arm("prune.retire-before-unlink")
    pruner = procs.start(
        {"op": "prune_with", "root": str(cache.root), "grace": HOUR, "max_age": DAY},
        env=syncpoints.env,
    )
    syncpoints.wait_reached("prune.retire-before-unlink")

    probe = FileLock(lock)
    with pytest.raises(Timeout):
        probe.acquire(timeout=0)
    syncpoints.release("prune.retire-before-unlink")
    assert pruner.result()["retired_sources"] == [source.key]


def test_negative_limits_are_rejected(cache: WheelCache) -> None:
    for kwargs in ({"grace": -1.0}, {"max_age": -1.0}, {"max_size": -1}):
        with pytest.raises(ValueError, match="negative"):
            cache.prune(**kwargs)


# -- dry run -------------------------------------------------------------------------------


def test_dry_run_changes_nothing(cache: WheelCache, tmp_path: Path) -> None:
    lay = layout(cache)
    stale = Source("stale", name="stale")
    stale_wheel = cache.add(stale, wheel_with_seed(tmp_path, 1))
    age(pointer_path(cache, stale), 30 * DAY)
    cache.add(Source("used"), wheel_with_seed(tmp_path, 2))
    unreferenced(cache, wheel_with_seed(tmp_path, 3), aged=2 * HOUR)
    leftover = unreferenced(cache, wheel_with_seed(tmp_path, 4), aged=2 * HOUR)
    wanted = unreferenced(cache, wheel_with_seed(tmp_path, 5), aged=60)
    lay.trash.mkdir()
    os.rename(leftover.path.parent, lay.trash / f"{leftover.sha256}.1-dead")
    os.rename(wanted.path.parent, lay.trash / f"{wanted.sha256}.1-dead")
    (lay.staging / "publish-1-dead").mkdir(parents=True)
    (lay.staging / "publish-1-dead" / "half.whl").write_bytes(b"x" * 100)
    (pointer_path(cache, stale).parent / f".{stale.digest}.1-dead.tmp").write_bytes(b"{}")
    before = snapshot(cache.root)

    dry = cache.prune(grace=HOUR, max_age=DAY, dry_run=True)

    assert snapshot(cache.root) == before
    assert dry.dry_run
    assert dry.retired_sources == ("stale",)
    assert (dry.removed_entries, dry.reclaimed_trash, dry.reclaimed_staging) == (1, 1, 2)
    assert dry.restored_entries == 1

    real = cache.prune(grace=HOUR, max_age=DAY)

    ignored = {"dry_run", "seconds"}
    assert {k: v for k, v in dataclasses.asdict(dry).items() if k not in ignored} == {
        k: v for k, v in dataclasses.asdict(real).items() if k not in ignored
    }
    assert snapshot(cache.root) != before
    assert stale_wheel.path.exists()
    assert wanted.path.exists()


# -- leftovers of dead processes -----------------------------------------------------------


def test_prune_reclaims_dead_staging_but_not_live(
    cache: WheelCache, tmp_path: Path, syncpoints: SyncPoints
) -> None:
    """One publisher is killed mid-publish, another is paused there, alive."""
    cache.add(Source("warm-up"), wheel_with_seed(tmp_path, 0))  # the cache exists
    dead_points = procs.SyncPoints(tmp_path / "dead-points")
    dead_points.arm("publish.staged")
    syncpoints.arm("publish.staged")
    root = str(cache.root)
    dead = procs.start(
        {"op": "add", "root": root, "key": "dead", "wheel": str(wheel_with_seed(tmp_path, 1))},
        env=dead_points.env,
    )
    live = procs.start(
        {"op": "add", "root": root, "key": "live", "wheel": str(wheel_with_seed(tmp_path, 2))},
        env=syncpoints.env,
    )
    dead_pid = dead_points.wait_reached("publish.staged")
    live_pid = syncpoints.wait_reached("publish.staged")
    dead.kill()
    staging = layout(cache).staging

    def owned_by(pid: int) -> list[str]:
        return sorted(p.name for p in staging.iterdir() if f"-{pid}-" in p.name)

    assert len(owned_by(dead_pid)) == 2  # its directory and its owner lock
    assert len(owned_by(live_pid)) == 2

    report = cache.prune(grace=HOUR)

    assert report.reclaimed_staging == 1
    assert report.freed_bytes > 0
    assert owned_by(dead_pid) == []
    assert len(owned_by(live_pid)) == 2
    syncpoints.release("publish.staged")
    result = live.result()
    assert sha256_of(Path(result["path"])) == result["sha256"]
    assert list(staging.iterdir()) == []


def test_pointer_temp_of_dead_writer_reclaimed(
    cache: WheelCache, tmp_path: Path, syncpoints: SyncPoints
) -> None:
    dead_source, live_source = Source("dead"), Source("live")
    cache.add(dead_source, wheel_with_seed(tmp_path, 1))
    cache.add(live_source, wheel_with_seed(tmp_path, 2))
    dead_temp = pointer_path(cache, dead_source).with_name(f".{dead_source.digest}.1-dead.tmp")
    dead_temp.write_bytes(b'{"half": ')
    syncpoints.arm("pointer.before-replace")
    writer = procs.start(
        {
            "op": "add",
            "root": str(cache.root),
            "key": "live",
            "freshness": "rev-2",
            "wheel": str(wheel_with_seed(tmp_path, 3)),
        },
        env=syncpoints.env,
    )
    syncpoints.wait_reached("pointer.before-replace")  # it holds the pointer lock
    live_temp = pointer_path(cache, live_source).with_name(f".{live_source.digest}.2-live.tmp")
    live_temp.write_bytes(b'{"being": "written"}')

    report = cache.prune(grace=HOUR)

    assert report.reclaimed_staging == 1
    assert not dead_temp.exists()
    assert live_temp.exists(), "its writer still holds the source's pointer lock"
    syncpoints.release("pointer.before-replace")
    writer.result()
    assert cache.prune(grace=HOUR).reclaimed_staging == 1  # now nobody holds the lock
    assert not live_temp.exists()
    assert cache.get(Source("live", "rev-2")) is not None


def test_trash_leftovers_are_restored_if_wanted_else_deleted(
    cache: WheelCache, tmp_path: Path
) -> None:
    """What a killed prune left in the trash is finished by the next prune."""
    lay = layout(cache)
    referenced_source = Source("referenced")
    referenced = cache.add(referenced_source, wheel_with_seed(tmp_path, 1))
    lay.trash.mkdir()
    age(referenced.path, DAY)
    fresh = unreferenced(cache, wheel_with_seed(tmp_path, 2), aged=60)
    old = unreferenced(cache, wheel_with_seed(tmp_path, 3), aged=DAY)
    for entry in (referenced, fresh, old):
        os.rename(entry.path.parent, lay.trash / f"{entry.sha256}.1-dead")
    clean_leftover = lay.trash / "clean-wheels-v1.1-dead" / "aa"
    clean_leftover.mkdir(parents=True)

    report = cache.prune(grace=HOUR)

    assert (report.restored_entries, report.reclaimed_trash) == (2, 2)
    assert sha256_of(referenced.path) == referenced.sha256
    assert cache.get(referenced_source) == referenced
    assert sha256_of(fresh.path) == fresh.sha256
    assert not old.path.parent.exists()
    assert list(lay.trash.iterdir()) == []


def test_emptied_entry_in_the_trash_is_deleted_not_restored(
    cache: WheelCache, source: Source, tmp_path: Path
) -> None:
    """A prune killed between unlinking a trashed wheel and removing its directory.

    The directory's mtime is fresh (the unlink just changed it) and a pointer
    names the digest, yet an empty entry must never come back.
    """
    added = cache.add(source, wheel_with_seed(tmp_path, 1))
    lay = layout(cache)
    lay.trash.mkdir()
    trashed = lay.trash / f"{added.sha256}.1-dead"
    os.rename(added.path.parent, trashed)
    os.unlink(trashed / added.filename)

    report = cache.prune(grace=HOUR)

    assert (report.restored_entries, report.reclaimed_trash) == (0, 1)
    assert not added.path.parent.exists()
    assert list(lay.trash.iterdir()) == []
    assert cache.get(source) is None
    assert cache.add(source, wheel_with_seed(tmp_path, 1)) == added  # and add() heals it


def test_an_entry_prune_cannot_move_does_not_stop_it(
    cache: WheelCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root ignores directory permissions, so the refusal is injected."""
    stuck = unreferenced(cache, wheel_with_seed(tmp_path, 1), aged=DAY)
    locked = unreferenced(cache, wheel_with_seed(tmp_path, 2), aged=DAY)
    other = unreferenced(cache, wheel_with_seed(tmp_path, 3), aged=DAY)
    real_rename = os.rename
    refused = set()

    def rename(src: Any, dst: Any) -> None:
        if Path(src) == stuck.path.parent:
            raise PermissionError(13, "Permission denied", str(src))
        if Path(src) == locked.path.parent and src not in refused:
            refused.add(src)  # a directory without write permission: refused once
            raise PermissionError(13, "Permission denied", str(src))
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    report = cache.prune(grace=HOUR)
    monkeypatch.undo()

    assert report.removed_entries == 2
    assert stuck.path.exists(), "left in place, with a warning"
    assert not locked.path.parent.exists(), "made writable and moved on the second try"
    assert not other.path.parent.exists()


def test_new_owner_lock_without_a_directory_is_not_probed_within_grace(
    cache: WheelCache, wheel: Path
) -> None:
    """A publisher creates its owner lock an instant before locking it: leave it be.

    Probing it in that instant would make the publisher's own lock attempt
    fail. A dead one is reclaimed once it is older than the grace (at most a
    minute), and at once with zero grace.
    """
    cache.add(Source("warm-up"), wheel)
    young = layout(cache).staging / "publish-1-young.lock"
    young.touch()

    assert cache.prune(grace=HOUR).reclaimed_staging == 0
    assert young.exists()
    age(young, 120)
    assert cache.prune(grace=HOUR).reclaimed_staging == 1, "at most a minute, whatever the grace"
    assert not young.exists()
    young.touch()
    assert cache.prune(grace=0).reclaimed_staging == 1
    assert not young.exists()


def test_orphan_lock_files_are_removed_with_their_source(cache: WheelCache, tmp_path: Path) -> None:
    kept, retired = Source("kept"), Source("retired")
    cache.add(kept, wheel_with_seed(tmp_path, 1))
    cache.add(retired, wheel_with_seed(tmp_path, 2))
    age(pointer_path(cache, retired), 30 * DAY)
    lay = layout(cache)

    cache.prune(max_age=DAY)

    assert lay.pointer_lock(kept.digest).exists()
    assert not lay.pointer_lock(retired.digest).exists()


def test_prune_of_a_missing_cache_creates_nothing(tmp_path: Path) -> None:
    cache = WheelCache(tmp_path / "nowhere")
    report = cache.prune(grace=0, max_age=0, max_size=0)
    assert (report.removed_entries, report.kept_entries, report.retired_sources) == (0, 0, ())
    assert not cache.root.exists()


def test_prune_deletes_nothing_when_a_pointer_cannot_be_read(
    cache: WheelCache, source: Source, wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unread pointer may name any entry, so prune stops before deleting anything.

    The tests run as root, where permissions do not stop reads, so the
    failure is injected.
    """
    added = cache.add(source, wheel)
    age(added.path, DAY)
    other = unreferenced(cache, wheel_with_seed(tmp_path, 9), aged=DAY)

    def refuse(path: object, *args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(wheelcache._gc.retire, "read_settled", refuse)
    with pytest.raises(CacheError, match="deleted nothing"):
        cache.prune(grace=0)

    assert added.path.exists()
    assert other.path.exists()
    monkeypatch.undo()
    assert cache.prune(grace=0).removed_entries == 1
    assert added.path.exists()


# -- newer formats -------------------------------------------------------------------------


def test_newer_format_pointer_protects_its_entries(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    added = cache.add(source, wheel)
    pointer = pointer_path(cache, source)
    document = json.loads(pointer.read_bytes())
    document["version"] = 2
    document["wheels"] = [{"sha256": added.sha256, "location": "somewhere-new"}]
    pointer.write_text(json.dumps(document))
    age(pointer, 2 * USE_INTERVAL)
    age(added.path, 10 * 365 * DAY)

    report = cache.prune(grace=0)

    assert sha256_of(added.path) == added.sha256
    assert (report.removed_entries, report.referenced_entries) == (0, 1)
    assert cache.get(source) is None, "a newer pointer is a miss for this version"
    checked = cache.verify(repair=True)
    assert checked.sound
    assert pointer.exists(), "verify must not quarantine a newer wheelcache's pointer"


def test_verify_leaves_an_empty_newer_format_pointer_alone(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    cache.add(source, wheel)
    pointer = pointer_path(cache, source)
    pointer.write_text(json.dumps({"wheelcache": "source-pointer", "version": 7, "revs": []}))

    report = cache.verify(repair=True)

    assert report.unreadable_pointers == ()
    assert pointer.exists()


# -- verify ----------------------------------------------------------------------------------


def test_verify_finds_and_repairs_flipped_byte(cache: WheelCache, tmp_path: Path) -> None:
    damaged_source, sound_source = Source("damaged"), Source("sound")
    damaged = cache.add(damaged_source, wheel_with_seed(tmp_path, 1))
    sound = cache.add(sound_source, wheel_with_seed(tmp_path, 2))
    flip_a_byte(damaged.path)
    flipped = damaged.path.read_bytes()

    report = cache.verify()

    assert not report.sound
    assert [(c.sha256, c.path) for c in report.corrupt] == [(damaged.sha256, damaged.path.parent)]
    assert "hashes to" in report.corrupt[0].problem
    assert report.corrupt[0].sources == ("damaged",), "a pointer naming it says so"
    assert report.dangling == (), "reported once: as corrupt, not also as missing"
    assert (report.entries_checked, report.repaired, report.quarantined) == (2, False, ())
    assert damaged.path.read_bytes() == flipped, "without repair nothing changes"

    repaired = cache.verify(repair=True)

    assert repaired.repaired
    assert not damaged.path.parent.exists()
    quarantined = [q for q in repaired.quarantined if q.name.startswith(damaged.sha256)]
    assert len(quarantined) == 1
    assert (quarantined[0] / damaged.filename).read_bytes() == flipped, "moved, not deleted"
    assert repaired.mended_pointers == 1
    assert named(cache, damaged_source) == set()
    assert cache.get(damaged_source) is None
    assert cache.get(sound_source) == sound
    assert cache.verify().sound


def test_verify_lists_each_corrupt_entry_once(cache: WheelCache, tmp_path: Path) -> None:
    flipped = cache.add(Source("a"), wheel_with_seed(tmp_path, 1))
    cache.add(Source("b"), wheel_with_seed(tmp_path, 1))  # a second pointer names it
    doubled = cache.add(Source("c"), wheel_with_seed(tmp_path, 2))
    flip_a_byte(flipped.path)
    os.chmod(doubled.path.parent, 0o755)
    (doubled.path.parent / "extra-1.0-py3-none-any.whl").write_bytes(b"x")

    report = cache.verify()

    assert sorted((c.sha256, c.sources) for c in report.corrupt) == sorted(
        [(flipped.sha256, ("a", "b")), (doubled.sha256, ("c",))]
    )
    assert report.dangling == ()


def test_verify_reports_dangling_pointer(cache: WheelCache, source: Source, wheel: Path) -> None:
    added = cache.add(source, wheel)
    os.chmod(added.path.parent, 0o755)
    os.unlink(added.path)
    os.rmdir(added.path.parent)

    report = cache.verify()

    assert report.corrupt == ()
    assert report.dangling == (
        DanglingPointer(source.key, pointer_path(cache, source), (added.sha256,)),
    )
    assert pointer_path(cache, source).exists()

    repaired = cache.verify(repair=True)
    assert repaired.mended_pointers == 1
    assert not pointer_path(cache, source).exists(), "no wheel left: the pointer goes"
    assert cache.verify().sound


def test_verify_quarantines_an_unreadable_pointer(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    cache.add(source, wheel)
    pointer = pointer_path(cache, source)
    pointer.write_bytes(b"{not json")

    assert cache.verify().unreadable_pointers == (pointer,)
    repaired = cache.verify(repair=True)

    assert not pointer.exists()
    assert [q.read_bytes() for q in repaired.quarantined] == [b"{not json"]
    assert cache.verify().sound


def test_verify_repair_leaves_a_pointer_rewritten_since_it_was_read(
    cache: WheelCache, source: Source, wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verify reads an unreadable pointer; a writer replaces it before the repair."""
    cache.add(source, wheel)
    pointer = pointer_path(cache, source)
    pointer.write_bytes(b"{not json")
    writer = WheelCache(cache.root)
    real_decode = _pointer.decode

    def decode_then_rewrite(data: bytes) -> object:
        found = real_decode(data)
        if data == b"{not json":
            writer.add(source, wheel)  # rewrites the pointer, under its lock
        return found

    monkeypatch.setattr(wheelcache._gc.verify, "decode", decode_then_rewrite)
    report = cache.verify(repair=True)

    assert report.unreadable_pointers == (pointer,)
    assert report.quarantined == ()
    assert named(cache, source) == {sha256_of(wheel)}


def test_verify_reports_a_pointer_it_cannot_read(
    cache: WheelCache, source: Source, wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pointer that exists but cannot be read (permissions, injected: we run as root)."""
    cache.add(source, wheel)
    pointer = pointer_path(cache, source)
    real_read_bytes = _pointer.read_bytes

    def unreadable(path: object, **options: Any) -> Any:
        return None if Path(str(path)) == pointer else real_read_bytes(str(path))

    monkeypatch.setattr(wheelcache._gc.verify, "read_bytes", unreadable)
    monkeypatch.setattr(wheelcache._gc.verify, "read_present", unreadable)

    report = cache.verify()
    assert report.unreadable_pointers == (pointer,)
    assert not report.sound
    repaired = cache.verify(repair=True)
    assert not pointer.exists()
    assert len(repaired.quarantined) == 1
    assert repaired.quarantined[0].read_bytes().startswith(b"{"), "moved aside, not deleted"


def test_verify_of_a_sound_cache(cache: WheelCache, source: Source, wheel: Path) -> None:
    added = cache.add(source, wheel)
    report = cache.verify()
    assert report.sound
    assert (report.entries_checked, report.bytes_checked) == (1, added.size)
    assert (report.corrupt, report.dangling, report.unreadable_pointers) == ((), (), ())


def test_verify_repair_keeps_a_wheel_published_again_meanwhile(
    cache: WheelCache, source: Source, wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verify decides a wheel is missing; before it mends the pointer, a writer re-adds it."""
    added = cache.add(source, wheel)
    os.chmod(added.path.parent, 0o755)
    os.unlink(added.path)
    os.rmdir(added.path.parent)
    real_drop = _revision.drop_wheels

    def readd_then_drop(*args: Any, **kwargs: Any) -> bool:
        WheelCache(cache.root).add(source, wheel)
        return real_drop(*args, **kwargs)

    monkeypatch.setattr(wheelcache._gc.verify, "drop_wheels", readd_then_drop)
    cache.verify(repair=True)

    assert named(cache, source) == {added.sha256}
    assert cache.get(source) == added


@pytest.mark.parametrize("by_descriptor", [True, False], ids=["descriptor", "path"])
@pytest.mark.parametrize("meanwhile", ["pruned", "pruned and published again"])
def test_verify_judges_only_the_directory_at_an_entrys_place(
    cache: WheelCache,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    by_descriptor: bool,
    meanwhile: str,
) -> None:
    """Prune takes the entry between verify's opening of its directory and the reading.

    Through a descriptor (POSIX) verify reads the emptied directory in the
    trash; by path (Windows) it finds nothing or the new copy. Either way
    nothing corrupt was ever at the entry's place, and a copy published
    again is checked. (tests/test_gc_races.py does this with real processes.)
    """
    wheel = wheel_with_seed(tmp_path, 1)
    added = cache.add(Source("gone"), wheel)
    os.unlink(layout(cache).pointer_file(Source("gone").digest))
    age(added.path, DAY)
    monkeypatch.setattr(wheelcache._gc.verify, "_BY_DESCRIPTOR", by_descriptor)
    real_reach = wheelcache._fs.syncpoints.reach
    interleaved: list[str] = []

    def prune_between(name: str) -> None:
        if name == "verify.opened" and not interleaved:
            interleaved.append(name)
            assert cache.prune(grace=HOUR).removed_entries == 1
            if meanwhile == "pruned and published again":
                assert cache.add(Source("again"), wheel) == added
        real_reach(name)

    monkeypatch.setattr(wheelcache._fs.syncpoints, "reach", prune_between)
    report = cache.verify()

    assert interleaved
    assert report.corrupt == ()
    assert report.entries_checked == (1 if meanwhile == "pruned and published again" else 0)


# -- clean -----------------------------------------------------------------------------------


def test_clean_empties_cache(cache: WheelCache, tmp_path: Path) -> None:
    added = [cache.add(Source(f"s{i}"), wheel_with_seed(tmp_path, i)) for i in range(3)]
    flip_a_byte(added[0].path)
    cache.verify(repair=True)  # something in the quarantine too
    lay = layout(cache)

    cache.clean()

    assert list(cache.wheels()) == []
    assert list(cache.sources()) == []
    assert all(cache.get(Source(f"s{i}")) is None for i in range(3))
    assert cache.find(added[1].sha256) is None
    for bucket in (lay.wheels, lay.pointers, lay.quarantine, lay.trash):
        assert not bucket.exists() or list(bucket.iterdir()) == []
    again = cache.add(Source("s1"), wheel_with_seed(tmp_path, 1))
    assert cache.get(Source("s1")) == again


def test_clean_of_a_missing_cache_creates_nothing(tmp_path: Path) -> None:
    cache = WheelCache(tmp_path / "nowhere")
    cache.clean()
    assert not cache.root.exists()


def test_prune_empties_quarantine_items_moved_aside_longer_than_grace_ago(
    cache: WheelCache, tmp_path: Path
) -> None:
    quarantine = layout(cache).quarantine
    quarantine.mkdir(parents=True)
    old, new = quarantine / "old-entry", quarantine / "pointer-new.json"
    old.mkdir()
    (old / "x.whl").write_bytes(b"x" * 100)
    new.write_bytes(b"{")
    cache.add(Source("s"), wheel_with_seed(tmp_path, 1))

    assert cache.prune(grace=DAY).removed_quarantine == 0, "moved aside within grace"
    report = cache.prune(grace=0)

    assert report.removed_quarantine == 2
    assert not any(quarantine.iterdir())


def test_remove_deletes_only_what_the_removed_sources_named(
    cache: WheelCache, tmp_path: Path
) -> None:
    removed = cache.add(Source("/p/gone", name="Gone_Project"), wheel_with_seed(tmp_path, 1))
    age(removed.path, DAY)
    age(pointer_path(cache, Source("/p/gone")), DAY)
    stray = unreferenced(cache, wheel_with_seed(tmp_path, 2), aged=DAY)

    report = cache.remove("gone-project")

    assert report.retired_sources == ("/p/gone",)
    assert report.removed_entries == 1
    assert not removed.path.exists()
    assert stray.path.exists(), "prune's business, not remove's"
    assert cache.remove("gone-project").retired_sources == (), "nothing matches any more"
