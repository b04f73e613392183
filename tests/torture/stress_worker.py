"""A torture-suite child process: ``python stress_worker.py '<json config>'``.

Modes (``config["mode"]``):

``stress``  random get / get_or_build / add / freshness changes / prune / verify /
            find on the shared workload of :data:`torture_kit.SOURCES` until
            ``seconds`` after the start file appears. Every wheel handed out is
            checked at once: it must belong to the revision asked for, and it is
            read whole, hashed and unzipped. Anything unexpected goes to the
            ledger as an error; the process carries on.
``storm``   the same kind of work with ``prune(grace=0)`` mixed in, forever: the
            parent kills it with SIGKILL at a random moment. A handed-out file
            may vanish (grace 0 allows that) but a file that opens must be whole.
``op``      one operation (``add``, ``get``, ``get_or_build``, ``prune``,
            ``clean``, ``verify``); prints one JSON line. Used with sync points
            and under strace.
``busy``    spin on the CPU for ``seconds`` (CPU contention for a stress run); no ledger.
``ops``     a list of such operations in turn, each outcome (or the type and
            text of the exception it raised) in one JSON list. With
            ``"without_dac": true`` the process first gives up root's power to
            ignore file permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) and
            re-executes itself, so permission tests mean something as root.

Every mode counts what it did in its own ledger file (``config["ledger"]``).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, as under pytest

from procs import answer
from torture.torture_kit import SOURCES, Ledger, Wheelhouse, read_back, source_for
from wheelcache import CachedWheel, Source, WheelCache

# Relative weights of the operations each role performs.
ROLE_WEIGHTS: dict[str, dict[str, int]] = {
    "mixed": {
        "get": 60,
        "get_or_build": 40,
        "add": 30,
        "bump": 1,
        "prune": 8,
        "verify": 4,
        "find": 10,
    },
    "reader": {"get": 70, "get_or_build": 20, "find": 10},
    "publisher": {"add": 45, "get_or_build": 25, "get": 20, "bump": 1},
    "pruner": {"prune": 85, "retire": 5, "verify": 10},
    "storm": {"get": 20, "get_or_build": 20, "add": 30, "bump": 10, "prune": 20},
}


class Workload:
    """One process's share of the stress workload."""

    def __init__(self, config: dict[str, Any], ledger: Ledger) -> None:
        self.config = config
        self.ledger = ledger
        self.root = Path(config["root"])
        self.cache = WheelCache(self.root)
        self.state = Path(config["state"])
        self.house = Wheelhouse(Path(config["private"]))
        self.grace = float(config.get("grace", 3.0))
        self.strict = config["mode"] == "stress"
        self.random = random.Random(config.get("seed", 0))
        self.recent: list[tuple[str, int, int]] = []  # (sha256, source, revision) handed out lately
        self.published: set[str] = set()
        self.retire_until = float("inf")
        """After this (monotonic) time, retire is a plain prune: the run ends with pointers."""

    # -- shared revision counters (freshness changes) --------------------------------------

    def revision(self, index: int) -> int:
        try:
            return int((self.state / f"rev-{index}").read_text())
        except (OSError, ValueError):
            return 0

    def bump(self, index: int) -> None:
        path = self.state / f"rev-{index}"
        temp = self.state / f".rev-{index}.{os.getpid()}.tmp"
        temp.write_text(str(self.revision(index) + 1))
        os.replace(temp, path)

    # -- checking what the cache hands out ----------------------------------------------------

    def check(
        self, wheel: CachedWheel | None, index: int, revision: int, handed_at: float, how: str
    ) -> None:
        if wheel is None:
            self.ledger.event(f"{how} misses")
            return
        self.ledger.event(f"{how} hits")
        expected = self.house.digests(index, revision)
        if wheel.sha256 not in expected:
            self.ledger.error(
                f"{how} for source {index} revision {revision} handed out {wheel.path},"
                f" not one of {sorted(expected)}"
            )
            return
        outcome = read_back(wheel, self.root, handed_at)
        self.ledger.event("wheels read whole")
        if outcome.ok:
            if outcome.seconds > self.grace:
                self.ledger.event("late reads (after the grace)")
            self.recent = [*self.recent[-15:], (wheel.sha256, index, revision)]
            return
        if outcome.vanished and not self.strict:
            self.ledger.event("handed-out files gone (prune with grace 0)")
            return
        if outcome.vanished and outcome.came_back:
            # The documented window: a publisher freshened the entry between
            # prune's age check and its rename into the trash; prune put it back.
            self.ledger.event("transient vanish-and-restore windows")
            self.ledger.note(
                f"{how}: {wheel.path.name} ({wheel.sha256[:12]}) missing"
                f" {outcome.seconds * 1000:.1f} ms"
                f" after hand-out, back within 0.5 s; seen in trash: {outcome.in_trash}"
            )
            return
        if outcome.seconds > self.grace:
            self.ledger.event("late reads (after the grace)")
            self.ledger.note(f"late and failed ({outcome.seconds:.2f}s): {outcome.problem}")
            return
        self.ledger.event("bad reads")
        self.ledger.error(
            f"bad read {outcome.seconds * 1000:.1f} ms after {how} handed it out: {outcome.problem}"
            f" (in trash: {outcome.in_trash})"
        )

    def note_republish(self, sha256: str) -> None:
        """Count adds of bytes already cached, and of bytes prune has taken since."""
        if (self.root / "wheels-v1" / sha256[:2] / sha256).exists():
            self.ledger.event("adds of bytes already cached")
        elif sha256 in self.published:
            self.ledger.event("adds of bytes prune had taken")
        self.published.add(sha256)

    # -- operations --------------------------------------------------------------------------

    def run_one(self, kind: str) -> None:
        if kind == "retire" and time.monotonic() > self.retire_until:
            kind = "prune"
        index = self.random.randrange(len(SOURCES))
        revision = self.revision(index)
        source = source_for(index, revision)
        if kind == "get":
            wheel = self.cache.get(source)
            self.check(wheel, index, revision, time.monotonic(), "get")
        elif kind == "get_or_build":
            wheels = self.house.wheels(index, revision)

            def build(output: Path) -> None:
                self.ledger.event("builds run")
                for path, _sha in wheels:
                    shutil.copyfile(path, output / path.name)

            wheel = self.cache.get_or_build(source, build)
            self.check(wheel, index, revision, time.monotonic(), "get_or_build")
        elif kind == "add":
            path, sha = self.random.choice(self.house.wheels(index, revision))
            self.note_republish(sha)
            wheel = self.cache.add(source, path)
            if wheel.sha256 != sha:
                self.ledger.error(f"add of {path} returned entry {wheel.sha256}, not {sha}")
            self.check(wheel, index, revision, time.monotonic(), "add")
        elif kind == "bump":
            self.bump(index)
        elif kind in ("prune", "retire"):
            grace = 0.0 if self.config["mode"] == "storm" else self.grace
            max_age = self.random.uniform(0.01, 0.3) if kind == "retire" else None
            report = self.cache.prune(grace=grace, max_age=max_age)
            self.ledger.event("entries pruned", report.removed_entries)
            self.ledger.event("entries restored by prune", report.restored_entries)
            self.ledger.event("sources retired", len(report.retired_sources))
            self.ledger.event("dead staging reclaimed", report.reclaimed_staging)
            self.ledger.event("trash leftovers finished", report.reclaimed_trash)
        elif kind == "verify":
            verified = self.cache.verify()
            self.ledger.event("entries verified", verified.entries_checked)
            for corrupt in verified.corrupt:
                self.ledger.error(
                    f"verify during the run: corrupt {corrupt.path}: {corrupt.problem}"
                )
            if verified.dangling:
                # A pointer may name an entry prune has just trashed and is about to
                # restore, or one a publisher is re-publishing: count, do not fail.
                seen = len(verified.dangling)
                self.ledger.event("dangling pointers seen mid-run by verify", seen)
            for path in verified.unreadable_pointers:
                self.ledger.error(f"verify during the run: unreadable pointer {path}")
        elif kind == "find":
            if not self.recent:
                return
            sha, index, revision = self.random.choice(self.recent)
            wheel = self.cache.find(sha)
            self.check(wheel, index, revision, time.monotonic(), "find")
        else:
            raise ValueError(f"unknown operation {kind!r}")
        self.ledger.op(kind)


