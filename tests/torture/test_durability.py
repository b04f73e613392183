"""Durability order: what one add() asks of the disk, and in which order, traced with strace.

A crash may lose any write not yet fsynced, so the order of fsyncs and
renames is the whole of crash safety. For one ``add()`` the trace must show:
the wheel file fsynced, then the entry renamed into place, then its parent
directory fsynced; only then the pointer's temp file fsynced, renamed over
the pointer, and the pointer's directory fsynced. So a pointer can never
reach the disk before the entry it names. Directories created on the way
must themselves be made durable (their parent fsynced) before anything that
lives in them is relied on.

Needs Linux with strace and ptrace permitted; skips otherwise.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from wheelcache import Source, WheelCache
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from torture.torture_kit import Children, Ledger

pytestmark = pytest.mark.torture

SYSCALLS = "fsync,fdatasync,rename,renameat,renameat2,mkdir,mkdirat,openat"
S = Source("durable:s", "1", "demo")

_LINE = re.compile(r"^(\d+)\s+(.*)$")
_CALL = re.compile(r"^(\w+)\((.*?)(?:\)\s+=\s+(-?\d+).*| <unfinished \.\.\.>)$")
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*?)\)\s+=\s+(-?\d+)")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_FD_PATH = re.compile(r"^\d+<(.*)>$")


@dataclass
class Call:
    """One completed system call: its name, the paths it names, when it started and ended."""

    name: str
    paths: tuple[str, ...]
    start: int
    end: int


def parse(trace: str) -> list[Call]:
    """Successful calls of an ``strace -f -y`` trace, threads' unfinished calls joined up."""
    calls: list[Call] = []
    pending: dict[str, tuple[str, str, int]] = {}
    for number, line in enumerate(trace.splitlines()):
        matched = _LINE.match(line)
        if not matched:
            continue
        pid, rest = matched.groups()
        resumed = _RESUMED.match(rest)
        if resumed:
            name, tail, result = resumed.groups()
            if pid not in pending:
                continue
            name, arguments, start = pending.pop(pid)
            arguments += tail
        else:
            call = _CALL.match(rest)
            if not call:
                continue
            name, arguments, result = call.groups()
            start = number
            if result is None:
                pending[pid] = (name, arguments, number)
                continue
        if int(result) < 0:
            continue
        calls.append(Call(name, _paths(name, arguments), start, number))
    return calls


def _paths(name: str, arguments: str) -> tuple[str, ...]:
    if name in ("fsync", "fdatasync"):
        fd = _FD_PATH.match(arguments.strip())
        return (fd.group(1),) if fd else ()
    return tuple(bytes(q, "utf-8").decode("unicode_escape") for q in _QUOTED.findall(arguments))


