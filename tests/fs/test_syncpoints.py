"""The sync-point hook that lets tests pause a process at a named protocol step."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from wheelcache._fs import syncpoints as _syncpoints

if TYPE_CHECKING:
    from pathlib import Path

    from procs import SyncPoints


@pytest.fixture
def obeyed(syncpoints: SyncPoints, monkeypatch: pytest.MonkeyPatch) -> SyncPoints:
    """Sync points that this very process obeys (the environment variable names them)."""
    monkeypatch.setenv(_syncpoints.ENVIRONMENT_VARIABLE, str(syncpoints.directory))
    _syncpoints.reset()
    return syncpoints


def test_reach_does_nothing_without_the_environment_variable(tmp_path: Path) -> None:
    _syncpoints.reach("publish.staged")  # returns at once; would hang otherwise
    assert list(tmp_path.iterdir()) == []


def test_unarmed_point_does_not_pause(obeyed: SyncPoints) -> None:
    _syncpoints.reach("publish.staged")
    assert not (obeyed.directory / "publish.staged.reached").exists()


def test_armed_point_pauses_until_released(obeyed: SyncPoints) -> None:
    obeyed.arm("prune.scanned")
    passed = threading.Event()

    def reach() -> None:
        _syncpoints.reach("prune.scanned")
        passed.set()

    thread = threading.Thread(target=reach)
    thread.start()
    obeyed.wait_reached("prune.scanned")
    assert not passed.wait(0.1)
    obeyed.release("prune.scanned")
    assert passed.wait(60)
    thread.join(60)


@pytest.mark.usefixtures("obeyed")
def test_unknown_point_names_fail_loudly() -> None:
    with pytest.raises(ValueError, match="unknown sync point"):
        _syncpoints.reach("publish.typo")


def test_a_point_never_released_gives_up_after_the_wait_limit(
    obeyed: SyncPoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_syncpoints, "WAIT_SECONDS", 0.05)
    obeyed.arm("publish.staged")
    _syncpoints.reach("publish.staged")
    assert (obeyed.directory / "publish.staged.reached").exists()