def _pick(weights: dict[str, int], rng: random.Random) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def loop(config: dict[str, Any]) -> int:
    ledger = Ledger(Path(config["ledger"]), config["role"])
    work = Workload(config, ledger)
    weights = ROLE_WEIGHTS[config["role"]]
    for index in range(len(SOURCES)):  # build the first revisions before the clock starts
        work.house.wheels(index, work.revision(index))
    ledger.flush()
    Path(config["ready_file"]).touch()
    start_file = Path(config["start_file"])
    while not start_file.exists():
        time.sleep(0.002)
    seconds = float(config.get("seconds", 1e9))
    deadline = time.monotonic() + seconds
    work.retire_until = deadline - float(config.get("quiet", 0.0))
    pause = float(config.get("pause", 0.0))
    while time.monotonic() < deadline:
        kind = _pick(weights, work.random)
        try:
            work.run_one(kind)
        except Exception:
            ledger.error(f"{kind} raised:\n{traceback.format_exc()}")
        ledger.flush(every=0.25)
        if pause:
            time.sleep(work.random.uniform(0, pause))
    ledger.flush()
    return 0


# -- one operation -----------------------------------------------------------------------------


def one_operation(config: dict[str, Any]) -> dict[str, Any]:
    ledger = Ledger(Path(config["ledger"]), f"op-{config['op']}") if "ledger" in config else None
    cache = WheelCache(config["root"])
    source = Source(config.get("key", "k"), config.get("freshness", ""), config.get("name"))
    kind = config["op"]
    if ledger is not None:
        ledger.op(kind)
        ledger.flush()
    if kind == "add":
        wheel = cache.add(source, config["wheel"])
        return {"path": str(wheel.path), "sha256": wheel.sha256}
    if kind == "get":
        hit = cache.get(source)
        if hit is None:
            return {"path": None}
        try:
            readable = len(hit.path.read_bytes()) == hit.size
        except OSError:
            readable = False
        return {"path": str(hit.path), "sha256": hit.sha256, "readable": readable}
    if kind == "get_or_build":
        wheels = [Path(p) for p in config["wheels"]]

        def build(output: Path) -> None:
            for path in wheels:
                shutil.copyfile(path, output / path.name)

        wheel = cache.get_or_build(source, build)
        return {"path": str(wheel.path), "sha256": wheel.sha256}
    if kind == "install":
        hit = cache.get(source)
        assert hit is not None
        result = cache.install(hit, target=config["target"])
        return {"action": result.action, "dist_info": result.dist_info}
    if kind == "prune":
        report = cache.prune(grace=float(config.get("grace", 0.0)), max_age=config.get("max_age"))
        return {"removed": report.removed_entries, "retired": len(report.retired_sources)}
    if kind == "clean":
        cache.clean()
        return {}
    if kind == "verify":
        verified = cache.verify()
        return {
            "sound": verified.sound,
            "corrupt": [[c.sha256, c.problem] for c in verified.corrupt],
            "dangling": [[str(d.pointer), list(d.missing)] for d in verified.dangling],
            "unreadable": [str(p) for p in verified.unreadable_pointers],
        }
    raise ValueError(f"unknown op {kind!r}")