def strace_or_skip() -> str:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    probe = subprocess.run(
        [strace, "-f", "-qq", "-o", "/dev/null", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(
            f"strace cannot trace here (is ptrace permitted?): {probe.stderr.decode().strip()}"
        )
    return strace


def trace_add(
    children: Children, tmp_path: Path, ledger_dir: Path, root: Path, wheel: Path
) -> list[Call]:
    strace = strace_or_skip()
    output = tmp_path / "add.strace"
    config = {
        "mode": "op",
        "op": "add",
        "root": str(root),
        "key": S.key,
        "freshness": S.freshness,
        "name": S.name,
        "wheel": str(wheel),
        "ledger": str(ledger_dir / "durability"),
    }
    command = [strace, "-f", "-y", "-qq", "-e", f"trace={SYSCALLS}", "-o", str(output)]
    result = children.start(config, strace=command).result()
    assert "error" not in result, result
    return parse(output.read_text())


class Timeline:
    """Finds calls in a trace and asserts orders between them."""

    def __init__(self, calls: list[Call]) -> None:
        self.calls = calls

    def find(
        self, what: str, name: tuple[str, ...], test: object, after: Call | None = None
    ) -> Call:
        for call in self.calls:
            if call.name in name and (after is None or call.start > after.end) and test(call):  # type: ignore[operator]
                return call
        shown = "\n".join(
            f"{c.start:5d} {c.name} {c.paths}" for c in self.calls if c.name != "openat"
        )
        raise AssertionError(
            f"the trace has no {what}{' after line ' + str(after.end) if after else ''}:\n{shown}"
        )

    def fsync(self, path: Path, what: str, after: Call | None = None) -> Call:
        return self.find(what, ("fsync", "fdatasync"), lambda c: c.paths == (str(path),), after)

    def rename(self, source: object, target: Path, what: str) -> Call:
        return self.find(
            what,
            ("rename", "renameat", "renameat2"),
            lambda c: len(c.paths) == 2 and source(c.paths[0]) and c.paths[1] == str(target),  # type: ignore[operator]
        )


def assert_add_order(
    calls: list[Call], root: Path, wheel: Path, sha256: str, ledger: Ledger
) -> None:
    line = Timeline(calls)
    staging = str(root / "staging-v1")
    entry = root / "wheels-v1" / sha256[:2] / sha256
    pointer = root / "sources-v1" / S.digest[:2] / f"{S.digest}.json"

    wheel_sync = line.find(
        "fsync of the staged wheel",
        ("fsync", "fdatasync"),
        lambda c: (
            c.paths and c.paths[0].startswith(staging) and c.paths[0].endswith(f"/{wheel.name}")
        ),
    )
    staged_dir = Path(wheel_sync.paths[0]).parent
    dir_sync = line.fsync(staged_dir, "fsync of the staged entry directory", after=wheel_sync)
    entry_rename = line.rename(
        lambda p: p == str(staged_dir), entry, "rename of the entry into place"
    )
    shard_sync = line.fsync(
        entry.parent, "fsync of the entry's parent after the rename", after=entry_rename
    )
    temp_sync = line.find(
        "fsync of the pointer's temp file",
        ("fsync", "fdatasync"),
        lambda c: c.paths and c.paths[0].startswith(str(pointer.parent / f".{S.digest}.")),
    )
    pointer_rename = line.rename(
        lambda p: p == temp_sync.paths[0], pointer, "replace of the pointer"
    )
    pointer_dir_sync = line.fsync(
        pointer.parent, "fsync of the pointer's directory", after=pointer_rename
    )

    order = [
        wheel_sync,
        dir_sync,
        entry_rename,
        shard_sync,
        temp_sync,
        pointer_rename,
        pointer_dir_sync,
    ]
    for before, after in zip(order, order[1:]):
        assert before.end < after.start, f"{before} must finish before {after} starts"
    ledger.event("durability orders checked")


def _wheel(tmp_path: Path, seed: int) -> tuple[Path, str]:
    import hashlib

    wheel = make_wheel(tmp_path / f"w{seed}", "demo", "1.0", seed=seed, payload_size=50_000)
    return wheel, hashlib.sha256(wheel.read_bytes()).hexdigest()


@pytest.mark.parametrize("cache_state", ["new", "used"], ids=["new-cache", "used-cache"])
def test_add_syncs_the_entry_before_the_pointer(
    tmp_path: Path, children: Children, ledger: Ledger, ledger_dir: Path, cache_state: str
) -> None:
    """In a new cache, and in a used one where the pointer exists and this add replaces it."""
    root = tmp_path / "cache"
    if cache_state == "used":
        WheelCache(root).add(S, _wheel(tmp_path, 1)[0])
    wheel, sha256 = _wheel(tmp_path, 2)
    calls = trace_add(children, tmp_path, ledger_dir, root, wheel)
    assert_add_order(calls, root, wheel, sha256, ledger)


def test_add_makes_every_directory_it_creates_durable(
    tmp_path: Path, children: Children, ledger: Ledger, ledger_dir: Path
) -> None:
    """A directory made by mkdir survives a crash only once its parent is fsynced.

    Every directory add() creates on the way to the entry or the pointer
    (the cache root, the buckets and their shards) must have its parent fsynced after the
    mkdir and before add() returns; otherwise a crash can lose the pointer
    (or entry) that was reported as added.
    """
    root = tmp_path / "cache"
    wheel, _sha256 = _wheel(tmp_path, 3)
    calls = trace_add(children, tmp_path, ledger_dir, root, wheel)
    line = Timeline(calls)
    durable = (root / "wheels-v1", root / "sources-v1")
    made = [
        c
        for c in calls
        if c.name in ("mkdir", "mkdirat")
        and (
            Path(c.paths[0]) == root
            or any(d == Path(c.paths[0]) or d in Path(c.paths[0]).parents for d in durable)
        )
    ]
    assert made, "expected add() to a new cache to create the wheel and pointer buckets"
    missing = []
    for mkdir in made:
        created = Path(mkdir.paths[0])
        try:
            line.fsync(created.parent, f"fsync of {created.parent}", after=mkdir)
        except AssertionError:
            missing.append(str(created))
    assert missing == [], f"directories created without fsyncing their parent: {missing}"
    ledger.event("durability orders checked")
