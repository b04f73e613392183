"""Two prunes on two hosts at once: each finishes only what is its own, or nobody's.

The prune lock is a ``flock``, which excludes only within a host, so prunes
on host A and host B run at the same time. Every item in the trash belongs to
the prune that moved it there, which holds (and, on a network filesystem,
heart-beats) an owner lock of its own while it runs; another prune finishes
only items whose owner is over, and takes each over by a rename first
(:mod:`wheelcache._gc.trashrun`, docs/design.md "Network filesystems").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import procs
from ondisk import DAY, HOUR, age, sha256_of
from wheelcache import CachedWheel, Source, WheelCache
from wheelcache._layout import Layout
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from netfs.rig import Hosts
    from procs import SyncPoints

pytestmark = [pytest.mark.netfs, pytest.mark.timeout(300)]


def _unreferenced_old(root: Path, wheel: Path) -> Path:
    """Publish *wheel* on *root* with no pointer naming it, freshened a day ago; its path."""
    cache = WheelCache(root)
    source = Source(f"throwaway:{wheel.name}")
    added = cache.add(source, wheel)
    os.unlink(Layout(root).pointer_file(source.digest))
    age(added.path, DAY)
    return added.path


def _left_in_the_trash_by_a_killed_prune(root: Path, tmp_path: Path) -> CachedWheel:
    """A wanted entry (a pointer names it) in the trash, as a prune killed mid-sweep left it."""
    added = WheelCache(root).add(Source("wanted"), make_wheel(tmp_path, "demo", "1.0"))
    Layout(root).trash.mkdir()
    os.rename(Path(added.path).parent, Layout(root).trash / f"{added.sha256}.1-dead")
    return added


def _paused_prune(root: Path, syncpoints: SyncPoints, *points: str) -> procs.Child:
    for point in points:
        syncpoints.arm(point)
    pruner = procs.start({"op": "prune", "root": str(root), "grace": HOUR}, env=syncpoints.env)
    syncpoints.wait_reached(points[0])
    return pruner


def _trash(root: Path) -> list[str]:
    trash = Layout(root).trash
    return sorted(p.name for p in trash.iterdir()) if trash.exists() else []


def test_a_prune_never_touches_what_a_live_prune_on_the_other_host_put_in_the_trash(
    shared: Hosts, tmp_path: Path, syncpoints: SyncPoints
) -> None:
    """A is between its rename into the trash and its second look; B prunes meanwhile.

    The entry was freshened just before A's rename, so A will put it back. B
    must leave A's item alone (neither restore nor delete it): A's flock is
    invisible on B, its owner lock's heartbeat is not.
    """
    entry = _unreferenced_old(shared.a / "cache", make_wheel(tmp_path, "demo", "1.0"))
    pruner = _paused_prune(shared.a / "cache", syncpoints, "prune.after-trash")
    (trashed,) = _trash(shared.a / "cache")
    wheel = Layout(shared.a / "cache").trash / trashed / entry.name
    os.utime(wheel)  # a publisher's freshen, just before A's rename

    report = WheelCache(shared.b / "cache").prune(grace=0)

    assert (report.reclaimed_trash, report.restored_entries) == (0, 0)
    assert _trash(shared.a / "cache") == [trashed]
    syncpoints.release("prune.after-trash")
    assert pruner.result()["restored_entries"] == 1
    assert sha256_of(entry) == entry.parent.name
    assert _trash(shared.a / "cache") == []


@pytest.mark.parametrize(
    ("point", "finisher"), [("prune.before-adopt", "b"), ("prune.after-adopt", "a")]
)
def test_a_dead_prunes_leftover_is_finished_by_the_one_prune_that_took_it_over(
    shared: Hosts, tmp_path: Path, syncpoints: SyncPoints, point: str, finisher: str
) -> None:
    """Both hosts' prunes find a killed prune's leftover; one renames it to its own, once.

    A pauses just before its rename (B then takes the item, and A's rename
    finds nothing) or just after it (the item is A's: B leaves it alone).
    """
    root_a, root_b = shared.a / "cache", shared.b / "cache"
    added = _left_in_the_trash_by_a_killed_prune(root_a, tmp_path)
    pruner = _paused_prune(root_a, syncpoints, point)  # A has judged its run over

    on_b = WheelCache(root_b).prune(grace=HOUR)
    syncpoints.release(point)
    on_a = pruner.result()

    restored = {"a": on_a["restored_entries"], "b": on_b.restored_entries}
    assert restored == {host: int(host == finisher) for host in "ab"}
    assert on_a["reclaimed_trash"] + on_b.reclaimed_trash == 0
    assert sha256_of(Path(added.path)) == added.sha256
    assert _trash(root_a) == []


def test_a_killed_prunes_trash_waits_for_its_heartbeat_to_stop(
    shared: Hosts, tmp_path: Path, syncpoints: SyncPoints
) -> None:
    """What a prune killed on host A left is finished on host B once its owner stops beating."""
    root_a, root_b = shared.a / "cache", shared.b / "cache"
    added = WheelCache(root_a).add(Source("wanted"), make_wheel(tmp_path, "demo", "1.0"))
    age(Path(added.path), DAY)
    os.unlink(Layout(root_a).pointer_file(Source("wanted").digest))
    pruner = _paused_prune(root_a, syncpoints, "prune.after-trash")
    pruner.kill()  # between its rename into the trash and its second look
    assert len(_trash(root_a)) == 1

    first = WheelCache(root_b).prune(grace=HOUR)
    assert (first.reclaimed_trash, first.restored_entries) == (0, 0)  # beat recently
    for lock in (Layout(root_b).locks / "trash").iterdir():
        age(lock, DAY)
    second = WheelCache(root_b).prune(grace=HOUR)
    assert second.reclaimed_trash == 1
    assert _trash(root_a) == []
    assert list((Layout(root_a).locks / "trash").iterdir()) == []


def test_a_restore_that_finds_the_other_hosts_copy_in_place_keeps_that_copy(
    shared: Hosts, tmp_path: Path, syncpoints: SyncPoints
) -> None:
    """Renaming onto the other host's copy fails with EPERM over SFTP: the copy in place wins."""
    root_a, root_b = shared.a / "cache", shared.b / "cache"
    wheel = make_wheel(tmp_path, "demo", "1.0")
    entry = _unreferenced_old(root_a, wheel)
    pruner = _paused_prune(root_a, syncpoints, "prune.before-trash", "prune.after-trash")
    WheelCache(root_a).add(Source("first"), wheel)  # freshens the entry just before A's rename
    syncpoints.release("prune.before-trash")
    syncpoints.wait_reached("prune.after-trash")
    WheelCache(root_b).add(Source("second"), wheel)  # publishes anew on host B

    syncpoints.release("prune.after-trash")
    report = pruner.result()

    assert (report["removed_entries"], report["restored_entries"]) == (0, 0)
    assert sha256_of(entry) == entry.parent.name
    assert WheelCache(root_b).get(Source("second")) is not None
    assert _trash(root_a) == []
