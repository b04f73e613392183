"""Garbage collection against real concurrent processes, in chosen interleavings.

Each test pauses one child at a named sync point (wheelcache._fs.syncpoints),
lets another process act, then releases it, so the interleaving is the same
on every run however busy the machine. Every wait is bounded by
procs.DEADLINE, and the autouse fixture in conftest.py reaps every child.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import procs
import wheelcache._wheel
from ondisk import DAY, HOUR, age, named, pointer_path, sha256_of
from wheelcache import CachedWheel, Source, WheelCache
from wheelcache._layout import Layout
from wheelcache._unpacked.trees import Trees, read_manifest
from wheelfactory import make_wheel, wheel_with_seed

if TYPE_CHECKING:
    from procs import SyncPoints


def unreferenced_old(cache: WheelCache, wheel: Path) -> Path:
    """Publish *wheel* with no pointer naming it, last freshened a day ago; its path."""
    throwaway = Source(f"throwaway:{wheel}")
    added = cache.add(throwaway, wheel)
    os.unlink(pointer_path(cache, throwaway))
    age(added.path, DAY)
    return added.path


def paused_prune(
    cache: WheelCache, syncpoints: SyncPoints, *points: str, **limits: float
) -> procs.Child:
    """A prune (grace HOUR, and any *limits*) in a child, paused at the first of *points*.

    Every one of *points* is armed, so the child pauses again at each later one.
    """
    for point in points:
        syncpoints.arm(point)
    op = {"op": "prune_with" if limits else "prune", "root": str(cache.root), "grace": HOUR}
    pruner = procs.start({**op, **limits}, env=syncpoints.env)
    syncpoints.wait_reached(points[0])
    return pruner


def add_op(root: Path, key: str, wheel: Path, freshness: str = "") -> dict[str, Any]:
    return {"op": "add", "root": str(root), "key": key, "freshness": freshness, "wheel": str(wheel)}


# -- a prune between a publisher's steps --------------------------------------------------


def test_prune_between_publish_and_pointer_update_keeps_the_added_wheel(
    tmp_path: Path, cache: WheelCache, syncpoints: SyncPoints
) -> None:
    """Zero grace lets the prune delete the entry before any pointer names it.

    The publisher notices, after writing its pointer, that the entry is gone,
    and publishes it again: add() returns a path that exists and the pointer
    names it.
    """
    wheel = wheel_with_seed(tmp_path, 1)
    digest = sha256_of(wheel)
    cache.add(Source("warm-up"), wheel_with_seed(tmp_path, 0))
    syncpoints.arm("publish.after-rename")
    adder = procs.start(add_op(cache.root, "new", wheel), env=syncpoints.env)
    syncpoints.wait_reached("publish.after-rename")
    entry = Layout(cache.root).entry_file(digest, wheel.name)
    age(entry, 60)  # published a minute ago by the filesystem's clock: past zero grace

    report = cache.prune(grace=0)

    assert report.removed_entries == 1
    assert not entry.exists()
    syncpoints.release("publish.after-rename")
    result = adder.result()
    assert Path(result["path"]) == entry
    assert sha256_of(entry) == digest
    assert named(cache, Source("new")) == {digest}


def test_prune_racing_a_publisher_that_finds_the_entry_present_restores_it(
    tmp_path: Path, cache: WheelCache, syncpoints: SyncPoints
) -> None:
    """The prune has decided to delete; then a publisher re-uses and freshens the entry.

    Prune renames the entry into the trash, sees the fresh time and puts it
    back. Observed window, asserted below: between that rename and the
    restore, the entry is absent from its place, so the path the publisher's
    add() already returned cannot be opened and a get() through the new
    pointer is a miss (a miss, never an error, never part of an entry). The
    window is two renames and a stat long; this test stretches it by pausing
    the prune inside it. Readers that had already opened the file are
    unaffected.
    """
    wheel = wheel_with_seed(tmp_path, 1)
    entry = unreferenced_old(cache, wheel)
    # Paused once it has judged the entry old:
    pruner = paused_prune(cache, syncpoints, "prune.before-trash", "prune.after-trash")

    published = procs.start(add_op(cache.root, "publisher", wheel)).result()

    assert Path(published["path"]) == entry
    assert entry.stat().st_mtime > time.time() - 60, "the publisher freshened it"
    syncpoints.release("prune.before-trash")
    syncpoints.wait_reached("prune.after-trash")
    # The window: moved to the trash, not yet restored.
    assert not entry.parent.exists()
    assert cache.get(Source("publisher")) is None
    syncpoints.release("prune.after-trash")
    report = pruner.result()

    assert (report["restored_entries"], report["removed_entries"]) == (1, 0)
    assert sha256_of(entry) == published["sha256"]
    assert named(cache, Source("publisher")) == {published["sha256"]}
    assert cache.get(Source("publisher")) is not None
    assert list(Layout(cache.root).trash.iterdir()) == []


def test_cached_wheel_open_rides_through_the_restore_window(
    tmp_path: Path, cache: WheelCache, syncpoints: SyncPoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window above, observed through get(), and CachedWheel.open() riding through it."""
    wheel = wheel_with_seed(tmp_path, 1)
    entry = unreferenced_old(cache, wheel)
    pruner = paused_prune(cache, syncpoints, "prune.before-trash", "prune.after-trash")
    procs.start(add_op(cache.root, "publisher", wheel)).result()
    hit = cache.get(Source("publisher"))
    assert hit is not None
    assert hit.path == entry
    syncpoints.release("prune.before-trash")
    syncpoints.wait_reached("prune.after-trash")
    assert not hit.path.exists()  # the path get() handed out is missing: the window

    missed = threading.Event()

    def pause(seconds: float) -> None:
        missed.set()
        time.sleep(seconds)

    monkeypatch.setattr(wheelcache._wheel, "_pause", pause)
    read: dict[str, bytes] = {}

    def reader() -> None:
        with hit.open(retry_seconds=procs.DEADLINE) as handle:
            read["data"] = handle.read()

    thread = threading.Thread(target=reader)
    thread.start()
    assert missed.wait(procs.DEADLINE), "open() never met the missing file"
    syncpoints.release("prune.after-trash")
    thread.join(procs.DEADLINE)

    assert read["data"] == wheel.read_bytes()
    assert pruner.result()["restored_entries"] == 1


