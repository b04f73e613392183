"""2. Publish: ``WheelCache.add()`` against the bare durable copy of the same bytes.

The floor is what publishing any file durably costs: copy the bytes into a new
staging directory, fsync the file, rename the directory into place and fsync
the parent, in the same directory tree on the same filesystem. The copy is
timed both ways Python offers, 1 MiB reads and writes and (on Linux) the
kernel's ``sendfile``, and the floor of each round is the faster of the two.
Every round adds a wheel the cache does not hold yet (its bytes differ by a
seed), so each ``add()`` is a real publish, never a "found it already". Dirty
pages are written back before each timed operation so neither side pays for
the other's writes. A second reference adds what ``add()`` does besides
publishing: record the wheel in a pointer file, itself written durably (temp
file, fsync, rename, directory fsync).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import TYPE_CHECKING

from _harness import Context, drop_dirty_pages
from _wheels import make_wheel, payload

if TYPE_CHECKING:
    from pathlib import Path

SECTION = "2. publish (ms per wheel)"
MB = 1 << 20
CHUNK = 1 << 20


KERNEL_COPY = sys.platform.startswith("linux") and hasattr(os, "sendfile")


def floor_publish(wheel: Path, staging: Path, final: Path, *, kernel: bool = False) -> None:
    """Copy (reads and writes, or *kernel* sendfile), fsync, rename into place, fsync the parent."""
    staging.mkdir()
    target = staging / wheel.name
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with open(wheel, "rb", buffering=0) as source:
            if kernel:
                offset = 0
                while sent := os.sendfile(out, source.fileno(), offset, 1 << 30):
                    offset += sent
            else:
                buffer = bytearray(CHUNK)
                view = memoryview(buffer)
                while count := source.readinto(buffer):
                    written = 0
                    while written < count:
                        written += os.write(out, view[written:count])
        os.fsync(out)
    finally:
        os.close(out)
    os.rename(staging, final)
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_small_write(directory: Path, name: str, data: bytes) -> None:
    """Replace *directory*/*name* durably: temp file, fsync, rename, fsync the directory."""
    temp = directory / f".{name}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, directory / name)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def run(ctx: Context) -> None:
    from wheelcache import Source, WheelCache
    from wheelcache._wheels.wheelfile import validate_wheel

    report = ctx.report
    root = ctx.scratch("publish")
    cache = WheelCache(root / "cache")
    floor_root = root / "cache" / "floor"
    (floor_root / "staging").mkdir(parents=True)
    (floor_root / "entries").mkdir(parents=True)
    (floor_root / "pointers").mkdir(parents=True)
    sizes = ctx.pick([1, 20], [1, 20, 100])
    for size in sizes:
        rounds = ctx.pick(2, {1: 15, 20: 9, 100: 5}[size])
        data = payload(size * MB, seed=size)
        add_times: list[float] = []
        floor_times: list[float] = []
        copy_floor_times: list[float] = []
        kernel_floor_times: list[float] = []
        validate_times: list[float] = []
        recorded_times: list[float] = []
        for index in range(rounds + 1):
            wheel = make_wheel(root / "wheels" / str(index), f"pub{size}", data=data, seed=index)
            source = Source(f"bench-publish-{size}-{index}", "", f"pub{size}")
            staging = floor_root / "staging" / str(index)
            final = floor_root / "entries" / str(index)

            def timed_add(wheel: Path = wheel, source: Source = source) -> float:
                drop_dirty_pages()
                started = time.perf_counter()
                published = cache.add(source, wheel)
                elapsed = time.perf_counter() - started
                assert published.size == wheel.stat().st_size
                return elapsed

            def timed_floor(
                wheel: Path = wheel, staging: Path = staging, final: Path = final
            ) -> tuple[float, float]:
                """Both floors, read/write and kernel copy (NaN where there is none)."""
                times = []
                for kernel in (False, True):
                    if kernel and not KERNEL_COPY:
                        times.append(float("nan"))
                        continue
                    tag = "k" if kernel else ""
                    drop_dirty_pages()
                    started = time.perf_counter()
                    floor_publish(
                        wheel,
                        staging.with_name(staging.name + tag),
                        final.with_name(final.name + tag),
                        kernel=kernel,
                    )
                    times.append(time.perf_counter() - started)
                return times[0], times[1]

            def timed_floor_and_pointer(wheel: Path = wheel, index: int = index) -> float:
                drop_dirty_pages()
                started = time.perf_counter()
                floor_publish(
                    wheel,
                    floor_root / "staging" / f"p{index}",
                    floor_root / "entries" / f"p{index}",
                )
                durable_small_write(floor_root / "pointers", f"{index}.json", b"x" * 340)
                return time.perf_counter() - started

            if index % 2:
                floor_time, add_time = timed_floor(), timed_add()
                recorded_time = timed_floor_and_pointer()
            else:
                recorded_time = timed_floor_and_pointer()
                add_time, floor_time = timed_add(), timed_floor()
            started = time.perf_counter()
            validate_wheel(wheel)
            validate_time = time.perf_counter() - started
            if index > 0:  # the first round warms up
                add_times.append(add_time)
                copy_floor_times.append(floor_time[0])
                kernel_floor_times.append(floor_time[1])
                floor_times.append(min(t for t in floor_time if t == t))
                validate_times.append(validate_time)
                recorded_times.append(recorded_time)
            # Keep the disk from filling up: drop this round's copies (untimed).
            shutil.rmtree(final, ignore_errors=True)
            shutil.rmtree(final.with_name(final.name + "k"), ignore_errors=True)
            shutil.rmtree(floor_root / "entries" / f"p{index}", ignore_errors=True)
            entry = cache.get(source)
            if entry is not None:
                os.chmod(entry.path, 0o644)
                shutil.rmtree(entry.path.parent, ignore_errors=True)
            wheel.unlink()
        del data
        label = f"{size} MB"
        report.figure(SECTION, f"wheelcache add, {label}", add_times, "ms", scale=1e3)
        report.figure(
            SECTION,
            f"floor (copy+fsync+rename+fsync dir), {label}",
            floor_times,
            "ms",
            scale=1e3,
            note="per round, the faster of the two copies below",
        )
        report.figure(
            SECTION,
            f"of which floor with read/write copy, {label}",
            copy_floor_times,
            "ms",
            scale=1e3,
        )
        if KERNEL_COPY:
            report.figure(
                SECTION,
                f"of which floor with kernel copy, {label}",
                kernel_floor_times,
                "ms",
                scale=1e3,
                note="sendfile, as add() uses for large wheels",
            )
        report.figure(
            SECTION,
            f"of which validate_wheel alone, {label}",
            validate_times,
            "ms",
            scale=1e3,
            note="timed separately, not part of the ratio",
        )
        report.figure(
            SECTION,
            f"floor + durable pointer write, {label}",
            recorded_times,
            "ms",
            scale=1e3,
            note="what add() also does: record the wheel",
        )
        report.ratio(
            SECTION, f"wheelcache add / floor, {label}", add_times, floor_times, target=("<=", 1.3)
        )
        report.ratio(
            SECTION, f"wheelcache add / (floor + pointer write), {label}", add_times, recorded_times
        )
    report.status(SECTION, "ran", chunk_bytes=CHUNK)
