"""The sync-point hook that lets tests pause a process at a named protocol step."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from wheelcache import _syncpoints

if TYPE_CHECKING:
    from pathlib import Path

    from procs import SyncPoints


def test_reach_does_nothing_without_the_environment_variable(tmp_path: Path) -> None:
    _syncpoints.reach("publish.staged")  # returns at once; would hang otherwise
    assert list(tmp_path.iterdir()) == []


def test_unarmed_point_does_not_pause(
    syncpoints: SyncPoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_syncpoints.ENVIRONMENT_VARIABLE, str(syncpoints.directory))
    _syncpoints.reset()
    _syncpoints.reach("publish.staged")
    assert not (syncpoints.directory / "publish.staged.reached").exists()


def test_armed_point_pauses_until_released(
    syncpoints: SyncPoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_syncpoints.ENVIRONMENT_VARIABLE, str(syncpoints.directory))
    _syncpoints.reset()
    syncpoints.arm("prune.scanned")
    passed = threading.Event()

    def reach() -> None:
        _syncpoints.reach("prune.scanned")
        passed.set()

    thread = threading.Thread(target=reach)
    thread.start()
    syncpoints.wait_reached("prune.scanned")
    assert not passed.wait(0.1)
    syncpoints.release("prune.scanned")
    assert passed.wait(60)
    thread.join(60)


def test_unknown_point_names_fail_loudly(
    syncpoints: SyncPoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_syncpoints.ENVIRONMENT_VARIABLE, str(syncpoints.directory))
    _syncpoints.reset()
    with pytest.raises(ValueError, match="unknown sync point"):
        _syncpoints.reach("publish.typo")


def test_a_point_never_released_gives_up_after_the_wait_limit(
    syncpoints: SyncPoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_syncpoints.ENVIRONMENT_VARIABLE, str(syncpoints.directory))
    monkeypatch.setattr(_syncpoints, "WAIT_SECONDS", 0.05)
    _syncpoints.reset()
    syncpoints.arm("publish.staged")
    _syncpoints.reach("publish.staged")
    assert (syncpoints.directory / "publish.staged.reached").exists()
