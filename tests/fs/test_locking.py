"""Locks: probing another process's lock, and waiting for one.

The holders are real processes; a probe must see their locks exactly as
filelock does, and must see the lock of a killed process as free.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import TYPE_CHECKING

import pytest

from procs import DEADLINE, wait_for_file
from wheelcache._fs import locking as _locking
from wheelcache._fs.locking import LockTimeout, hold, try_hold

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


def meddle_with_flock(
    monkeypatch: pytest.MonkeyPatch,
    *,
    before: Callable[[], None] | None = None,
    after: Callable[[], None] | None = None,
    every_time: bool = False,
) -> list[int]:
    """Run *before* and *after* around the next exclusive ``flock`` (or every one).

    Returns the descriptors of the calls meddled with, as they happen.
    """
    import fcntl

    real_flock = fcntl.flock
    seen: list[int] = []

    def flock(fd: int, operation: int) -> None:
        meddle = bool(operation & fcntl.LOCK_EX) and (every_time or not seen)
        if meddle:
            seen.append(fd)
            if before is not None:
                before()
        real_flock(fd, operation)
        if meddle and after is not None:
            after()

    monkeypatch.setattr(fcntl, "flock", flock)
    return seen


def replace_file(lock: Path) -> None:
    """Put a new file at *lock*, as prune's removal of an orphan lock file and
    another process's new one would leave it."""
    fresh = lock.with_name("new.lock")
    fresh.touch()
    os.replace(fresh, lock)


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


@pytest.mark.parametrize("probe", PROBES)
def test_probe_with_create_creates_and_holds_a_missing_lock_file(
    tmp_path: Path, probe: Callable[..., AbstractContextManager[bool]]
) -> None:
    """Prune retires a pointer under its lock even when no writer ever made the file."""
    lock = tmp_path / "shard" / "absent.lock"
    with probe(lock, create=True) as held:
        assert held is True
        assert lock.exists()
        with probe(lock) as again:
            assert again is False  # held by us: another attempt must not get it


@pytest.mark.parametrize("probe", PROBES)
def test_probe_with_create_does_not_take_a_lock_held_by_another_process(
    holder: tuple[Path, subprocess.Popen[bytes]],
    probe: Callable[..., AbstractContextManager[bool]],
) -> None:
    lock, _process = holder
    with probe(lock, create=True) as held:
        assert held is False


@pytest.mark.skipif(os.name != "posix", reason="the flock probe is the POSIX one")
def test_probe_refuses_a_lock_file_replaced_while_it_was_being_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Callers delete what they hold, so holding a replaced file must not count."""
    lock = tmp_path / "demo.lock"
    lock.touch()
    meddle_with_flock(monkeypatch, before=lambda: replace_file(lock))
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


def no_flock_here(path: Path) -> int:
    """Stands in for ``_locking._flock_now`` on a filesystem without ``flock``
    (an NFS mount without lockd answers ENOLCK)."""
    raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))


@pytest.fixture(params=["direct", "filelock"])
def lock_path_taken(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with hold() taking flock itself, and with hold() left to filelock."""
    if request.param == "filelock":
        monkeypatch.setattr(_locking, "_flock_now", no_flock_here)
    return str(request.param)


def test_hold_gives_up_after_its_timeout(
    holder: tuple[Path, subprocess.Popen[bytes]], lock_path_taken: str
) -> None:
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
    meddle_with_flock(monkeypatch, before=lambda: replace_file(lock))
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


@pytest.mark.skipif(os.name != "posix", reason="the direct flock is the POSIX one")
def test_hold_falls_back_to_filelock_where_flock_fails_with_another_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOLCK from the first flock: the lock is left to filelock, which takes it."""
    lock = tmp_path / "demo.lock"

    def no_lock_available() -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    failed = meddle_with_flock(monkeypatch, before=no_lock_available)
    with hold(lock, timeout=0, purpose="building demo"):
        assert failed
        assert filelock_sees(lock) == "held"
    assert filelock_sees(lock) == "free"


@pytest.mark.skipif(os.name != "posix", reason="the direct flock is the POSIX one")
def test_hold_takes_the_new_file_if_its_lock_file_is_removed_once_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "demo.lock"
    # As prune removing an orphan lock file would, right after our flock.
    removed = meddle_with_flock(monkeypatch, after=lock.unlink)
    with hold(lock, timeout=0, purpose="building demo"):
        monkeypatch.undo()
        assert removed
        assert filelock_sees(lock) == "held"


@pytest.mark.skipif(os.name != "posix", reason="the direct flock is the POSIX one")
def test_a_lock_file_replaced_at_every_attempt_counts_as_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "demo.lock"
    meddle_with_flock(monkeypatch, before=lambda: replace_file(lock), every_time=True)
    with (
        pytest.raises(LockTimeout, match="building demo"),
        hold(lock, timeout=0, purpose="building demo"),
    ):
        pytest.fail("a lock file that never stays put was taken")


def test_hold_waits_for_a_held_lock_and_takes_it_once_released(
    holder: tuple[Path, subprocess.Popen[bytes]],
    caplog: pytest.LogCaptureFixture,
    lock_path_taken: str,
) -> None:
    lock, process = holder
    killer = threading.Timer(0.3, process.kill)
    killer.start()
    try:
        with (
            caplog.at_level(logging.INFO, logger="wheelcache"),
            hold(lock, timeout=DEADLINE, purpose="building demo"),
        ):
            assert process.wait(timeout=DEADLINE) == -signal.SIGKILL  # got it by the death
            assert filelock_sees(lock) == "held"
    finally:
        killer.cancel()
    assert "waiting for another process to finish building demo" in caplog.text


def test_a_waiter_locks_the_file_now_at_the_path_not_the_one_it_first_found(
    holder: tuple[Path, subprocess.Popen[bytes]],
) -> None:
    """Prune may replace an orphan lock file meanwhile: the waiter must follow the path."""
    lock, process = holder
    first = lock.stat().st_ino
    fresh = lock.with_name("fresh.lock")

    def replace_the_file() -> None:
        fresh.touch()
        os.replace(fresh, lock)  # the holder still holds the old, now unlinked, file

    replacer = threading.Timer(0.3, replace_the_file)
    replacer.start()
    try:
        with hold(lock, timeout=DEADLINE, purpose="building demo"):
            assert process.poll() is None  # the old holder is still alive and holding
            assert lock.stat().st_ino != first
            assert filelock_sees(lock) == "held"
    finally:
        replacer.cancel()
