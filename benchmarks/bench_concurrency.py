"""3. Concurrency: hit throughput with 1 and 2 processes, and single-flight builds.

Throughput: two long-lived worker processes (started once, before timing) are
told to start hitting at the same instant and run for a fixed time; each
reports hits per second. The same is done with the I/O floor of a hit (read and
parse the pointer, stat the wheel), which shows how far this machine itself
scales from one process to two; a perfect cache scales like the floor.

Single-flight: N fresh processes wait at a barrier, then all call
``get_or_build()`` for the same source whose build sleeps a fixed time and
writes a wheel. Exactly one build must run; the wall time from the barrier to
the last process returning is compared with one process doing the same build
alone, in the same round.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _wheels import make_wheel

if TYPE_CHECKING:
    from _harness import Context

SECTION = "3. concurrency"
KEY = "https://example.invalid/packages/benchconc-1.0.tar.gz"
NAME = "benchconc"


# -- hit throughput ------------------------------------------------------------------


def _hit_worker(root: str, connection: Any) -> None:
    from wheelcache import Source, WheelCache

    cache = WheelCache(root)
    source = Source(KEY, "", NAME)
    hit = cache.get(source)
    assert hit is not None
    pointer = str(cache._layout.pointer_file(source.digest))
    wheel = str(hit.path)

    def floor() -> None:
        fd = os.open(pointer, os.O_RDONLY)
        try:
            data = os.read(fd, 1 << 16)
        finally:
            os.close(fd)
        json.loads(data)
        os.stat(wheel)

    functions = {"wheelcache": lambda: cache.get(source), "floor": floor}
    for function in functions.values():
        for _ in range(500):
            function()
    connection.send("ready")
    while True:
        command = connection.recv()
        if command is None:
            return
        kind, start_at, duration = command
        function = functions[kind]
        while time.monotonic() < start_at:
            pass
        started = time.perf_counter()
        deadline = started + duration
        count = 0
        while True:
            for _ in range(50):
                function()
            count += 50
            now = time.perf_counter()
            if now >= deadline:
                break
        connection.send(count / (now - started))


def _throughput(ctx: Context, root: Path) -> None:
    report = ctx.report
    context = multiprocessing.get_context("spawn")
    pipes = []
    workers = []
    for _ in range(2):
        parent, child = context.Pipe()
        process = context.Process(target=_hit_worker, args=(str(root), child), daemon=True)
        process.start()
        pipes.append(parent)
        workers.append(process)
    try:
        for pipe in pipes:
            if not pipe.poll(120) or pipe.recv() != "ready":
                raise RuntimeError("a hit worker did not start")
        duration = ctx.pick(0.3, 1.0)
        rates: dict[str, list[float]] = {
            f"{k} {n}": [] for k in ("wheelcache", "floor") for n in (1, 2)
        }
        for index in range(ctx.pick(2, 7)):
            plan = [("wheelcache", 1), ("wheelcache", 2), ("floor", 1), ("floor", 2)]
            if index % 2:
                plan.reverse()
            for kind, count in plan:
                start_at = time.monotonic() + 0.05
                for pipe in pipes[:count]:
                    pipe.send((kind, start_at, duration))
                total = sum(pipe.recv() for pipe in pipes[:count])
                rates[f"{kind} {count}"].append(total)
        for pipe in pipes:
            pipe.send(None)
    finally:
        for process in workers:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
    for kind in ("wheelcache", "floor"):
        for count in (1, 2):
            report.figure(
                SECTION,
                f"{kind} hits/s, {count} process{'es' if count > 1 else ''}",
                rates[f"{kind} {count}"],
                "k hits/s",
                scale=1e-3,
            )
    report.ratio(
        SECTION,
        "wheelcache hit throughput, 2 processes / 1",
        rates["wheelcache 2"],
        rates["wheelcache 1"],
        target=(">=", 1.8),
    )
    report.ratio(
        SECTION,
        "floor hit throughput, 2 processes / 1",
        rates["floor 2"],
        rates["floor 1"],
        note="what this machine allows",
    )
    wheelcache_scaling = [a / b for a, b in zip(rates["wheelcache 2"], rates["wheelcache 1"])]
    floor_scaling = [a / b for a, b in zip(rates["floor 2"], rates["floor 1"])]
    report.ratio(SECTION, "wheelcache scaling / floor scaling", wheelcache_scaling, floor_scaling)


# -- single-flight -------------------------------------------------------------------


def _build(output: Path, wheel: str, counter: str, seconds: float) -> None:
    fd = os.open(counter, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
    finally:
        os.close(fd)
    time.sleep(seconds)
    shutil.copyfile(wheel, output / Path(wheel).name)


def _flight_worker(
    root: str, key: str, wheel: str, counter: str, seconds: float, barrier: Any, results: Any
) -> None:
    from wheelcache import Source, WheelCache

    cache = WheelCache(root)
    source = Source(key, "", NAME)
    barrier.wait()
    started = time.monotonic()
    cache.get_or_build(source, lambda output: _build(output, wheel, counter, seconds))
    results.put((started, time.monotonic()))


def _flight(
    ctx: Context, root: Path, wheel: Path, processes: int, key: str, seconds: float
) -> float:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    counter = root / f"builds-{processes}-{abs(hash(key))}.txt"
    workers = [
        context.Process(
            target=_flight_worker,
            args=(str(root / "cache"), key, str(wheel), str(counter), seconds, barrier, results),
            daemon=True,
        )
        for _ in range(processes)
    ]
    for process in workers:
        process.start()
    try:
        spans = [results.get(timeout=120 + seconds) for _ in workers]
    finally:
        for process in workers:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join()
    builds = len(counter.read_text().splitlines())
    if builds != 1:
        raise AssertionError(f"{processes} processes ran {builds} builds of one source, not 1")
    return max(end for _, end in spans) - min(start for start, _ in spans)


def run(ctx: Context) -> None:
    from wheelcache import Source, WheelCache

    report = ctx.report
    root = ctx.scratch("concurrency")
    wheel = make_wheel(root / "wheels", NAME, data=b"x" * 20_000)
    WheelCache(root / "hits").add(Source(KEY, "", NAME), wheel)
    _throughput(ctx, root / "hits")

    seconds = ctx.pick(0.2, 0.5)
    many = 8
    single: list[float] = []
    crowd: list[float] = []
    for index in range(ctx.pick(1, 5)):
        single.append(_flight(ctx, root, wheel, 1, f"{KEY}#single-{index}", seconds))
        crowd.append(_flight(ctx, root, wheel, many, f"{KEY}#crowd-{index}", seconds))
    report.figure(
        SECTION,
        "get_or_build cold, 1 process, wall",
        single,
        "ms",
        scale=1e3,
        note=f"the build sleeps {seconds * 1e3:.0f} ms",
    )
    report.figure(
        SECTION,
        f"get_or_build cold, {many} processes, wall",
        crowd,
        "ms",
        scale=1e3,
        note="exactly one build ran (checked)",
    )
    report.ratio(
        SECTION, f"single-flight wall, {many} processes / 1", crowd, single, target=("<=", 1.2)
    )
    report.status(SECTION, "ran", build_seconds=seconds, single_flight_processes=many)
