"""kill -9: publishers, pointer writers, builders, prune and clean die at every step.

A process killed with SIGKILL runs no cleanup at all. Whatever step it died
at, the cache must show no partial entry, keep everything it promised to
keep, and a following ``prune(grace=0)`` must leave no debris: an empty
staging area and trash, no pointer temp files, no entry that no pointer
names, and no lock that cannot be taken. After that, operations succeed.

Deterministic kills pause a child at each named sync point first (see
``wheelcache._fs.syncpoints``); random kills hit children doing random work.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from procs import SyncPoints
from torture.torture_kit import (
    Children,
    Ledger,
    aggregate,
    assert_entries_complete,
    assert_locks_free,
    assert_no_debris,
    assert_pointers_resolve,
    assert_settled,
    entry_digests,
    filesystem_tick,
    read_back,
    soak_seconds,
    wait_for,
)
from wheelcache import Source, WheelCache
from wheelcache._fs import syncpoints as _syncpoints
from wheelcache._layout import Layout
from wheelcache._pointers.any_version import USE_INTERVAL
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

STORM_SECONDS = soak_seconds() or 12.0

pytestmark = pytest.mark.torture

A = Source("kill:a", "1", "alpha")
"""Referenced before each kill: must stay readable throughout (except under clean)."""
NEW = Source("kill:new", "1", "newcomer")
"""What the killed publisher or builder was adding."""


@dataclass(frozen=True)
class Scenario:
    op: str
    """The operation the child performs: add, get, get_or_build, install, prune, clean or verify."""
    what: str = "new"
    """add: "new" (a wheel not yet cached), "existing" (A's bytes for another source),
    "merge" (a second wheel for A's revision); prune: "leftover" (a killed prune's trash);
    prune and verify: "tree" (the unreferenced entry's wheel unpacked, as an install leaves it);
    verify: "damaged tree" (that tree with a stray file in it, verified with repair)."""
    max_age: float | None = None


SCENARIOS = {
    "publish.staged": Scenario("add"),
    "publish.before-rename": Scenario("add"),
    "publish.after-rename": Scenario("add"),
    "publish.rename-failed": Scenario("add", "existing"),
    "publish.found-existing": Scenario("add", "existing"),
    "pointer.locked": Scenario("add", "merge"),
    "pointer.before-replace": Scenario("add", "merge"),
    "pointer.after-replace": Scenario("add", "merge"),
    "build.locked": Scenario("get_or_build"),
    "lookup.record-use": Scenario("get"),
    "prune.locked": Scenario("prune"),
    "prune.scanned": Scenario("prune"),
    "prune.before-trash": Scenario("prune"),
    "prune.after-trash": Scenario("prune"),
    "prune.before-delete": Scenario("prune"),
    "prune.before-adopt": Scenario("prune", "leftover"),
    "prune.after-adopt": Scenario("prune", "leftover"),
    "prune.retire-before-unlink": Scenario("prune", max_age=0.0),
    "prune.tree-trashed": Scenario("prune", "tree"),
    "clean.after-rename": Scenario("clean"),
    "verify.opened": Scenario("verify"),
    "verify.tree-listed": Scenario("verify", "damaged tree"),
    "verify.tree-read": Scenario("verify", "damaged tree"),
    "tree.before-rename": Scenario("install"),
    "install.recorded": Scenario("install"),
}


class Scene:
    """A cache with one referenced source (A) and one unreferenced entry (garbage)."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "cache"
        self.cache = WheelCache(self.root)
        self.wheels = tmp_path / "wheels"
        self.a_wheel = make_wheel(self.wheels / "a", "alpha", "1.0")
        self.a_entry = self.cache.add(A, self.a_wheel)
        garbage = Source("kill:garbage", "1", "gone")
        self.garbage = self.cache.add(garbage, make_wheel(self.wheels / "g1", "gone", "1.0"))
        self.cache.add(
            Source(garbage.key, "2", "gone"), make_wheel(self.wheels / "g2", "gone", "1.0", seed=2)
        )
        self.new_wheel = make_wheel(self.wheels / "n", "newcomer", "1.0", payload_size=200_000)
        self.merge_wheel = make_wheel(self.wheels / "m", "alpha", "1.0", "py2.py3-none-any")
        self.install_target = tmp_path / "installed"
        filesystem_tick()  # everything so far is strictly older than what a prune now sees

    def leave_garbage_in_the_trash(self) -> None:
        """The unreferenced entry, in the trash as a prune killed mid-sweep left it."""
        trash = Layout(self.root).trash
        trash.mkdir(exist_ok=True)
        os.rename(self.garbage.path.parent, trash / f"{self.garbage.sha256}.1-dead")

    def unpack_the_garbage(self) -> None:
        """The unreferenced entry's tree, unpacked and as old as the entry."""
        from wheelcache._unpacked.trees import Trees

        Trees(self.cache._store).unpacked(self.garbage)
        filesystem_tick()

    def damage_the_garbage_tree(self) -> Path:
        """That tree with a file its wheel does not hold; the tree's directory."""
        self.unpack_the_garbage()
        (tree,) = (self.root / "trees-v1").glob(f"*/{self.garbage.sha256}")
        package = tree / "files" / "gone"
        os.chmod(package, 0o755)
        (package / "stray.py").write_bytes(b"")
        return tree

    def child_config(self, scenario: Scenario, ledger_dir: Path) -> dict[str, Any]:
        config: dict[str, Any] = {
            "mode": "op",
            "op": scenario.op,
            "root": str(self.root),
            "ledger": str(ledger_dir),
        }
        if scenario.op == "add":
            source, wheel = {
                "new": (NEW, self.new_wheel),
                "existing": (Source("kill:b", "1", "alpha"), self.a_wheel),
                "merge": (A, self.merge_wheel),
            }[scenario.what]
            config.update(
                key=source.key, freshness=source.freshness, name=source.name, wheel=str(wheel)
            )
        elif scenario.op == "get":
            # A hit of A records its use only when A's last use is old enough.
            pointer = Layout(self.root).pointer_file(A.digest)
            then = time.time() - 2 * USE_INTERVAL
            os.utime(pointer, (then, then))
            config.update(key=A.key, freshness=A.freshness, name=A.name)
        elif scenario.op == "get_or_build":
            config.update(
                key=NEW.key, freshness=NEW.freshness, name=NEW.name, wheels=[str(self.new_wheel)]
            )
        elif scenario.op == "install":  # A's wheel, unpacked (first need) and linked
            config.update(
                key=A.key, freshness=A.freshness, name=A.name, target=str(self.install_target)
            )
        elif scenario.op == "prune":
            config.update(grace=0.0, max_age=scenario.max_age)
        elif scenario.op == "verify":
            config.update(repair=scenario.what == "damaged tree")
        return config

    def assert_a_readable(self) -> None:
        hit = self.cache.get(A)
        assert hit is not None, "the referenced wheel of A is no longer handed out"
        outcome = read_back(hit, self.root, time.monotonic())
        assert outcome.ok, outcome.problem

    def assert_consistent_after_recovery(self, ledger: Ledger) -> None:
        """prune(grace=0) leaves no debris, no lock is held, verify is clean, work succeeds."""
        report = self.cache.prune(grace=0)
        ledger.op("prune")
        ledger.event("trash leftovers finished", report.reclaimed_trash)
        ledger.event("dead staging reclaimed", report.reclaimed_staging)
        ledger.event("locks taken after kills", assert_settled(self.root))
        verified = self.cache.verify()
        ledger.op("verify")
        assert verified.sound, verified
        ledger.event("entries verified", assert_entries_complete(self.root))
        # Later operations succeed, including redoing what the dead process did.
        added: dict[Source, set[str]] = {}
        for source, wheel in ((NEW, self.new_wheel), (A, self.a_wheel), (A, self.merge_wheel)):
            added.setdefault(source, set()).add(self.cache.add(source, wheel).sha256)
            ledger.op("add")
        for source, digests in added.items():
            hit = self.cache.get(source)
            ledger.op("get")
            assert hit is not None
            assert hit.sha256 in digests
            assert read_back(hit, self.root, time.monotonic()).ok
        self.cache.prune(grace=0)
        assert_no_debris(self.root)


def test_every_sync_point_has_a_kill_scenario() -> None:
    # The remote tier's and the lease's kill scenarios live with their other
    # tests (tests/remote/test_remote_concurrency.py, tests/netfs/test_lease.py).
    local = {p for p in _syncpoints.POINTS if not p.startswith(("remote-", "lease."))}
    assert set(SCENARIOS) == local, "add a Scenario for each new sync point"


@pytest.mark.parametrize("point", sorted(SCENARIOS))
def test_kill_at_sync_point(
    point: str, tmp_path: Path, children: Children, ledger: Ledger, ledger_dir: Path
) -> None:
    scenario = SCENARIOS[point]
    scene = Scene(tmp_path)
    if scenario.what == "leftover":
        scene.leave_garbage_in_the_trash()
    elif scenario.what == "tree":
        scene.unpack_the_garbage()
    elif scenario.what == "damaged tree":
        damaged = scene.damage_the_garbage_tree()
    before = entry_digests(scene.root)
    points = SyncPoints(tmp_path / "syncpoints")
    points.arm(point)
    child = children.start(scene.child_config(scenario, ledger_dir / "kill"), env=points.env)
    pid = points.wait_reached(point)
    assert pid == child.pid

    # Paused mid-operation: whatever is visible is whole.
    assert_entries_complete(scene.root)
    if scenario.op != "clean":
        scene.assert_a_readable()
    children.kill(child)

    # Dead: still nothing partial, and what was promised is still there.
    assert_entries_complete(scene.root)
    if scenario.op == "clean":
        assert scene.cache.get(A) is None
    else:
        scene.assert_a_readable()
        assert scene.a_entry.sha256 in entry_digests(scene.root)
    if point.startswith("publish.") and point != "publish.after-rename":
        new = entry_digests(scene.root) - before
        assert new == set(), f"a publisher killed at {point} left entries {new}"
    hit = scene.cache.get(NEW)
    assert hit is None or read_back(hit, scene.root, time.monotonic()).ok
    if point == "tree.before-rename":
        trees = scene.root / "trees-v1"
        assert not list(trees.glob("*/*")), "an unpacker killed before its rename left a tree"
    if scenario.op == "install":  # the next install finishes the job
        assert scene.cache.install(scene.cache.get(A), target=scene.install_target).files > 0  # type: ignore[arg-type]
    if scenario.what == "damaged tree":  # in place, untouched; the next verify finishes the job
        assert (damaged / "files" / "gone" / "stray.py").exists()
        repaired = scene.cache.verify(repair=True)
        assert [c.sha256 for c in repaired.corrupt_trees] == [scene.garbage.sha256]
        assert len(repaired.quarantined) == 1
        assert not damaged.exists()

    scene.assert_consistent_after_recovery(ledger)


def test_emptied_entry_in_the_trash_is_not_restored(tmp_path: Path, ledger: Ledger) -> None:
    """The state a prune killed between unlinking a trashed wheel and removing its
    directory leaves (made by hand here; for real in the next test): a later
    prune deletes the empty directory rather than restoring a corrupt entry."""
    scene = Scene(tmp_path)
    entry = scene.garbage.path.parent
    trashed = scene.root / "trash-v1" / f"{scene.garbage.sha256}.4242-deadbeefdeadbeef"
    trashed.parent.mkdir(exist_ok=True)
    entry.rename(trashed)
    (trashed / scene.garbage.filename).unlink()  # the directory's mtime is now fresh

    report = scene.cache.prune(grace=3600)
    ledger.op("prune")
    assert report.restored_entries == 0, "prune put a half-deleted entry back"
    verified = scene.cache.verify()
    assert verified.sound, verified
    scene.assert_consistent_after_recovery(ledger)


def test_prune_killed_between_unlink_and_rmdir_leaves_nothing_to_restore(
    tmp_path: Path, children: Children, ledger: Ledger, ledger_dir: Path
) -> None:
    """A prune killed mid-delete leaves an emptied entry directory in the trash.

    The next prune must delete it, not put an empty (corrupt) entry back into
    wheels-v1 because the directory's mtime looks fresh. The kill is real:
    strace delivers SIGKILL when prune makes its first rmdir system call,
    that is right after it unlinked the trashed entry's wheel.
    """
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed: cannot kill prune at its first rmdir")
    probe = subprocess.run(
        [strace, "-qq", "-o", "/dev/null", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(
            f"strace cannot trace here (ptrace not permitted?): {probe.stderr.decode().strip()}"
        )
    scene = Scene(tmp_path)
    config = {
        "mode": "op",
        "op": "prune",
        "root": str(scene.root),
        "grace": 0.0,
        "ledger": str(ledger_dir / "kill"),
    }
    killer = [
        strace,
        "-f",
        "-qq",
        "-o",
        "/dev/null",
        "-e",
        "trace=rmdir",
        "-e",
        "inject=rmdir:signal=KILL:when=1",
    ]
    child = children.start(config, strace=killer)
    child.process.wait(timeout=120)
    if child.process.returncode != -signal.SIGKILL:
        pytest.skip(f"prune made no rmdir(2) call to kill it at (exit {child.process.returncode})")
    ledger.event("SIGKILLs")
    left = sorted(p.name for p in (scene.root / "trash-v1").iterdir())
    assert left == [f"{scene.garbage.sha256}.{left[0].split('.', 1)[1]}"], left
    assert list((scene.root / "trash-v1" / left[0]).iterdir()) == [], (
        "expected an emptied entry directory"
    )

    report = scene.cache.prune(grace=3600)  # a routine prune soon after the crash
    ledger.op("prune")
    assert report.restored_entries == 0, "prune put a half-deleted entry back"
    verified = scene.cache.verify()
    assert verified.sound, verified
    assert scene.garbage.sha256 not in entry_digests(scene.root)
    scene.assert_consistent_after_recovery(ledger)


@pytest.mark.timeout(STORM_SECONDS + 300)
def test_random_kills_leave_a_consistent_cache(
    tmp_path: Path, children: Children, ledger: Ledger, ledger_dir: Path
) -> None:
    """Rounds of three workers doing random work with prune(grace=0), killed at random moments."""
    root = tmp_path / "cache"
    state = tmp_path / "state"
    state.mkdir()
    (tmp_path / "go").touch()
    storm_ledgers = ledger_dir / f"storm-{tmp_path.name}"
    rng = random.Random(4242)
    cache = WheelCache(root)
    end = time.monotonic() + STORM_SECONDS
    rounds = left_dangling = 0
    while time.monotonic() < end:
        rounds += 1
        batch = []
        for number in range(3):
            ready = tmp_path / "ready" / f"{rounds}-{number}"
            ready.parent.mkdir(exist_ok=True)
            config = {
                "mode": "storm",
                "role": "storm",
                "root": str(root),
                "state": str(state),
                "private": str(tmp_path / "private" / str(number)),
                "ledger": str(storm_ledgers),
                "start_file": str(tmp_path / "go"),
                "ready_file": str(ready),
                "seed": rounds * 10 + number,
            }
            batch.append((children.start(config), ready))
        for _child, ready in batch:
            wait_for(ready, "a storm worker getting ready")
        time.sleep(rng.uniform(0.05, 0.5))
        for child, _ready in batch:
            time.sleep(rng.uniform(0.0, 0.15))
            assert child.process.poll() is None, child.output()
            children.kill(child)
        children.reap()

        totals = aggregate(storm_ledgers)
        assert totals["errors"] == [], "\n\n".join(totals["errors"][:5])
        assert_entries_complete(root)
        cache.prune(grace=0)
        ledger.op("prune")
        assert_no_debris(root)
        assert_locks_free(root)
        verified = cache.verify()
        ledger.op("verify")
        assert verified.corrupt == (), f"after round {rounds}: {verified}"
        assert verified.unreadable_pointers == (), f"after round {rounds}: {verified}"
        if verified.dangling:
            # The limit of grace 0 (see the test above): a writer killed between
            # its pointer write and its re-publish check, while a grace-0 prune
            # deleted the entry. Nothing partial: the entry is entirely gone,
            # get() misses, and verify(repair=True) mends the pointer.
            ledger.event(
                "pointers left dangling by a killed writer (grace 0)", len(verified.dangling)
            )
            left_dangling += len(verified.dangling)
            for dangling in verified.dangling:
                ledger.note(f"round {rounds}: {dangling.key!r} named deleted {dangling.missing}")
            repaired = cache.verify(repair=True)
            assert repaired.mended_pointers == len(verified.dangling), repaired
        assert_pointers_resolve(root)
        assert cache.verify().sound
    totals = aggregate(storm_ledgers)
    assert sum(totals["ops"].values()) > rounds * 3, totals["ops"]
    ledger.headline(
        f"kill storm {STORM_SECONDS:.0f}s: {rounds} rounds, {rounds * 3} workers SIGKILLed"
        f" mid-work, {sum(totals['ops'].values())} operations; {left_dangling} pointers left"
        " naming an entry a grace-0 prune deleted under a killed writer (reported, mended)"
    )


def test_writer_killed_after_its_pointer_while_a_grace_0_prune_sweeps(
    tmp_path: Path, children: Children, ledger: Ledger, ledger_dir: Path
) -> None:
    """The documented limit of grace 0: the pointer may outlive the entry it names.

    A writer publishes an entry and pauses before its pointer update; a
    prune(grace=0) scans the pointers (not yet naming it); the writer writes
    its pointer and dies before re-checking that its entry still exists; the
    prune then deletes the entry, unnamed when it scanned and older than its
    horizon. A live writer would have published again; a dead one cannot. The
    contract still holds: get() is a miss, verify() reports the dangling
    pointer, prune leaves no debris, and add() heals. (With a grace longer
    than a writer's publish-to-pointer time this cannot happen.)
    """
    scene = Scene(tmp_path)
    writer_points = SyncPoints(tmp_path / "writer-points")
    pruner_points = SyncPoints(tmp_path / "pruner-points")
    writer_points.arm("pointer.locked")
    writer_points.arm("pointer.after-replace")
    pruner_points.arm("prune.scanned")
    writer = children.start(
        scene.child_config(Scenario("add"), ledger_dir / "kill"), env=writer_points.env
    )
    writer_points.wait_reached(
        "pointer.locked"
    )  # the entry is published, the pointer not yet written
    filesystem_tick()  # the prune starts strictly after the publication
    pruner = children.start(
        scene.child_config(Scenario("prune"), ledger_dir / "kill"), env=pruner_points.env
    )
    pruner_points.wait_reached("prune.scanned")
    writer_points.release("pointer.locked")
    writer_points.wait_reached("pointer.after-replace")
    children.kill(writer)  # dies before checking that its entry survived
    pruner_points.release("prune.scanned")
    assert pruner.result()["removed"] >= 1

    assert scene.cache.get(NEW) is None
    report = scene.cache.verify()
    assert [d.key for d in report.dangling] == [NEW.key], report
    assert report.corrupt == ()
    scene.cache.add(NEW, scene.new_wheel)
    scene.assert_consistent_after_recovery(ledger)  # add() heals; then everything resolves