def test_cached_wheel_open_gives_up_on_a_file_that_stays_missing(tmp_path: Path) -> None:
    gone = CachedWheel(tmp_path / "demo-1.0-py3-none-any.whl", "0" * 64, 1)

    with pytest.raises(FileNotFoundError):
        gone.open(retry_seconds=0.01)


def test_publisher_arriving_after_the_prunes_rename_publishes_its_own_copy(
    tmp_path: Path, cache: WheelCache, syncpoints: SyncPoints
) -> None:
    wheel = wheel_with_seed(tmp_path, 1)
    entry = unreferenced_old(cache, wheel)
    pruner = paused_prune(cache, syncpoints, "prune.after-trash")
    assert not entry.parent.exists()

    published = procs.start(add_op(cache.root, "publisher", wheel)).result()
    syncpoints.release("prune.after-trash")
    report = pruner.result()

    assert report["removed_entries"] == 1  # its own, old copy in the trash
    assert Path(published["path"]) == entry
    assert sha256_of(entry) == published["sha256"]
    assert named(cache, Source("publisher")) == {published["sha256"]}
    assert list(Layout(cache.root).trash.iterdir()) == []


def test_restore_that_finds_a_fresh_copy_in_place_keeps_that_copy(
    tmp_path: Path, cache: WheelCache, syncpoints: SyncPoints
) -> None:
    """Freshened before the rename, re-published by another publisher after it.

    Prune cannot put its copy back (the place is taken by identical bytes);
    it discards its copy and counts the entry as kept, not removed.
    """
    wheel = wheel_with_seed(tmp_path, 1)
    entry = unreferenced_old(cache, wheel)
    pruner = paused_prune(cache, syncpoints, "prune.before-trash", "prune.after-trash")
    procs.start(add_op(cache.root, "first", wheel)).result()  # freshens the entry in place
    syncpoints.release("prune.before-trash")
    syncpoints.wait_reached("prune.after-trash")
    second = procs.start(add_op(cache.root, "second", wheel)).result()  # publishes anew
    syncpoints.release("prune.after-trash")
    report = pruner.result()

    assert (report["removed_entries"], report["restored_entries"]) == (0, 0)
    assert report["kept_entries"] == 1
    assert sha256_of(entry) == second["sha256"]
    assert cache.get(Source("first")) is not None
    assert cache.get(Source("second")) is not None
    assert list(Layout(cache.root).trash.iterdir()) == []


# -- readers -------------------------------------------------------------------------------


