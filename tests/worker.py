"""A child process that performs one cache operation, for multi-process tests.

Run as ``python tests/worker.py '<json>'``. The JSON names the operation and
its arguments; the worker prints one JSON line with the outcome and exits 0,
or prints ``{"error": ...}`` and exits 1. Children are plain subprocesses (not
forked copies of pytest), so each is a real, independent process with its own
interpreter, exactly like two installers sharing a cache.

Operations:

``add``          root, key, freshness, wheel          -> {"path", "sha256"}
``get``          root, key, freshness                 -> {"path"} or {"path": null}
``get_or_build`` root, key, freshness, builds_dir, name, version, seed, delay
                 -> {"path"}; each build appends a line to builds_dir/count
``hold``         root, key, freshness, go_file[, ready_file] -> gets a wheel, touches
                 ready_file, waits for go_file, then reads the whole file and
                 returns its sha256
``prune``        root, grace                          -> the PruneReport as a dict
``verify``       root[, repair]                       -> {"corrupt", "problems", "checked",
                 "tree_problems", "quarantined"}
``clean``        root
``prune_with``   root, grace, max_size, max_age, dry_run[, log_file] -> the PruneReport
``lookup_loop``  root, key, freshness, sha256, stop_file -> {"hits", "misses", "errors"}
``fingerprint_loop`` root, tree, stop_file, ready_file, racy_window_ns
                 -> {"scans": [[start_ns, end_ns, token, files_read], ...]}
``edit_in_place`` edits [[path, text], ...], pause -> {"edits": [[start_ns, done_ns], ...]}
``install``      root, sha256, python | target[, start_file] -> the InstallResult as a dict
``unpack``       root, sha256                         -> {"files", "created"}
``lease``        path, timeout[, expires_after, interval, start_file, ready_file, go_file]
                 -> {"held": false} after a LockTimeout, else {"held": true, "kept":
                 whether the lease file still held our token just before release}
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import answer
from wheelcache import Source, WheelCache
from wheelfactory import make_wheel


def _wait_for(path: Path, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.002)


def fingerprint_loop(op: dict[str, object]) -> dict[str, object]:
    """Fingerprint a tree through the stat cache until told to stop; report every scan.

    Times are ``time.monotonic_ns()`` (one clock for every process on the machine).
    The racy window is narrowed so a test need not wait seconds for files to settle.
    """
    from wheelcache._tree import digests as _digests
    from wheelcache._tree import fingerprint as _tree

    _tree.RACY_WINDOW_NS = int(op["racy_window_ns"])  # type: ignore[call-overload]
    reads = [0]
    read_digest = _digests.read_digest

    def counting(fd: int, size: int) -> bytes:
        reads[0] += 1
        return read_digest(fd, size)

    _digests.read_digest = counting
    stop, ready = Path(str(op["stop_file"])), Path(str(op["ready_file"]))
    deadline = time.monotonic() + float(op.get("max_seconds", 100.0))  # type: ignore[arg-type]
    scans: list[list[object]] = []
    while not stop.exists() and time.monotonic() < deadline:
        reads[0] = 0
        started = time.monotonic_ns()
        token = Source.from_tree(str(op["tree"]), cache=str(op["root"])).freshness
        scans.append([started, time.monotonic_ns(), token, reads[0]])
        if len(scans) == 3:
            ready.touch()
    return {"scans": scans}


def edit_in_place(op: dict[str, object]) -> dict[str, object]:
    """Rewrite files in place with as many bytes, putting their mtime back: only ctime moves."""
    edits: list[list[int]] = []
    for path, text in op["edits"]:  # type: ignore[attr-defined]
        before = os.stat(path)
        started = time.monotonic_ns()
        with open(path, "r+b") as file:
            file.write(text.encode())
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        edits.append([started, time.monotonic_ns()])
        time.sleep(float(op["pause"]))  # type: ignore[arg-type]
    return {"edits": edits}


def hold_lease(op: dict[str, object]) -> dict[str, object]:
    """Hold a lease (with a short expiry and fast renewal, if given) until go_file appears."""
    from wheelcache import LockTimeout
    from wheelcache._fs import heartbeat, lease

    lease.EXPIRES_AFTER = float(op.get("expires_after", lease.EXPIRES_AFTER))  # type: ignore[arg-type]
    heartbeat.INTERVAL = float(op.get("interval", heartbeat.INTERVAL))  # type: ignore[arg-type]
    path = Path(str(op["path"]))
    if "start_file" in op:
        _wait_for(Path(str(op["start_file"])))
    try:
        with lease.hold(path, timeout=float(op["timeout"]), purpose="testing"):  # type: ignore[arg-type]
            token = json.loads(path.read_text())["token"]
            if "ready_file" in op:
                Path(str(op["ready_file"])).touch()
            if "go_file" in op:
                _wait_for(Path(str(op["go_file"])), 120.0)
            kept = json.loads(path.read_text())["token"] == token
    except LockTimeout:
        return {"held": False}
    return {"held": True, "kept": kept}


def perform(op: dict[str, object]) -> dict[str, object]:
    if op["op"] == "lease":
        return hold_lease(op)
    if op["op"] == "fingerprint_loop":
        return fingerprint_loop(op)
    if op["op"] == "edit_in_place":
        return edit_in_place(op)
    if "uid" in op:
        # Run as another user (the test runs as root), after a first lookup has
        # imported what lookups need: the interpreter may be below a directory
        # that user cannot read.
        WheelCache(str(op["root"])).get(Source("warm-up"))
        os.setgid(int(op["gid"]))  # type: ignore[call-overload]
        os.setuid(int(op["uid"]))  # type: ignore[call-overload]
    cache = WheelCache(str(op["root"]))
    source = Source(str(op.get("key", "k")), str(op.get("freshness", "")), "demo")
    kind = op["op"]
    if "start_file" in op:
        _wait_for(Path(str(op["start_file"])))
    if kind == "add":
        wheel = cache.add(source, str(op["wheel"]))
        return {"path": str(wheel.path), "sha256": wheel.sha256}
    if kind == "install":
        cached = cache.find(str(op["sha256"]))
        assert cached is not None
        python, target = op.get("python"), op.get("target")
        result = cache.install(
            cached,
            python=None if python is None else str(python),
            target=None if target is None else str(target),
        )
        return dataclasses.asdict(result)
    if kind == "unpack":
        from wheelcache._unpacked.trees import Trees

        cached = cache.find(str(op["sha256"]))
        assert cached is not None
        tree = Trees(cache._store).unpacked(cached)
        return {"files": tree.files, "created": tree.created}
    if kind == "get":
        hit = cache.get(source)
        return {"path": str(hit.path) if hit else None}
    if kind == "get_or_build":
        builds = Path(str(op["builds_dir"]))

        def build(output: Path) -> None:
            with open(builds / "count", "a") as log:
                log.write(f"{os.getpid()}\n")
            time.sleep(float(op.get("delay", 0.0)))  # type: ignore[arg-type]
            make_wheel(
                output,
                str(op.get("name", "demo")),
                str(op.get("version", "1.0")),
                seed=int(op.get("seed", 0)),  # type: ignore[call-overload]
            )

        wheel = cache.get_or_build(source, build)
        return {"path": str(wheel.path), "sha256": wheel.sha256}
    if kind == "hold":
        hit = cache.get(source)
        if hit is None:
            return {"path": None}
        if "ready_file" in op:
            Path(str(op["ready_file"])).touch()
        _wait_for(Path(str(op["go_file"])))
        data = hit.path.read_bytes()
        return {"path": str(hit.path), "sha256": hashlib.sha256(data).hexdigest()}
    if kind == "prune":
        report = cache.prune(grace=float(op.get("grace", 0.0)))  # type: ignore[arg-type]
        return dataclasses.asdict(report)
    if kind == "verify":
        verified = cache.verify(repair=bool(op.get("repair", False)))
        return {
            "corrupt": len(verified.corrupt),
            "problems": [f"{c.path}: {c.problem}" for c in verified.corrupt],
            "checked": verified.entries_checked,
            "tree_problems": [f"{c.path}: {c.problem}" for c in verified.corrupt_trees],
            "quarantined": [str(path) for path in verified.quarantined],
        }
    if kind == "clean":
        cache.clean()
        return {}
    if kind == "prune_with":
        # root, grace, max_size, max_age, dry_run, log_file -> the PruneReport as a dict;
        # with log_file, wheelcache's INFO log goes there (to see a prune waiting for the lock)
        if "log_file" in op:
            import logging

            handler = logging.FileHandler(str(op["log_file"]))
            logging.getLogger("wheelcache").addHandler(handler)
            logging.getLogger("wheelcache").setLevel(logging.INFO)
        max_size = op.get("max_size")
        max_age = op.get("max_age")
        report = cache.prune(
            grace=float(op.get("grace", 0.0)),  # type: ignore[arg-type]
            max_size=None if max_size is None else int(max_size),  # type: ignore[call-overload]
            max_age=None if max_age is None else float(max_age),  # type: ignore[arg-type]
            dry_run=bool(op.get("dry_run", False)),
        )
        return dataclasses.asdict(report)
    if kind == "lookup_loop":
        # root, key, freshness, sha256, stop_file -> {"hits", "misses", "errors"}:
        # get() and find() in a loop until stop_file appears (at least once each)
        stop = Path(str(op["stop_file"]))
        sha256 = str(op["sha256"])
        counts = {"hits": 0, "misses": 0}
        errors: list[str] = []
        deadline = time.monotonic() + float(op.get("max_seconds", 60.0))  # type: ignore[arg-type]
        while True:
            lookups: tuple[Callable[[], object], ...] = (
                lambda: cache.get(source),
                lambda: cache.find(sha256),
            )
            for lookup in lookups:
                try:
                    found = lookup()
                except Exception as exc:  # the promise under test: never raises
                    errors.append(f"{type(exc).__name__}: {exc}")
                else:
                    counts["hits" if found is not None else "misses"] += 1
            if stop.exists() or time.monotonic() > deadline:
                break
        return {**counts, "errors": errors}
    raise ValueError(f"unknown op {kind!r}")


def main() -> int:
    op = json.loads(sys.argv[1])
    return answer(lambda: perform(op))


if __name__ == "__main__":
    raise SystemExit(main())
