"""Fixtures of the torture suite, and the summary it prints at the end of a run.

Every process the suite runs (pytest itself included) counts its work in a
ledger file; :func:`pytest_terminal_summary` adds them up and prints
processes, operations, kills and errors.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from torture.torture_kit import Children, Counted, Ledger, aggregate, soak_seconds
from wheelcache import WheelCache

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

LEDGER_DIR = pytest.StashKey["Path"]()
STARTED = pytest.StashKey[float]()


@pytest.fixture(scope="session")
def ledger_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where every process of this run writes its counters."""
    directory = tmp_path_factory.mktemp("torture-ledger")
    request.config.stash[LEDGER_DIR] = directory
    request.config.stash[STARTED] = time.monotonic()
    return directory


@pytest.fixture(scope="session")
def ledger(ledger_dir: Path) -> Iterator[Ledger]:
    """The pytest process's own counters."""
    own = Ledger(ledger_dir, "pytest")
    yield own
    own.flush()


@pytest.fixture(autouse=True)
def _flush_ledger(ledger: Ledger) -> Iterator[None]:
    yield
    ledger.flush()


@pytest.fixture
def children(ledger: Ledger, tmp_path: Path) -> Iterator[Children]:
    """Starts stress_worker.py children; kills and reaps them whatever the test's outcome."""
    started = Children(ledger, tmp_path / "child-logs")
    yield started
    started.reap()


@pytest.fixture
def counted(ledger: Ledger, tmp_path: Path) -> Counted:
    """A cache in tmp_path whose calls are counted in the summary."""
    return Counted(WheelCache(tmp_path / "cache"), ledger)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    directory = config.stash.get(LEDGER_DIR, None)
    if directory is None:
        return
    totals = aggregate(directory)
    ops, events = totals["ops"], totals["events"]
    seconds = time.monotonic() - config.stash[STARTED]
    soak = soak_seconds()
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", "wheelcache torture summary")
    write(
        f"wall time of the torture tests: {seconds:.1f}s; soak: {f'{soak:.0f}s' if soak else 'off'}"
    )
    write(f"processes: {events.get('processes started', 0)} child processes started")
    breakdown = ", ".join(
        f"{kind} {count}" for kind, count in sorted(ops.items(), key=lambda kv: -kv[1])
    )
    write(f"operations: {sum(ops.values())} ({breakdown})")
    write(f"kills: {events.get('SIGKILLs', 0)} SIGKILLs")
    errors = totals["errors"]
    failed = len(terminalreporter.stats.get("failed", [])) + len(
        terminalreporter.stats.get("error", [])
    )
    write(f"errors: {len(errors) + failed} ({len(errors)} in workers, {failed} failed tests)")
    for prefix, label in (
        ("typed refusal: ", "typed refusals (as the tests required)"),
        ("passed through: ", "exceptions of the caller's own build passed through"),
    ):
        seen = {k[len(prefix) :]: v for k, v in events.items() if k.startswith(prefix)}
        if seen:
            write(f"{label}: " + ", ".join(f"{k} {v}" for k, v in sorted(seen.items())))
    reads = [
        "wheels read whole",
        "bad reads",
        "late reads (after the grace)",
        "transient vanish-and-restore windows",
        "handed-out files gone (prune with grace 0)",
    ]
    write("reads: " + ", ".join(f"{kind} {events.get(kind, 0)}" for kind in reads))
    skip = {"processes started", "SIGKILLs", *reads}
    rest = {
        k: v
        for k, v in events.items()
        if k not in skip and not k.startswith(("typed refusal: ", "passed through: "))
    }
    if rest:
        write("other events: " + ", ".join(f"{k} {v}" for k, v in sorted(rest.items())))
    for error in errors[:10]:
        lines = [line for line in error.splitlines() if line.strip()]
        write(f"ERROR {lines[0]} {lines[-1].strip() if len(lines) > 1 else ''}"[:300])
    for headline in totals["headlines"]:
        write(headline)
    for note in totals["notes"][:10]:
        write(f"note {note}")