def test_reader_holding_an_old_path_keeps_it_readable_for_grace(
    tmp_path: Path, cache: WheelCache
) -> None:
    """A reader holds a path; the source moves to a new revision; prune runs with 60s grace.

    The entry had not been freshened for two hours, so only the writer's
    freshening of what it dropped keeps it.
    """
    old_rev, new_rev = Source("src", "rev-1"), Source("src", "rev-2")
    old = cache.add(old_rev, wheel_with_seed(tmp_path, 1))
    age(old.path, 2 * HOUR)
    pointer = pointer_path(cache, old_rev)
    age(pointer, 2 * HOUR)
    go = tmp_path / "go"
    reader = procs.start(
        {
            "op": "hold",
            "root": str(cache.root),
            "key": "src",
            "freshness": "rev-1",
            "go_file": str(go),
        }
    )
    # Its get() records the use (the pointer was last used long ago): it holds the path now.
    procs.wait_until(lambda: pointer.stat().st_mtime > time.time() - 60, "the reader's lookup")

    new = cache.add(new_rev, wheel_with_seed(tmp_path, 2))
    report = cache.prune(grace=60)

    assert report.removed_entries == 0
    go.touch()
    held = reader.result()
    assert (held["path"], held["sha256"]) == (str(old.path), old.sha256)

    age(old.path, 120)  # a grace period later, nobody may count on it any more
    assert cache.prune(grace=60).removed_entries == 1
    assert not old.path.parent.exists()
    assert cache.get(new_rev) == new


def test_reader_sees_a_whole_entry_or_a_miss_while_prune_deletes_it(
    tmp_path: Path, cache: WheelCache, syncpoints: SyncPoints
) -> None:
    wheel = wheel_with_seed(tmp_path, 1)
    entry = unreferenced_old(cache, wheel)
    digest = sha256_of(entry)
    pruner = paused_prune(cache, syncpoints, "prune.before-delete")

    assert not entry.parent.exists(), "the whole entry left its place in one rename"
    assert cache.find(digest) is None
    (trashed,) = Layout(cache.root).trash.iterdir()
    assert sha256_of(trashed / wheel.name) == digest, "intact until it is deleted"
    syncpoints.release("prune.before-delete")
    assert pruner.result()["removed_entries"] == 1
    assert cache.find(digest) is None


def test_prune_paused_mid_sweep_blocks_no_reader_or_writer(
    tmp_path: Path, cache: WheelCache, syncpoints: SyncPoints
) -> None:
    unreferenced_old(cache, wheel_with_seed(tmp_path, 1))
    cache.add(Source("existing"), wheel_with_seed(tmp_path, 2))
    pruner = paused_prune(cache, syncpoints, "prune.before-trash")  # holding the prune lock

    root = str(cache.root)
    added = procs.start(add_op(cache.root, "new", wheel_with_seed(tmp_path, 3))).result()
    hit = procs.start({"op": "get", "root": root, "key": "existing"}).result()
    built = procs.start(
        {"op": "get_or_build", "root": root, "key": "built", "builds_dir": str(tmp_path), "seed": 4}
    ).result()
    verified = procs.start({"op": "verify", "root": root}).result()

    assert Path(added["path"]).exists()
    assert Path(built["path"]).exists()
    assert hit["path"] is not None
    assert verified["corrupt"] == 0
    syncpoints.release("prune.before-trash")
    assert pruner.result()["removed_entries"] == 1


# -- verify between prune's steps --------------------------------------------------------


@pytest.mark.parametrize("meanwhile", ["pruned", "pruned and published again"])
def test_no_entry_directory_without_exactly_one_complete_wheel_is_ever_visible_at_its_final_path(
    tmp_path: Path, cache: WheelCache, syncpoints: SyncPoints, meanwhile: str
) -> None:
    """Issue 19: verify once reported an entry that "holds no wheel" during the stress run.

    Listing a directory is two steps: open it, then read it. Verify opens the
    entry's directory; prune renames that directory into the trash and
    empties it there (a publisher may then put a new copy in place); verify
    reads the emptied directory. What it read was never at the entry's place,
    which held the whole entry, then nothing (then the new copy) at every
    step, so no corrupt entry may be reported.
    """
    wheel = wheel_with_seed(tmp_path, 1)
    path = unreferenced_old(cache, wheel)
    syncpoints.arm("verify.opened")
    verifier = procs.start({"op": "verify", "root": str(cache.root)}, env=syncpoints.env)
    syncpoints.wait_reached("verify.opened")  # the entry's directory is open, not yet read

    assert cache.prune(grace=HOUR).removed_entries == 1
    assert not path.parent.exists()
    checked = 0
    if meanwhile == "pruned and published again":
        assert cache.add(Source("again"), wheel).path == path
        assert os.listdir(path.parent) == [path.name]
        assert sha256_of(path) == path.parent.name
        checked = 1
    syncpoints.release("verify.opened")

    verified = verifier.result()
    assert verified["problems"] == []
    assert verified["checked"] == checked


