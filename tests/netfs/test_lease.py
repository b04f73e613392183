"""Lease locks across processes and hosts: one holder, renewal, takeover after expiry.

Every test but the last runs twice: on a local directory (both processes see one path) and
on the two-mount rig (one process on host A, the other on host B), where
``flock`` excludes nothing across hosts and only ``O_EXCL`` creation does.
Holders run with a short expiry and fast renewal (module constants set in the
child), so a takeover takes seconds, not the default 30.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, NamedTuple

import pytest

from netfs.rig import created_and_removed_during_create, removed_before_fstat
from ondisk import DAY, age
from procs import Child, SyncPoints, build_on_every_host, start, wait_for_file, wait_until
from wheelcache import LockTimeout, Source, WheelCache
from wheelcache._fs import lease as lease_module
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

    from netfs.rig import Hosts

pytestmark = [pytest.mark.timeout(300)]


class Places(NamedTuple):
    """One shared directory as two processes see it, and the lease timings to use there."""

    first: Path
    second: Path
    expires_after: float
    """Short, but well above the renewal interval plus the filesystem's time granularity."""
    interval: float


@pytest.fixture(params=["local", pytest.param("two-hosts", marks=pytest.mark.netfs)])
def places(request: pytest.FixtureRequest, tmp_path: Path) -> Places:
    if request.param == "local":
        shared = tmp_path / "shared"
        shared.mkdir()
        return Places(shared, shared, 1.5, 0.1)
    hosts = request.getfixturevalue("shared")
    # SFTP carries whole seconds, and sshfs caches attributes for a second.
    return Places(hosts.a, hosts.b, 4.0, 0.25)


def _lease(place: Path) -> Path:
    return place / "locks" / "demo.build.lease"


def _hold(
    place: Path,
    places: Places,
    tmp_path: Path,
    name: str,
    env: dict[str, str] | None = None,
    **extra: object,
) -> Child:
    """A child holding the lease from *place* (see tests/worker.py, op ``lease``)."""
    op = {
        "op": "lease",
        "path": str(_lease(place)),
        "timeout": 120.0,
        "expires_after": places.expires_after,
        "interval": places.interval,
        "ready_file": str(tmp_path / f"{name}.ready"),
        **extra,
    }
    return start(op, env=env)


def _plant_expired_lease(place: Path) -> None:
    """The lease of a process that died long ago."""
    lease = _lease(place)
    lease.parent.mkdir(parents=True, exist_ok=True)
    record = {"host": "gone", "pid": 1, "token": "d" * 32, "expires_after": 30.0}
    lease.write_text(json.dumps(record))
    age(lease, DAY)


def test_one_build_across_hosts_with_lease_locks(places: Places, tmp_path: Path) -> None:
    """N processes per host, $WHEELCACHE_LOCK_MODE=lease: the source is built once in all."""
    roots = {"first": places.first / "cache", "second": places.second / "cache"}
    per_host, sha256s = build_on_every_host(roots, 3, tmp_path, {"WHEELCACHE_LOCK_MODE": "lease"})
    assert sum(per_host.values()) == 1, per_host
    assert len(sha256s) == 1


def test_a_killed_holders_lease_is_taken_over_once_it_expires(
    places: Places, tmp_path: Path
) -> None:
    holder = _hold(places.first, places, tmp_path, "holder", go_file=str(tmp_path / "never"))
    wait_for_file(tmp_path / "holder.ready")
    holder.kill()
    waiter = _hold(places.second, places, tmp_path, "waiter", timeout=60.0)
    assert waiter.result() == {"held": True, "kept": True}


def test_a_killed_holders_lease_is_not_taken_over_before_it_expires(
    places: Places, tmp_path: Path
) -> None:
    """Killed at once, with the default expiry (30 s): a waiter giving up after 1 s gets nothing."""
    holder = _hold(
        places.first,
        places,
        tmp_path,
        "holder",
        go_file=str(tmp_path / "never"),
        expires_after=30.0,
    )
    wait_for_file(tmp_path / "holder.ready")
    holder.kill()
    waiter = _hold(places.second, places, tmp_path, "waiter", timeout=1.0)
    assert waiter.result() == {"held": False}


def test_a_renewed_lease_outlives_its_expiry(places: Places, tmp_path: Path) -> None:
    """A holder that works for three expiries keeps its lease: the waiter takes nothing."""
    go = tmp_path / "go"
    holder = _hold(places.first, places, tmp_path, "holder", go_file=str(go))
    wait_for_file(tmp_path / "holder.ready")
    waiter = _hold(places.second, places, tmp_path, "waiter", timeout=3 * places.expires_after)
    assert waiter.result() == {"held": False}
    go.touch()
    assert holder.result() == {"held": True, "kept": True}
    assert not _lease(places.first).exists()  # released


def test_of_waiters_racing_for_an_expired_lease_one_wins(places: Places, tmp_path: Path) -> None:
    """Six waiters, three per host, find one expired lease at once: exactly one holds it."""
    _plant_expired_lease(places.first)
    go, begin = tmp_path / "go", tmp_path / "begin"
    racers = [
        _hold(
            place,
            places,
            tmp_path,
            f"racer{number}",
            timeout=2 * places.expires_after,
            start_file=str(begin),
            go_file=str(go),
        )
        for number, place in enumerate([places.first, places.second] * 3)
    ]
    begin.touch()
    wait_until(
        lambda: any((tmp_path / f"racer{n}.ready").exists() for n in range(6)), "a racer winning"
    )
    losers = [r for n, r in enumerate(racers) if not (tmp_path / f"racer{n}.ready").exists()]
    lost = [loser.result() for loser in losers]  # they give up while the winner holds on
    go.touch()
    outcomes = lost + [r.result() for r in racers if r not in losers]
    assert sorted(o["held"] for o in outcomes) == [False] * 5 + [True], outcomes
    assert {"held": True, "kept": True} in outcomes


