"""Real child processes for concurrency tests: deadlines, results, reaping.

Modelled on how filelock tests its locks: real processes, a start barrier,
every wait bounded by a named deadline, and a registry that always kills and
reaps children, even when a test fails half-way.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["DEADLINE", "Child", "SyncPoints", "reap_all", "start", "wait_for_file"]

DEADLINE = 120.0
"""The longest any single wait in a concurrency test may take (generous: a busy 2-core CI box)."""

WORKER = Path(__file__).resolve().parent / "worker.py"

_children: list[Child] = []


class Child:
    """One worker process performing one operation."""

    def __init__(self, op: dict[str, Any], env: dict[str, str] | None = None) -> None:
        environment = dict(os.environ)
        environment.pop("WHEELCACHE_SYNCPOINTS", None)
        environment.update(env or {})
        self.op = op
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), json.dumps(op)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
            text=True,
        )
        _children.append(self)

    @property
    def pid(self) -> int:
        return self.process.pid

    def result(self, deadline: float = DEADLINE) -> dict[str, Any]:
        """Wait (bounded) for the child; return its JSON result, failing on any error."""
        try:
            out, err = self.process.communicate(timeout=deadline)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"worker {self.op['op']} missed its {deadline}s deadline"
            ) from None
        lines = out.strip().splitlines()
        if self.process.returncode != 0 or not lines:
            raise AssertionError(f"worker {self.op} exited {self.process.returncode}: {out}\n{err}")
        result: dict[str, Any] = json.loads(lines[-1])
        return result

    def kill(self) -> None:
        """SIGKILL the child (no cleanup handlers run) and reap it."""
        if self.process.poll() is None:
            self.process.send_signal(
                signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM
            )
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.communicate(timeout=DEADLINE)


def start(op: dict[str, Any], env: dict[str, str] | None = None) -> Child:
    """Start a worker performing *op* (see tests/worker.py)."""
    return Child(op, env)


def wait_for_file(path: Path, deadline: float = DEADLINE) -> None:
    """Wait (bounded) until *path* exists."""
    limit = time.monotonic() + deadline
    while not path.exists():
        if time.monotonic() > limit:
            raise AssertionError(f"{path} did not appear within {deadline}s")
        time.sleep(0.005)


def reap_all() -> None:
    """Kill and reap every child still running (called after each test)."""
    while _children:
        child = _children.pop()
        if child.process.poll() is None:
            child.kill()
        else:
            child.process.communicate()


class SyncPoints:
    """Controls the sync points of child processes (see wheelcache._syncpoints)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        """Environment that makes a child obey these sync points."""
        return {"WHEELCACHE_SYNCPOINTS": str(self.directory)}

    def arm(self, name: str) -> None:
        (self.directory / f"{name}.arm").touch()

    def wait_reached(self, name: str, deadline: float = DEADLINE) -> int:
        """Wait until a child pauses at *name*; return its pid."""
        marker = self.directory / f"{name}.reached"
        limit = time.monotonic() + deadline
        while True:
            try:
                text = marker.read_text()
            except FileNotFoundError:
                text = ""
            if text:
                return int(text)
            if time.monotonic() > limit:
                raise AssertionError(f"no process reached sync point {name} within {deadline}s")
            time.sleep(0.005)

    def release(self, name: str) -> None:
        (self.directory / f"{name}.release").touch()
