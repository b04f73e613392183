"""Shared pieces of the torture suite: the ledger, the stress workload, cache inspection, children.

The parent test and its child processes (``stress_worker.py``) both import
this module, so they agree on what each source's wheels are and can check any
wheel the cache hands out against what it must be.

The *ledger* is how the suite counts what it did: every process (the pytest
process included) keeps counters and writes them, atomically and often, to
one JSON file of its own in a session directory. The torture conftest adds
them up at the end of the run. A child killed with SIGKILL loses at most its
last quarter second of counts.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

TESTS = Path(__file__).resolve().parent.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from procs import DEADLINE, SRC, wait_until  # noqa: E402
from wheelcache import CachedWheel, CacheError, Source, WheelCache  # noqa: E402
from wheelfactory import make_wheel  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = [
    "DEADLINE",
    "SOAK_VARIABLE",
    "SOURCES",
    "Children",
    "Counted",
    "Ledger",
    "Wheelhouse",
    "aggregate",
    "assert_entries_complete",
    "assert_locks_free",
    "assert_no_debris",
    "assert_pointers_resolve",
    "assert_settled",
    "busy_loops",
    "entry_digests",
    "pointer_digests",
    "read_back",
    "soak_seconds",
]

SOAK_VARIABLE = "WHEELCACHE_SOAK"
STRESS_WORKER = Path(__file__).resolve().parent / "stress_worker.py"
BUSY_VARIABLE = "WHEELCACHE_BUSY"


def soak_seconds() -> float | None:
    """Seconds each stress part runs when ``WHEELCACHE_SOAK`` is set, else None."""
    value = os.environ.get(SOAK_VARIABLE, "").strip()
    if not value:
        return None
    seconds = float(value)
    if seconds <= 0:
        raise ValueError(f"{SOAK_VARIABLE} must be a positive number of seconds, not {value!r}")
    return seconds


def busy_loops() -> int:
    """How many busy-loop processes keep the CPUs contended during a stress run.

    ``WHEELCACHE_BUSY`` gives the number; unset, it is one per CPU in soak
    mode and none otherwise. Contention preempts processes between any two
    system calls, which is what widens the windows races need.
    """
    value = os.environ.get(BUSY_VARIABLE, "").strip()
    if not value:
        return (os.cpu_count() or 1) if soak_seconds() else 0
    count = int(value)
    if count < 0:
        raise ValueError(f"{BUSY_VARIABLE} must be a number of processes, not {value!r}")
    return count


# -- the ledger --------------------------------------------------------------------------


class Ledger:
    """Counters of one process, flushed to a JSON file of its own in *directory*."""

    def __init__(self, directory: Path, role: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{role}-{os.getpid()}-{secrets.token_hex(4)}.json"
        self.role = role
        self.ops: collections.Counter[str] = collections.Counter()
        self.events: collections.Counter[str] = collections.Counter()
        self.errors: list[str] = []
        self.notes: list[str] = []
        self.headlines: list[str] = []
        self._flushed = 0.0

    def op(self, kind: str, count: int = 1) -> None:
        self.ops[kind] += count

    def event(self, kind: str, count: int = 1) -> None:
        self.events[kind] += count

    def error(self, text: str) -> None:
        """An unexpected failure: the run must not pass with any of these."""
        self.errors.append(text)
        self.flush()

    def note(self, text: str) -> None:
        """A detail worth reporting that is not a failure (the first 50 are kept)."""
        if len(self.notes) < 50:
            self.notes.append(text)

    def headline(self, text: str) -> None:
        """A one-line result of a whole test (always printed)."""
        self.headlines.append(text)

    def flush(self, *, every: float = 0.0) -> None:
        """Write the counters (atomically); with *every*, at most that often."""
        now = time.monotonic()
        if every and now - self._flushed < every:
            return
        self._flushed = now
        document = {
            "role": self.role,
            "pid": os.getpid(),
            "ops": dict(self.ops),
            "events": dict(self.events),
            "errors": self.errors,
            "notes": self.notes,
            "headlines": self.headlines,
        }
        temp = self.path.with_name(f".{self.path.name}.tmp")
        temp.write_text(json.dumps(document))
        os.replace(temp, self.path)


def aggregate(directory: Path) -> dict[str, Any]:
    """Add up every ledger file below *directory*."""
    ops: collections.Counter[str] = collections.Counter()
    events: collections.Counter[str] = collections.Counter()
    errors: list[str] = []
    notes: list[str] = []
    headlines: list[str] = []
    files = 0
    try:
        found = sorted(directory.rglob("*.json"))
    except FileNotFoundError:  # another pytest session on this machine pruned our basetemp
        found = []
    for _path, document in _json_documents(found):
        files += 1
        ops.update(document.get("ops", {}))
        events.update(document.get("events", {}))
        errors.extend(
            f"{document.get('role')}[{document.get('pid')}]: {e}"
            for e in document.get("errors", [])
        )
        notes.extend(
            f"{document.get('role')}[{document.get('pid')}]: {n}" for n in document.get("notes", [])
        )
        headlines.extend(document.get("headlines", []))
    return {
        "ops": ops,
        "events": events,
        "errors": errors,
        "notes": notes,
        "headlines": headlines,
        "files": files,
    }


class Counted:
    """A WheelCache whose public calls are counted in a ledger (for in-process tests).

    Exceptions are counted by type: a :class:`CacheError` is a typed refusal;
    anything else passed through from the caller's own code (a build that
    fails). Whether either was expected is for the test to assert.
    """

    _COUNTED = frozenset(
        {"add", "clean", "find", "get", "get_or_build", "prune", "sources", "verify", "wheels"}
    )

    def __init__(self, cache: WheelCache, ledger: Ledger) -> None:
        self._cache = cache
        self._ledger = ledger

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._cache, name)
        if name not in self._COUNTED:
            return attribute
        ledger = self._ledger

        def call(*args: Any, **kwargs: Any) -> Any:
            ledger.op(name)
            try:
                return attribute(*args, **kwargs)
            except CacheError as exc:
                ledger.event(f"typed refusal: {type(exc).__name__}")
                raise
            except Exception as exc:
                ledger.event(f"passed through: {type(exc).__name__}")
                raise

        return call


# -- the stress workload: sources and their wheels ---------------------------------------


@dataclass(frozen=True)
class SourceSpec:
    """One source of the stress workload and how its revisions' wheels are made."""

    key: str
    project: str
    cycle: int
    """Revision r builds the same bytes as revision r - cycle (0: every revision is new)."""
    tags: tuple[str, ...]
    payload: int

    def seed(self, revision: int) -> int:
        return revision % self.cycle if self.cycle else 1000 + revision