def test_a_good_tree_that_a_prune_trashes_and_restores_while_verify_reads_it_is_not_quarantined(
    tmp_path: Path, cache: WheelCache, syncpoints: SyncPoints
) -> None:
    """verify --repair lists the tree, reads its manifest while it is in the trash, judges after.

    Prune judged the tree unused and renamed it into the trash; an install
    had freshened it just before the rename (set here on the trashed
    manifest: the rename keeps it), so prune puts it back. Verify read the
    manifest in between and finds the tree in place again: it must not take
    the tree for damaged and move it to the quarantine.
    """
    added = cache.add(Source("tree"), wheel_with_seed(tmp_path, 1))
    tree = Path(Trees(cache._store).unpacked(added).files).parent
    os.unlink(pointer_path(cache, Source("tree")))
    age(tree / "manifest.json", DAY)
    syncpoints.arm("verify.tree-listed")
    syncpoints.arm("verify.tree-read")
    op = {"op": "verify", "root": str(cache.root), "repair": True}
    verifier = procs.start(op, env=syncpoints.env)
    syncpoints.wait_reached("verify.tree-listed")  # listed in place, not yet read
    pruner = paused_prune(cache, syncpoints, "prune.tree-trashed")
    (trashed,) = Layout(cache.root).trash.glob("tree-*")
    os.utime(trashed / "manifest.json")  # freshened by an install just before the rename
    syncpoints.release("verify.tree-listed")
    syncpoints.wait_reached("verify.tree-read")  # it read the manifest: none, the tree is away
    assert not tree.exists()

    syncpoints.release("prune.tree-trashed")
    pruned = pruner.result()
    assert (pruned["kept_trees"], pruned["removed_trees"]) == (1, 0)
    assert read_manifest(tree) is not None  # put back
    syncpoints.release("verify.tree-read")

    verified = verifier.result()
    assert (verified["tree_problems"], verified["quarantined"]) == ([], [])
    assert read_manifest(tree) is not None
    assert cache.verify().sound


# -- killed prunes ---------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["prune.after-trash", "prune.before-delete"])
def test_prune_killed_midway_is_finished_by_the_next_prune(
    tmp_path: Path, cache: WheelCache, syncpoints: SyncPoints, point: str
) -> None:
    entry = unreferenced_old(cache, wheel_with_seed(tmp_path, 1))
    keeper = cache.add(Source("keeper"), wheel_with_seed(tmp_path, 2))
    pruner = paused_prune(cache, syncpoints, point)
    pruner.kill()  # SIGKILL: no cleanup runs, and its prune lock goes with it
    trash = Layout(cache.root).trash
    assert len(list(trash.iterdir())) == 1

    report = cache.prune(grace=HOUR)

    assert (report.reclaimed_trash, report.restored_entries) == (1, 0)
    assert list(trash.iterdir()) == []
    assert not entry.parent.exists()
    assert cache.get(Source("keeper")) == keeper


def test_entry_freshened_just_before_a_killed_prunes_rename_is_restored_by_the_next_prune(
    tmp_path: Path, cache: WheelCache, syncpoints: SyncPoints
) -> None:
    """The killed prune never reached its re-check; the next prune restores the entry.

    Honest window: from the kill until the next prune, the publisher's
    returned path does not exist and its pointer dangles (a miss for
    readers). Only a prune killed inside its rename/re-check window leaves
    this state.
    """
    wheel = wheel_with_seed(tmp_path, 1)
    entry = unreferenced_old(cache, wheel)
    pruner = paused_prune(cache, syncpoints, "prune.before-trash", "prune.after-trash")
    published = procs.start(add_op(cache.root, "publisher", wheel)).result()
    syncpoints.release("prune.before-trash")
    syncpoints.wait_reached("prune.after-trash")
    pruner.kill()
    assert not entry.exists()  # the window described above
    assert cache.get(Source("publisher")) is None

    report = cache.prune(grace=HOUR)

    assert (report.restored_entries, report.reclaimed_trash) == (1, 0)
    assert sha256_of(Path(published["path"])) == published["sha256"]
    assert cache.get(Source("publisher")) is not None


# -- retiring in two phases ----------------------------------------------------------------