_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2


def drop_dac_and_reexec(config: dict[str, Any]) -> None:
    """Re-execute this process without the capabilities that bypass file permissions.

    Dropping them from the bounding set takes effect at the next exec. Where
    that is not allowed (not root: there is nothing to drop) this does nothing.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            return
    config = {**config, "without_dac": False, "dropped_dac": True}
    os.execv(sys.executable, [sys.executable, __file__, json.dumps(config)])


def permissions_bind(directory: Path) -> bool:
    """Whether this process is refused a file it has no permission to read."""
    probe = directory / f".permission-probe-{os.getpid()}"
    probe.write_bytes(b"x")
    try:
        probe.chmod(0)
        try:
            probe.read_bytes()
        except PermissionError:
            return True
        return False
    finally:
        probe.unlink()


def operations(config: dict[str, Any]) -> list[dict[str, Any]]:
    outcomes = []
    for op in config["ops"]:
        try:
            outcomes.append(one_operation({**config, **op}))
        except Exception as exc:
            outcomes.append({"raised": type(exc).__name__, "message": str(exc)})
    return outcomes


def spin(seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass
    return 0


def main() -> int:
    config = json.loads(sys.argv[1])
    if config["mode"] == "busy":
        return spin(float(config["seconds"]))
    if config["mode"] in ("stress", "storm"):
        return loop(config)
    if config["mode"] == "ops":
        if config.get("without_dac"):
            drop_dac_and_reexec(config)
        if not permissions_bind(Path(config["root"]).parent):
            print(
                json.dumps(
                    {"skip": "file permissions do not stop this process (it keeps root's override)"}
                )
            )
            return 0
        print(json.dumps({"outcomes": operations(config)}), flush=True)
        return 0
    return answer(lambda: one_operation(config))


if __name__ == "__main__":
    raise SystemExit(main())
