"""Stress: many processes share one cache for a fixed time, and some are killed.

Seven workers (four "mixed", a reader, a publisher and a pruner) run random
get / get_or_build / add / freshness changes / prune(grace=3s) / verify /
find for ``STRESS_SECONDS`` (``WHEELCACHE_SOAK`` overrides it). Builds are
reproducible on a cycle, so a publisher often finds bytes an earlier revision
published, perhaps just as prune takes them. Every few seconds the parent
SIGKILLs one worker and starts a fresh one in its place.

Each worker checks every wheel it is handed at once: the right revision's
bytes, read whole, SHA-256 checked and unzipped with every CRC tested, and
every verify during the run must find no corrupt entry.

In soak mode one busy-loop process per CPU runs alongside (``WHEELCACHE_BUSY``
sets the number, also outside soak mode): contention preempts workers between
any two system calls, which is what rare interleavings need (issue 19 was one).
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING

import pytest

from torture.torture_kit import (
    DEADLINE,
    SOURCES,
    Children,
    Ledger,
    aggregate,
    assert_entries_complete,
    assert_pointers_resolve,
    assert_settled,
    busy_loops,
    pointer_digests,
    read_back,
    soak_seconds,
    source_for,
    stop_heartbeats,
    wait_for,
)
from wheelcache import WheelCache

if TYPE_CHECKING:
    from pathlib import Path

    from netfs.rig import Hosts


STRESS_SECONDS = soak_seconds() or 30.0
GRACE = 3.0
ROLES = ("mixed", "mixed", "mixed", "mixed", "reader", "publisher", "pruner")
TWO_HOST_ROLES = (*ROLES, "pruner")
"""Workers alternate between the hosts: a pruner on each, so two prunes often overlap."""
KILL_EVERY = (3.0, 6.0)
PRUNING_ROLES = {"mixed", "pruner"}

pytestmark = [pytest.mark.torture, pytest.mark.timeout(STRESS_SECONDS + 300)]


def _config(
    role: str, number: int, base: Path, ledger_dir: Path, roots: list[Path]
) -> dict[str, object]:
    return {
        "mode": "stress",
        "role": role,
        "root": str(roots[number % len(roots)]),
        "state": str(base / "state"),
        "private": str(base / "private" / str(number)),
        "ledger": str(ledger_dir),
        "start_file": str(base / "go"),
        "ready_file": str(base / "ready" / str(number)),
        "seconds": STRESS_SECONDS,
        "quiet": STRESS_SECONDS / 4,  # no retirements at the end: leave pointers to check
        "grace": GRACE,
        "seed": number,
    }


def test_many_processes_never_see_a_bad_wheel(
    tmp_path: Path, children: Children, ledger: Ledger, ledger_dir: Path
) -> None:
    run_stress(tmp_path, [tmp_path / "cache"], children, ledger, ledger_dir, "stress")


@pytest.mark.netfs
def test_processes_on_two_hosts_never_see_a_bad_wheel(
    tmp_path: Path, shared: Hosts, children: Children, ledger: Ledger, ledger_dir: Path
) -> None:
    """The same run with the workers split over two mounts of one directory (two "hosts")."""
    roots = [shared.a / "cache", shared.b / "cache"]
    label = "stress across two hosts"
    # Every file operation is a round trip to the SFTP server: fewer operations.
    run_stress(tmp_path, roots, children, ledger, ledger_dir, label, TWO_HOST_ROLES, pace=0.3)


def run_stress(
    tmp_path: Path,
    roots: list[Path],
    children: Children,
    ledger: Ledger,
    ledger_dir: Path,
    label: str,
    roles: tuple[str, ...] = ROLES,
    pace: float = 1.0,
) -> None:
    """Run the workload on *roots* (one cache as each host sees it) and check everything.

    Worker *n* works on ``roots[n % len(roots)]`` with role ``roles[n]``; a
    killed worker's replacement takes its role and the next number. *pace*
    scales the operations the run must at least have done (a sanity check).
    """
    (tmp_path / "state").mkdir()
    (tmp_path / "ready").mkdir()
    stress_ledgers = ledger_dir / f"stress-{tmp_path.name}"
    workers = {}
    for number, role in enumerate(roles):
        workers[number] = children.start(_config(role, number, tmp_path, stress_ledgers, roots))
    for number in workers:
        wait_for(tmp_path / "ready" / str(number), f"worker {number} getting ready")
    busy = [
        children.start({"mode": "busy", "seconds": STRESS_SECONDS + DEADLINE})
        for _ in range(busy_loops())
    ]
    ledger.event("busy-loop processes (CPU contention)", len(busy))
    (tmp_path / "go").touch()
    started = time.monotonic()
    end = started + STRESS_SECONDS
    rng = random.Random(20251128)
    next_kill = started + rng.uniform(*KILL_EVERY)
    replacement = len(roles)
    killed_roles = []
    while time.monotonic() < end - 1.0:
        time.sleep(0.05)
        if time.monotonic() < next_kill:
            continue
        next_kill = time.monotonic() + rng.uniform(*KILL_EVERY)
        number = rng.choice(sorted(workers))
        role = workers[number].config["role"]
        children.kill(workers.pop(number))
        killed_roles.append(role)
        # A newcomer joins at once and works until the common end.
        config = _config(role, replacement, tmp_path, stress_ledgers, roots)
        seconds = max(0.5, end - time.monotonic())
        config["seconds"] = seconds
        config["quiet"] = min(STRESS_SECONDS / 4, seconds)
        workers[replacement] = children.start(config)
        replacement += 1
    for child in workers.values():
        child.process.wait(timeout=STRESS_SECONDS + DEADLINE)
        assert child.process.returncode == 0, child.output()
    for spinner in busy:
        spinner.kill()  # reaped here, not counted as a worker's SIGKILL

    totals = aggregate(stress_ledgers)
    events = totals["events"]
    assert totals["errors"] == [], "\n\n".join(totals["errors"][:5])
    assert events.get("bad reads", 0) == 0
    minimum = (
        pace * 100 * len(roles) * min(STRESS_SECONDS, 30.0) / 30.0
    )  # a small fraction of a normal run
    assert sum(totals["ops"].values()) > minimum, totals["ops"]
    for kind in ("get hits", "get_or_build hits", "add hits", "entries pruned"):
        assert events.get(kind, 0) > 0, f"the workload never produced {kind!r}: {dict(events)}"

    root = roots[0]
    cache = WheelCache(root)
    # Nothing runs now. A killed prune may have left a referenced entry in the
    # trash (its restore never ran); that, and only that, may dangle until the
    # next prune finishes the trash.
    before = cache.verify()
    assert before.corrupt == (), before.corrupt
    assert before.unreadable_pointers == ()
    for dangling in before.dangling:
        for sha256 in dangling.missing:
            in_trash = list((root / "trash-v1").glob(f"{sha256}.*"))
            assert in_trash, f"{dangling.pointer} names {sha256}: neither present nor in the trash"
            assert PRUNING_ROLES & set(killed_roles), (
                f"{dangling.pointer} names {sha256}, in the trash"
            )
    ledger.event("dangling pointers explained by a killed prune", len(before.dangling))
    cache.prune(grace=GRACE)
    after = cache.verify()
    assert after.sound, after
    assert_pointers_resolve(root)
    ledger.event("entries verified", assert_entries_complete(root))
    for index in range(len(SOURCES)):
        assert_current_pointer_readable(cache, root, index)

    # On a network filesystem a killed worker's leftovers wait for its heartbeat
    # to go stale; nothing runs now, so age them instead of waiting.
    ledger.event("owner locks aged at the end", stop_heartbeats(root))
    cache.prune(grace=0)
    assert_settled(root)
    referenced = set().union(*pointer_digests(root).values())
    ledger.headline(
        f"{label} {STRESS_SECONDS:.0f}s: {sum(totals['ops'].values())} operations by"
        f" {len(roles) + len(killed_roles)} workers ({len(killed_roles)} SIGKILLed and replaced),"
        f" {len(busy)} busy loops;"
        f" {events.get('wheels read whole', 0)} wheels read whole,"
        f" {events.get('bad reads', 0)} bad,"
        f" {events.get('late reads (after the grace)', 0)} late,"
        f" {events.get('transient vanish-and-restore windows', 0)} in prune's restore window;"
        f" {len(referenced)} entries referenced at the end"
    )


def assert_current_pointer_readable(cache: WheelCache, root: Path, index: int) -> None:
    """The cache answers for the revision it last recorded for each source, with whole wheels."""
    spec = SOURCES[index]
    for record in cache.sources():
        if record.key != spec.key:
            continue
        revision = int(record.freshness.removeprefix("rev-"))
        hit = cache.get(source_for(index, revision))
        assert hit is not None, f"{spec.key!r}: a current pointer but no hit"
        outcome = read_back(hit, root, time.monotonic())
        assert outcome.ok, outcome.problem