def test_max_age_retiring_is_two_phase_for_a_reader_racing_the_retirement(
    tmp_path: Path, cache: WheelCache, syncpoints: SyncPoints
) -> None:
    """A reader hands out the entry while prune is about to remove its pointer.

    The pointer goes; the entry was freshened after that, so it stays a
    grace period beyond the hand-out and goes in a later prune.
    """
    source = Source("stale")
    added = cache.add(source, wheel_with_seed(tmp_path, 1))
    age(added.path, 30 * DAY)
    age(pointer_path(cache, source), 30 * DAY)
    pruner = paused_prune(cache, syncpoints, "prune.retire-before-unlink", max_age=DAY)

    hit = procs.start({"op": "get", "root": str(cache.root), "key": "stale"}).result()
    syncpoints.release("prune.retire-before-unlink")
    report = pruner.result()

    assert hit["path"] == str(added.path)
    assert report["retired_sources"] == ["stale"]
    assert not pointer_path(cache, source).exists()
    assert added.path.stat().st_mtime > time.time() - 60
    assert cache.prune(grace=HOUR).removed_entries == 0
    assert sha256_of(added.path) == added.sha256
    age(added.path, HOUR + 300)
    assert cache.prune(grace=HOUR).removed_entries == 1


def test_source_used_between_scan_and_retirement_is_not_retired(
    tmp_path: Path, cache: WheelCache, syncpoints: SyncPoints
) -> None:
    source = Source("stale")
    added = cache.add(source, wheel_with_seed(tmp_path, 1))
    age(pointer_path(cache, source), 30 * DAY)
    # Paused once it has read the old "last used":
    pruner = paused_prune(cache, syncpoints, "prune.scanned", max_age=DAY)

    assert cache.get(source) == added  # a hit records the use
    syncpoints.release("prune.scanned")
    report = pruner.result()

    assert report["retired_sources"] == []
    assert named(cache, source) == {added.sha256}


def test_max_size_retiring_skips_a_source_rewritten_since_the_scan_and_is_two_phase(
    tmp_path: Path, cache: WheelCache, syncpoints: SyncPoints
) -> None:
    busy, idle = Source("busy", "rev"), Source("idle")
    first = cache.add(busy, wheel_with_seed(tmp_path, 1))
    dropped = cache.add(idle, wheel_with_seed(tmp_path, 2))
    pruner = paused_prune(cache, syncpoints, "prune.scanned", max_size=0)
    second = procs.start(
        add_op(cache.root, "busy", make_wheel(tmp_path / "w3", tags="py2-none-any"), "rev")
    ).result()
    syncpoints.release("prune.scanned")
    report = pruner.result()

    assert report["retired_sources"] == ["idle"]
    assert named(cache, busy) == {first.sha256, second["sha256"]}
    assert not pointer_path(cache, idle).exists()
    assert dropped.path.exists(), "phase two comes after grace"
    age(dropped.path, HOUR + 300)
    assert cache.prune(grace=HOUR).removed_entries == 1
    assert not dropped.path.parent.exists()


# -- clean and the prune lock --------------------------------------------------------------


def test_clean_during_concurrent_lookups_raises_nothing(tmp_path: Path, cache: WheelCache) -> None:
    wheel = wheel_with_seed(tmp_path, 1)
    source = Source("src")
    digest = cache.add(source, wheel).sha256
    go, stop = tmp_path / "go", tmp_path / "stop"
    lookers = [
        procs.start(
            {
                "op": "lookup_loop",
                "root": str(cache.root),
                "key": "src",
                "sha256": digest,
                "stop_file": str(stop),
                "start_file": str(go),
            }
        )
        for _ in range(3)
    ]
    go.touch()
    for _ in range(30):
        cache.clean()
        cache.add(source, wheel)
    stop.touch()
    results = [looker.result() for looker in lookers]

    assert [r["errors"] for r in results] == [[], [], []]
    assert all(r["hits"] + r["misses"] >= 2 for r in results)


def test_two_prunes_never_run_at_once(tmp_path: Path, cache: WheelCache) -> None:
    cache.add(Source("warm-up"), wheel_with_seed(tmp_path, 0))
    first_points = procs.SyncPoints(tmp_path / "first")
    second_points = procs.SyncPoints(tmp_path / "second")
    first_points.arm("prune.locked")
    second_points.arm("prune.locked")
    first = procs.start({"op": "prune", "root": str(cache.root)}, env=first_points.env)
    first_points.wait_reached("prune.locked")
    log = tmp_path / "second.log"
    second = procs.start(
        {"op": "prune_with", "root": str(cache.root), "grace": HOUR, "log_file": str(log)},
        env=second_points.env,
    )

    procs.wait_until(
        lambda: log.exists() and "waiting for another process" in log.read_text(),
        "the second prune waiting for the prune lock",
    )
    assert not (second_points.directory / "prune.locked.reached").exists()
    assert second.process.poll() is None
    first_points.release("prune.locked")
    second_points.wait_reached("prune.locked")  # only now that the first is done
    first.result()
    second_points.release("prune.locked")
    second.result()
