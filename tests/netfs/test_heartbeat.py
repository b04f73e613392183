"""Heartbeats of held locks on a network filesystem (forced here with WHEELCACHE_NETWORK_FS)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import pytest

from ondisk import DAY, age
from procs import wait_until
from wheelcache._fs import heartbeat
from wheelcache._fs.locking import hold

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHEELCACHE_NETWORK_FS", "1")
    monkeypatch.setattr(heartbeat, "INTERVAL", 0.02)


def _mtime_age(path: Path) -> float:
    return time.time() - os.stat(path).st_mtime


@pytest.mark.usefixtures("network")
def test_a_lock_held_on_a_network_filesystem_is_touched_while_held(tmp_path: Path) -> None:
    lock = tmp_path / "demo.lock"
    with hold(lock, timeout=None, purpose="testing"):
        assert str(lock) in heartbeat.beating()
        age(lock, DAY)
        wait_until(lambda: _mtime_age(lock) < 60, "the heartbeat touching the held lock")
    assert str(lock) not in heartbeat.beating()
    age(lock, DAY)
    time.sleep(10 * heartbeat.INTERVAL)
    assert _mtime_age(lock) > DAY / 2  # released: no more beats


def test_a_lock_on_a_local_filesystem_has_no_heartbeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELCACHE_NETWORK_FS", "0")
    lock = tmp_path / "demo.lock"
    with hold(lock, timeout=None, purpose="testing"):
        assert str(lock) not in heartbeat.beating()


@pytest.mark.usefixtures("network")
def test_a_lock_held_twice_beats_until_both_are_released(tmp_path: Path) -> None:
    first, second = tmp_path / "a.lock", tmp_path / "b.lock"
    with hold(first, timeout=None, purpose="testing"):
        with hold(second, timeout=None, purpose="testing"):
            assert {str(first), str(second)} <= heartbeat.beating()
        assert str(second) not in heartbeat.beating()
        assert str(first) in heartbeat.beating()
