"""``lock_timeout`` bounds every lock wait, and LockTimeout says which lock (issue 12, item 7).

A writer stopped (SIGSTOP) while holding a lock must not block others
forever. Each test stops a real process inside a lock, with a sync point or
SIGSTOP, and checks that a cache with ``lock_timeout`` gives up with a
:class:`LockTimeout` naming the lock and what it guards.
"""

from __future__ import annotations

import os
import pickle
import signal
from typing import TYPE_CHECKING, Any

import pytest

import procs
from wheelcache import LockTimeout, Source, WheelCache
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

    from procs import SyncPoints

TIMEOUT = 0.2


def stop_inside(syncpoints: SyncPoints, point: str, op: dict[str, Any]) -> procs.Child:
    """Start a worker, let it reach *point* (inside a lock), and SIGSTOP it there."""
    syncpoints.arm(point)
    child = procs.start(op, env=syncpoints.env)
    pid = syncpoints.wait_reached(point)
    os.kill(pid, signal.SIGSTOP)
    return child


def resume(child: procs.Child, syncpoints: SyncPoints, point: str) -> None:
    os.kill(child.pid, signal.SIGCONT)
    syncpoints.release(point)
    child.result()


def test_add_gives_up_on_a_pointer_lock_held_by_a_stopped_writer(
    tmp_path: Path, syncpoints: SyncPoints
) -> None:
    root = tmp_path / "cache"
    first = make_wheel(tmp_path / "a", "demo", "1.0")
    second = make_wheel(tmp_path / "b", "demo", "1.0", tags="py2-none-any")
    op = {"op": "add", "root": str(root), "key": "k", "freshness": "f", "wheel": str(first)}
    child = stop_inside(syncpoints, "pointer.locked", op)
    cache = WheelCache(root, lock_timeout=TIMEOUT)

    with pytest.raises(LockTimeout) as caught:
        cache.add(Source("k", "f"), second)

    error = caught.value
    assert error.lock == os.fspath(cache._layout.pointer_lock(Source("k").digest))
    assert error.guards == "updating the pointer of the same source"
    assert error.lock in str(error)
    assert error.guards in str(error)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
    resume(child, syncpoints, "pointer.locked")
    assert cache.add(Source("k", "f"), second).path.exists()  # free again


def test_prune_and_clean_give_up_on_a_prune_lock_held_by_a_stopped_pruner(
    tmp_path: Path, syncpoints: SyncPoints, wheel: Path
) -> None:
    root = tmp_path / "cache"
    cache = WheelCache(root, lock_timeout=TIMEOUT)
    cache.add(Source("k"), wheel)
    child = stop_inside(syncpoints, "prune.locked", {"op": "prune", "root": str(root), "grace": 0})

    with pytest.raises(LockTimeout, match="pruning the cache") as pruning:
        cache.prune()
    with pytest.raises(LockTimeout, match="pruning the cache"):
        cache.clean()

    assert pruning.value.lock == os.fspath(cache._layout.prune_lock)
    resume(child, syncpoints, "prune.locked")


def test_verify_repair_gives_up_on_a_pointer_lock_held_by_a_stopped_writer(
    tmp_path: Path, syncpoints: SyncPoints, wheel: Path
) -> None:
    root = tmp_path / "cache"
    cache = WheelCache(root, lock_timeout=TIMEOUT)
    cache.add(Source("k", "f"), wheel)
    pointer = cache._layout.pointer_file(Source("k").digest)
    pointer.write_bytes(b"not json")  # unreadable: repair moves it aside under its lock
    op = {"op": "add", "root": str(root), "key": "k", "freshness": "f", "wheel": str(wheel)}
    child = stop_inside(syncpoints, "pointer.locked", op)

    with pytest.raises(LockTimeout, match="updating the pointer of the same source"):
        cache.verify(repair=True)

    resume(child, syncpoints, "pointer.locked")


def test_get_or_build_gives_up_on_a_build_lock_held_by_a_stopped_builder(
    tmp_path: Path, syncpoints: SyncPoints
) -> None:
    root = tmp_path / "cache"
    op = {
        "op": "get_or_build",
        "root": str(root),
        "key": "k",
        "freshness": "f",
        "builds_dir": str(tmp_path / "builds"),
        "name": "demo",
        "version": "1.0",
        "seed": 0,
        "delay": 0,
    }
    (tmp_path / "builds").mkdir()
    child = stop_inside(syncpoints, "build.locked", op)
    cache = WheelCache(root, lock_timeout=TIMEOUT)

    with pytest.raises(LockTimeout, match="building demo") as caught:
        cache.get_or_build(Source("k", "f", "demo"), lambda output: None)

    assert caught.value.lock == os.fspath(cache._layout.build_lock(Source("k").digest))
    resume(child, syncpoints, "build.locked")
