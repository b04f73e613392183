"""Forks: only the process that made a workspace or took a lock gives it up (issue 12, item 6).

A build callback may fork (a build backend running a compiler through
``os.fork`` without exec, a test suite using multiprocessing's fork start
method). The child has a copy of the parent's stack: if it leaves through
``sys.exit()``, it unwinds the parent's ``with`` blocks in its own copy. Each
scenario runs in a real process (forking pytest itself would let the child
carry on running the suite).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from procs import DEADLINE, wait_for_file, wait_until
from wheelcache._fs.locking import try_hold

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

TESTS = Path(__file__).resolve().parent.parent

BUILD_THAT_FORKS = """
import os, shutil, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from wheelcache import Source, WheelCache
from wheelfactory import make_wheel

def build(output):
    child = os.fork()
    if child == 0:
        sys.exit(0)  # unwinds get_or_build's blocks in the child's copy of the stack
    os.waitpid(child, 0)
    made = make_wheel(Path(sys.argv[3]), "demo", "1.0")
    shutil.copy(made, output / made.name)  # needs the workspace still there

print(WheelCache(sys.argv[2]).get_or_build(Source("forking"), build).path, flush=True)
"""

HOLD_THEN_FORK = """
import os, sys, time
from pathlib import Path
from wheelcache._fs.locking import hold

lock, go_child, child_done = (Path(argument) for argument in sys.argv[1:4])
mode = sys.argv[4]

def wait_for(path):
    while not path.exists():
        time.sleep(0.005)

with hold(lock, timeout=None, purpose="testing forks"):
    child = os.fork()
    if child == 0:
        wait_for(go_child)
        if mode == "unwind":
            sys.exit(0)  # unwinds the hold() block in the child's copy
        os._exit(0)
    print(child, flush=True)
    if mode == "unwind":
        os.waitpid(child, 0)
        child_done.touch()
    time.sleep(3600)  # the test kills this process
"""


def spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def reap(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=DEADLINE)


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def is_held(lock: Path) -> bool:
    with try_hold(lock) as free:
        return not free


def test_a_forked_child_that_exits_leaves_the_parents_workspace_alone(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    process = spawn(BUILD_THAT_FORKS, str(TESTS), str(root), str(tmp_path / "made"))
    try:
        out, err = process.communicate(timeout=DEADLINE)
    finally:
        reap(process)

    assert process.returncode == 0, err
    path = Path(out.strip().splitlines()[-1])
    assert path.is_file()
    assert list((root / "staging-v1").iterdir()) == []  # the parent removed its own


def test_a_forked_child_unwinding_a_lock_does_not_release_it(tmp_path: Path) -> None:
    lock = tmp_path / "locks" / "x.lock"
    go_child, child_done = tmp_path / "go", tmp_path / "child-done"
    process = spawn(HOLD_THEN_FORK, str(lock), str(go_child), str(child_done), "unwind")
    try:
        assert process.stdout is not None
        int(process.stdout.readline())
        assert is_held(lock)

        go_child.touch()
        wait_for_file(child_done)

        assert is_held(lock)  # still the parent's
    finally:
        reap(process)
    wait_until(lambda: not is_held(lock), "the lock freed by the parent's death")


def test_a_lock_held_across_a_fork_stays_held_until_the_child_exits(tmp_path: Path) -> None:
    lock = tmp_path / "locks" / "x.lock"
    go_child = tmp_path / "go"
    process = spawn(HOLD_THEN_FORK, str(lock), str(go_child), str(tmp_path / "unused"), "exit")
    assert process.stdout is not None
    child = int(process.stdout.readline())
    try:
        process.kill()  # the parent dies holding the lock; its forked child lives on
        process.wait(timeout=DEADLINE)  # not communicate(): the child keeps the pipes open
        # flock: the lock belongs to the open file, which the child shares.
        assert is_held(lock)

        go_child.touch()  # the child exits without exec
        wait_until(lambda: not is_held(lock), "the lock freed by the child's exit")
    finally:
        kill_quietly(child)
        reap(process)