SOURCES = (
    # Reproducible: revision r has the bytes of r-3, which prune may have taken already.
    SourceSpec("torture:alpha", "alpha", 3, ("py3-none-any",), 8 << 10),
    # Two wheels per revision (the pointer merges them); reproducible every 2 revisions.
    SourceSpec("torture:beta", "beta", 2, ("py3-none-any", "py2.py3-none-any"), 2 << 10),
    # Another key building byte-identical wheels to alpha: entries shared across sources.
    SourceSpec("torture:alpha mirror/../\\", "alpha", 3, ("py3-none-any",), 8 << 10),
    # Never reproducible, and larger.
    SourceSpec("torture:gamma\0\udc80", "gamma", 0, ("py3-none-any",), 64 << 10),
)


def source_for(index: int, revision: int) -> Source:
    spec = SOURCES[index]
    return Source(spec.key, f"rev-{revision}", spec.project)


class Wheelhouse:
    """The wheels of each (source, revision), built on demand into *directory*, with digests."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._built: dict[tuple[int, int], list[tuple[Path, str]]] = {}

    def wheels(self, index: int, revision: int) -> list[tuple[Path, str]]:
        """[(path, sha256)] of the wheels revision *revision* of source *index* builds."""
        key = (index, revision)
        if key not in self._built:
            spec = SOURCES[index]
            out = self.directory / f"{index}-{revision}"
            built = []
            for tags in spec.tags:
                path = make_wheel(
                    out,
                    spec.project,
                    "1.0",
                    tags,
                    seed=spec.seed(revision),
                    payload_size=spec.payload,
                )
                built.append((path, hashlib.sha256(path.read_bytes()).hexdigest()))
            self._built[key] = built
        return self._built[key]

    def digests(self, index: int, revision: int) -> set[str]:
        return {sha for _path, sha in self.wheels(index, revision)}


# -- reading what the cache hands out ------------------------------------------------------


@dataclass
class ReadOutcome:
    ok: bool
    problem: str = ""
    vanished: bool = False
    """The file was missing when opened."""
    came_back: bool = False
    """...and reappeared within the polling window (prune's trash-and-restore)."""
    in_trash: bool = False
    """...and its entry was seen in trash-v1 at that moment."""
    seconds: float = 0.0


def read_back(wheel: CachedWheel, root: Path, handed_at: float) -> ReadOutcome:
    """Read a handed-out wheel whole: size, SHA-256 and a full zip test (every CRC).

    A missing file is looked at again for half a second and the trash is
    searched, so a report can tell "gone" from prune's documented
    trash-then-restore window.
    """
    try:
        with open(wheel.path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        seconds = time.monotonic() - handed_at
        in_trash = any((root / "trash-v1").glob(f"{wheel.sha256}.*"))
        came_back = False
        limit = time.monotonic() + 0.5
        while time.monotonic() < limit:
            if wheel.path.exists():
                came_back = True
                break
            time.sleep(0.001)
        return ReadOutcome(False, f"{wheel.path} is missing", True, came_back, in_trash, seconds)
    except OSError as exc:
        return ReadOutcome(False, f"{wheel.path} cannot be read: {exc}")
    seconds = time.monotonic() - handed_at
    if len(data) != wheel.size:
        return ReadOutcome(
            False, f"{wheel.path}: {len(data)} bytes, not {wheel.size}", seconds=seconds
        )
    actual = hashlib.sha256(data).hexdigest()
    if actual != wheel.sha256:
        return ReadOutcome(False, f"{wheel.path} hashes to {actual}", seconds=seconds)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            bad = archive.testzip()
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        return ReadOutcome(False, f"{wheel.path} is not a readable zip: {exc}", seconds=seconds)
    if bad is not None:
        return ReadOutcome(False, f"{wheel.path}: member {bad} fails its CRC", seconds=seconds)
    if not any(name.endswith(".dist-info/METADATA") for name in names):
        return ReadOutcome(False, f"{wheel.path} has no METADATA", seconds=seconds)
    return ReadOutcome(True, seconds=time.monotonic() - handed_at)


# -- inspecting a cache --------------------------------------------------------------------


def _json_documents(paths: Iterable[Path]) -> Iterator[tuple[Path, Any]]:
    """Each of *paths* that holds readable JSON, with its document; temp files (".name") skipped."""
    for path in paths:
        if path.name.startswith("."):
            continue
        try:
            document = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        yield path, document


def entry_digests(root: Path) -> set[str]:
    """The digests of every directory in wheels-v1 (complete or not)."""
    wheels = root / "wheels-v1"
    if not wheels.exists():
        return set()
    return {entry.name for shard in wheels.iterdir() if shard.is_dir() for entry in shard.iterdir()}


def pointer_digests(root: Path) -> dict[Path, set[str]]:
    """Each pointer file and the entry digests it names (any pointer version)."""
    found: dict[Path, set[str]] = {}
    pointers = root / "sources-v1"
    if not pointers.exists():
        return found
    for path, document in _json_documents(pointers.glob("*/*.json")):
        found[path] = {w["sha256"] for w in document.get("wheels", []) if isinstance(w, dict)}
    return found


def assert_entries_complete(root: Path) -> int:
    """Every entry visible in wheels-v1 holds exactly one wheel whose bytes hash to its name."""
    checked = 0
    wheels = root / "wheels-v1"
    if not wheels.exists():
        return 0
    for shard in wheels.iterdir():
        for entry in shard.iterdir():
            names = os.listdir(entry)
            assert len(names) == 1, f"partial entry {entry}: {names}"
            assert names[0].endswith(".whl"), f"partial entry {entry}: {names}"
            data = (entry / names[0]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry.name, (
                f"entry {entry} does not match its name"
            )
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                assert archive.testzip() is None, f"entry {entry} fails a CRC"
            checked += 1
    return checked


def assert_pointers_resolve(root: Path) -> None:
    """Every wheel every pointer names is present, as the exact file the pointer names."""
    for path in (root / "sources-v1").glob("*/*.json") if (root / "sources-v1").exists() else ():
        if path.name.startswith("."):
            continue
        document = json.loads(path.read_bytes())
        for wheel in document["wheels"]:
            entry = root / "wheels-v1" / wheel["sha256"][:2] / wheel["sha256"] / wheel["filename"]
            assert entry.is_file(), (
                f"{path} names {wheel['filename']} ({wheel['sha256']}), which is missing"
            )


def assert_no_debris(root: Path) -> None:
    """What a ``prune(grace=0)`` with no live process must leave: no leftovers, no orphans."""
    staging = root / "staging-v1"
    leftovers = sorted(p.name for p in staging.iterdir()) if staging.exists() else []
    assert leftovers == [], f"staging-v1 is not empty: {leftovers}"
    trash = root / "trash-v1"
    leftovers = sorted(p.name for p in trash.iterdir()) if trash.exists() else []
    assert leftovers == [], f"trash-v1 is not empty: {leftovers}"
    temps = (
        sorted(p.name for p in (root / "sources-v1").glob("*/*"))
        if (root / "sources-v1").exists()
        else []
    )
    temps = [
        name
        for name in temps
        if (not name.endswith(".json") or name.startswith(".")) and not is_filesystems_own(name)
    ]
    assert temps == [], f"temp files left in sources-v1: {temps}"
    owners = root / "locks-v1" / "trash"
    leftovers = sorted(p.name for p in owners.iterdir()) if owners.exists() else []
    assert leftovers == [], f"owner locks of trash runs that are over: {leftovers}"
    referenced = set().union(*pointer_digests(root).values())
    orphans = entry_digests(root) - referenced
    assert orphans == set(), f"entries no pointer names survived prune(grace=0): {sorted(orphans)}"


def is_filesystems_own(name: str) -> bool:
    """Files a network filesystem keeps for a deleted file still open (NFS, FUSE)."""
    return name.startswith((".nfs", ".fuse_hidden"))


def stop_heartbeats(root: Path) -> int:
    """Make every owner lock look as if its heartbeat stopped a day ago; return how many.

    On a network filesystem garbage collection takes a free lock for dead only
    when it has not been touched for ``heartbeat.STALE_AFTER`` (30 s): what a
    killed process left waits that long. Once no process runs, ageing the
    lock files is what waiting would do.
    """
    staging, locks = root / "staging-v1", root / "locks-v1"
    owner_locks = [
        *(staging.glob("*.lock") if staging.exists() else ()),
        # every lock of locks-v1 (.pointer, .build, trash runs' .lock), not the prune
        # stamp: its time is prune's clock, and ageing it would look like a jump
        *(p for p in locks.rglob("*") if p.is_file() and p.name != "prune.stamp"),
    ]
    when = time.time() - 86400
    for path in owner_locks:
        os.utime(path, (when, when))
    return len(owner_locks)


def assert_locks_free(root: Path) -> int:
    """Take every lock under locks-v1 without waiting: none may still be held."""
    taken = 0
    locks = root / "locks-v1"
    for path in sorted(locks.rglob("*")) if locks.exists() else ():
        if not path.is_file() or path.name.endswith(".stamp"):
            continue
        lock = FileLock(path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise AssertionError(f"lock {path} is still held") from None
        lock.release()
        taken += 1
    return taken


def assert_settled(root: Path) -> int:
    """What a ``prune(grace=0)`` with no live process leaves: no debris, every pointer
    resolving, no lock held. Returns the number of locks taken."""
    assert_no_debris(root)
    assert_pointers_resolve(root)
    return assert_locks_free(root)


# -- child processes -------------------------------------------------------------------------


class StressChild:
    """One stress_worker.py process; its output goes to files (never a pipe that can fill)."""

    def __init__(
        self, config: dict[str, Any], logs: Path, env: dict[str, str] | None, strace: list[str]
    ) -> None:
        self.config = config
        logs.mkdir(parents=True, exist_ok=True)
        kind = config.get("op", config.get("role", ""))
        stem = f"{config.get('mode', 'op')}-{kind}-{secrets.token_hex(3)}"
        self.stdout_path = logs / f"{stem}.out"
        self.stderr_path = logs / f"{stem}.err"
        environment = dict(os.environ)
        environment.pop("WHEELCACHE_SYNCPOINTS", None)
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(SRC), *filter(None, [environment.get("PYTHONPATH")])]
        )
        environment.update(env or {})
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.process = subprocess.Popen(
                [*strace, sys.executable, str(STRESS_WORKER), json.dumps(config)],
                stdout=out,
                stderr=err,
                env=environment,
            )
        self.killed = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> bool:
        """SIGKILL the child and reap it; True when it was still running."""
        alive = self.process.poll() is None
        if alive:
            self.process.send_signal(signal.SIGKILL)
            self.killed = True
        self.process.wait(timeout=DEADLINE)
        return alive

    def output(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def result(self, deadline: float = DEADLINE) -> dict[str, Any]:
        """Wait for the child; its last stdout line as JSON. Fails on a non-zero exit."""
        try:
            self.process.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"worker {self.config} missed its {deadline}s deadline") from None
        lines = self.stdout_path.read_text().strip().splitlines()
        if self.process.returncode != 0 or not lines:
            raise AssertionError(
                f"worker {self.config} exited {self.process.returncode}:\n{self.output()}"
            )
        result: dict[str, Any] = json.loads(lines[-1])
        return result


class Children:
    """Starts workers, counts them (and kills) in the parent's ledger, and always reaps them."""

    def __init__(self, ledger: Ledger, logs: Path) -> None:
        self.ledger = ledger
        self.logs = logs
        self.running: list[StressChild] = []

    def start(
        self,
        config: dict[str, Any],
        env: dict[str, str] | None = None,
        strace: list[str] | None = None,
    ) -> StressChild:
        child = StressChild(config, self.logs, env, strace or [])
        self.running.append(child)
        self.ledger.event("processes started")
        return child

    def kill(self, child: StressChild) -> None:
        if child.kill():
            self.ledger.event("SIGKILLs")

    def reap(self) -> None:
        while self.running:
            child = self.running.pop()
            if child.process.poll() is None:
                child.process.kill()
            child.process.wait(timeout=DEADLINE)


def wait_for(path: Path, what: str, deadline: float = DEADLINE) -> None:
    """Wait (bounded) until *path* exists; *what* names the event in the failure."""
    wait_until(path.exists, what, deadline)


def filesystem_tick() -> None:
    """Sleep past the filesystem's timestamp granularity, so 'older than now' is strict."""
    time.sleep(0.03)
