"""Locks: probing another process's lock, and waiting for one.

The holders are real processes; a probe must see their locks exactly as
filelock does, and must see the lock of a killed process as free.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import pytest

from procs import DEADLINE, wait_for_file
from wheelcache import _locking
from wheelcache._locking import LockTimeout, hold, try_hold

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

    Probe = Callable[[Path], AbstractContextManager[bool]]

PROBES = [
    pytest.param(try_hold, id="this-platform"),
    pytest.param(_locking._try_hold_portably, id="portable-filelock"),
]

_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from filelock import FileLock
    lock = FileLock(sys.argv[1])
    lock.acquire(timeout=60)
    Path(sys.argv[2]).touch()
    time.sleep(600)
    """
)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """A process holding the filelock at ``lock`` until it is killed."""
    lock, ready = tmp_path / "demo.lock", tmp_path / "ready"
    process = subprocess.Popen([sys.executable, "-c", _HOLDER, str(lock), str(ready)])
    try:
        wait_for_file(ready)
        yield lock, process
    finally:
        process.kill()
        process.wait(timeout=DEADLINE)


def replace_before_the_first_flock(lock: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next exclusive ``flock`` find *lock* replaced by a new file, as prune's
    removal of an orphan lock file and another process's new one would leave it."""
    import fcntl

    real_flock = fcntl.flock
    replaced: list[bool] = []

    def replaced_first(fd: int, operation: int) -> None:
        if not replaced and operation & fcntl.LOCK_EX:
            replaced.append(True)
            fresh = lock.with_name("new.lock")
            fresh.touch()
            os.replace(fresh, lock)
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", replaced_first)


@pytest.mark.parametrize("probe", PROBES)
def test_probe_sees_a_lock_held_by_another_process(
    holder: tuple[Path, subprocess.Popen[bytes]], probe: Probe
) -> None:
    lock, _ = holder
    with probe(lock) as held:
        assert held is False


@pytest.mark.parametrize("probe", PROBES)
def test_probe_sees_the_lock_of_a_killed_process_as_free(
    holder: tuple[Path, subprocess.Popen[bytes]], probe: Probe
) -> None:
    lock, process = holder
    process.kill()
    process.wait(timeout=DEADLINE)
    with probe(lock) as held:
        assert held is True


@pytest.mark.parametrize("probe", PROBES)
def test_probe_holds_the_lock_until_it_ends(tmp_path: Path, probe: Probe) -> None:
    lock = tmp_path / "demo.lock"
    lock.touch()
    with probe(lock) as held:
        assert held is True
        with try_hold(lock) as again:
            assert again is False  # what filelock would also see
    with try_hold(lock) as after:
        assert after is True


@pytest.mark.parametrize("probe", PROBES)
def test_probe_never_creates_a_missing_lock_file(tmp_path: Path, probe: Probe) -> None:
    lock = tmp_path / "absent.lock"
    with probe(lock) as held:
        assert held is False
    assert not lock.exists()


@pytest.mark.skipif(os.name != "posix", reason="the flock probe is the POSIX one")
def test_probe_refuses_a_lock_file_replaced_while_it_was_being_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Callers delete what they hold, so holding a replaced file must not count."""
    lock = tmp_path / "demo.lock"
    lock.touch()
    replace_before_the_first_flock(lock, monkeypatch)
    with try_hold(lock) as held:
        assert held is False


def test_body_exceptions_pass_through_a_held_probe(tmp_path: Path) -> None:
    lock = tmp_path / "demo.lock"
    lock.touch()

    def fail_while_holding() -> None:
        with try_hold(lock) as held:
            assert held
            raise KeyError("from the body")

    with pytest.raises(KeyError, match="from the body"):
        fail_while_holding()
    with try_hold(lock) as after:
        assert after is True  # and the lock was released


def test_hold_gives_up_after_its_timeout(holder: tuple[Path, subprocess.Popen[bytes]]) -> None:
    lock, _ = holder
    with (
        pytest.raises(LockTimeout, match="building demo"),
        hold(lock, timeout=0.05, purpose="building demo"),
    ):
        pytest.fail("the lock was held by another process")


def test_hold_waits_for_a_killed_holder_only_until_its_death(
    holder: tuple[Path, subprocess.Popen[bytes]],
) -> None:
    lock, process = holder
    process.kill()
    process.wait(timeout=DEADLINE)
    with hold(lock, timeout=DEADLINE, purpose="building demo"), try_hold(lock) as probed:
        assert probed is False  # held by us now


_TRY_FILELOCK = textwrap.dedent(
    """
    import sys
    from filelock import FileLock, Timeout
    try:
        FileLock(sys.argv[1]).acquire(timeout=0)
    except Timeout:
        print("held")
    else:
        print("free")
    """
)


def filelock_sees(lock: Path) -> str:
    """What another process using filelock finds the lock at *lock* to be: "held" or "free"."""
    done = subprocess.run(
        [sys.executable, "-c", _TRY_FILELOCK, str(lock)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=True,
    )
    return done.stdout.strip()


def test_a_lock_held_by_hold_is_held_for_filelock_in_another_process(tmp_path: Path) -> None:
    lock = tmp_path / "demo.lock"
    with hold(lock, timeout=0, purpose="building demo"):
        assert filelock_sees(lock) == "held"
    assert filelock_sees(lock) == "free"


def test_hold_creates_the_directory_of_its_lock_file(tmp_path: Path) -> None:
    lock = tmp_path / "a" / "b" / "demo.lock"
    with hold(lock, timeout=0, purpose="building demo"), try_hold(lock) as probed:
        assert probed is False  # held by us
    assert lock.exists()


@pytest.mark.skipif(os.name != "posix", reason="the direct flock is the POSIX one")
def test_hold_locks_the_file_now_at_its_path_if_it_was_replaced_while_being_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Garbage collection removes orphan lock files; holding a removed one excludes nobody."""
    lock = tmp_path / "demo.lock"
    lock.touch()
    first = lock.stat().st_ino
    replace_before_the_first_flock(lock, monkeypatch)
    with hold(lock, timeout=0, purpose="building demo"):
        monkeypatch.undo()
        assert lock.stat().st_ino != first  # it was replaced
        assert filelock_sees(lock) == "held"  # and the new file is the one held


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_hold_releases_its_lock_even_if_a_forked_child_still_has_the_file_open(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "demo.lock"
    with hold(lock, timeout=0, purpose="building demo"):
        child = os.fork()
        if child == 0:  # pragma: no cover - the child only sleeps until it is killed
            time.sleep(DEADLINE)
            os._exit(0)
    try:
        assert filelock_sees(lock) == "free"
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def test_hold_falls_back_to_filelock_where_it_cannot_flock_directly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "demo.lock"
    monkeypatch.setattr(_locking, "_flock_now", lambda path: None)
    with hold(lock, timeout=0, purpose="building demo"):
        assert filelock_sees(lock) == "held"
    assert filelock_sees(lock) == "free"