def test_a_waiter_that_judged_a_lease_expired_takes_nothing_once_another_took_it_over(
    places: Places, tmp_path: Path
) -> None:
    """A finds the lease expired and stalls; B takes it over; A must not remove B's lease."""
    _plant_expired_lease(places.first)
    points = SyncPoints(tmp_path / "sync")
    points.arm("lease.expired")
    slow = _hold(places.first, places, tmp_path, "slow", timeout=1.0, env=points.env)
    points.wait_reached("lease.expired")
    go = tmp_path / "go"
    fast = _hold(places.second, places, tmp_path, "fast", go_file=str(go))
    wait_for_file(tmp_path / "fast.ready")
    points.release("lease.expired")
    assert slow.result() == {"held": False}
    go.touch()
    assert fast.result() == {"held": True, "kept": True}
    assert not os.path.exists(_lease(places.second))  # released (as its host sees it)


def test_a_waiter_killed_while_taking_a_lease_over_delays_the_takeover_by_one_expiry(
    places: Places, tmp_path: Path
) -> None:
    """Killed holding the takeover marker: the next waiter takes over once the marker expired."""
    _plant_expired_lease(places.first)
    points = SyncPoints(tmp_path / "sync")
    points.arm("lease.marked")
    taker = _hold(places.first, places, tmp_path, "taker", env=points.env)
    points.wait_reached("lease.marked")
    taker.kill()
    markers = [p.name for p in _lease(places.first).parent.iterdir() if ".takeover-" in p.name]
    assert markers == [f"demo.build.lease.takeover-{'d' * 32}-0"]
    waiter = _hold(places.second, places, tmp_path, "waiter", timeout=60.0)
    assert waiter.result() == {"held": True, "kept": True}


@pytest.mark.netfs
def test_prunes_on_two_hosts_in_lease_mode_run_one_at_a_time(shared: Hosts, tmp_path: Path) -> None:
    """The prune lock is a lease too: host B's prune waits while host A's runs."""
    WheelCache(shared.a / "cache").add(Source("k"), make_wheel(tmp_path, "demo", "1.0"))
    points = SyncPoints(tmp_path / "sync")
    points.arm("prune.locked")
    lease_mode = {"WHEELCACHE_LOCK_MODE": "lease", **points.env}
    first = start({"op": "prune", "root": str(shared.a / "cache")}, env=lease_mode)
    points.wait_reached("prune.locked")
    other = WheelCache(shared.b / "cache", lock_mode="lease", lock_timeout=1.0)
    with pytest.raises(LockTimeout):
        other.prune()
    points.release("prune.locked")
    first.result()
    other.prune()


@pytest.mark.netfs
def test_a_lease_released_by_the_other_host_while_being_read_is_seen_as_released(
    shared: Hosts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host B releases the lease between host A's open and its fstat.

    sshfs answers an open file's fstat by its path: ENOENT. For a waiter that
    is a lease released since it looked, so it goes on to create one; it must
    not fail with "cannot read" (seen once in CI, six waiters racing).
    """
    _plant_expired_lease(shared.a)
    on_b = _lease(shared.b)

    removed_before_fstat(lease_module, on_b, monkeypatch)

    assert lease_module._look(_lease(shared.a)) is None


@pytest.mark.netfs
@pytest.mark.parametrize("races", [1, 3], ids=["once", "three times in a row"])
def test_a_create_refused_for_a_file_the_other_host_already_removed_is_tried_again(
    shared: Hosts, monkeypatch: pytest.MonkeyPatch, races: int
) -> None:
    """Host B creates and removes a lease (or a takeover marker) around host A's create.

    sshfs refuses A's create with EPERM, and when A looks the file is gone:
    not "exists", and not a refusal either. Six waiters racing for an expired
    lease do this with the takeover marker, which the winner removes at once.
    A tries again and holds the lease.
    """
    (shared.a / "locks").mkdir()
    created_and_removed_during_create(lease_module, _lease(shared.b), monkeypatch, races)

    fd = lease_module._create(_lease(shared.a), b"{}")

    assert fd is not None
    os.close(fd)
    assert _lease(shared.b).read_bytes() == b"{}"


def test_a_lease_that_exists_to_create_but_is_gone_to_read_is_polled_until_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where "exists" and "gone" keep disagreeing (an attribute cache), the wait polls and ends.

    It retries at once after one "gone", then at the poll interval, and still
    gives up at the timeout; it used to spin without ever checking it.
    """
    looks: list[Path] = []

    def gone(path: Path) -> None:
        looks.append(path)
        if len(looks) > 1000:
            raise AssertionError("spinning")

    monkeypatch.setattr(lease_module, "_create", lambda path, record: None)
    monkeypatch.setattr(lease_module, "_look", gone)
    timeout = 0.3
    with (
        pytest.raises(LockTimeout),
        lease_module.hold(tmp_path / "demo.build.lease", timeout=timeout, purpose="testing"),
    ):
        pass
    # At most two looks per poll interval slept, whatever the machine's load.
    assert 1 < len(looks) <= 2 * (timeout / lease_module.POLL_SECONDS + 2)
