"""1. Warm hit: ``WheelCache.get()`` against pip's ``WheelCache.get()`` and the I/O floor.

Both caches hold the same wheel for the same source URL; both are asked with
the same tag list (this interpreter's ``packaging.tags.sys_tags()``; pip gets
it as its vendored Tag objects). The floor of a hit is what no lookup can
avoid: open, read and close one pointer file, ``json.loads`` it, and stat the
wheel it names; paths are precomputed strings. The floor of a miss is one
failed ``open`` of the pointer.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import textwrap
from typing import TYPE_CHECKING

from _harness import Context, interleaved
from _pip import available as pip_available
from _pip import pip_cache
from _wheels import make_wheel, payload

if TYPE_CHECKING:
    from pathlib import Path

SECTION = "1. warm hit (µs per call)"
URL = "https://example.invalid/packages/benchdemo-1.0.tar.gz"
MISSING_URL = "https://example.invalid/packages/benchdemo-2.0.tar.gz"
NAME = "benchdemo"


def _read_and_parse(path: str) -> object:
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, 1 << 16)
    finally:
        os.close(fd)
    return json.loads(data)


def _floor_hit(pointer: str, wheel: str):  # type: ignore[no-untyped-def]
    def floor() -> None:
        _read_and_parse(pointer)
        os.stat(wheel)

    return floor


def _floor_miss(pointer: str):  # type: ignore[no-untyped-def]
    def floor() -> None:
        with contextlib.suppress(FileNotFoundError):
            os.close(os.open(pointer, os.O_RDONLY))

    return floor


def ten_wheel_tags(tags: list[str]) -> tuple[list[str], str]:
    """Ten wheel tags for one source: three this interpreter accepts, seven it does not.

    Returns the tags in the order they are added and the one a lookup must pick.
    """
    accepted = set(tags)
    best = tags[0]
    interpreter = best.split("-")[0]
    compatible = [best, "py3-none-any"]
    abi3 = next((t for t in tags if "-abi3-" in t), None)
    compatible.append(abi3 if abi3 else tags[len(tags) // 2])
    others = [
        f"{interpreter}-{interpreter}-win_amd64",
        f"{interpreter}-{interpreter}-win32",
        f"{interpreter}-{interpreter}-macosx_11_0_arm64",
        f"{interpreter}-{interpreter}-macosx_10_9_x86_64",
        f"{interpreter}-{interpreter}-manylinux_2_17_aarch64",
        f"{interpreter}-{interpreter}-manylinux_2_17_ppc64le",
        f"{interpreter}-{interpreter}-musllinux_1_2_s390x",
        "cp27-cp27mu-manylinux1_i686",
        "cp36-cp36m-win_amd64",
    ]
    incompatible = [t for t in others if t not in accepted][:7]
    # The best wheel sits in the middle, as it would after a few builds.
    order = [*incompatible[:4], compatible[1], best, compatible[2], *incompatible[4:]]
    return order, best


def _syscalls_per_hit(ctx: Context, root: Path, key: str, calls: int) -> dict[str, float] | None:
    """Count the system calls of *calls* hits under strace (minus a run with no hits)."""
    if shutil.which("strace") is None:
        return None
    program = textwrap.dedent(
        f"""
        import sys
        from wheelcache import WheelCache, Source
        cache = WheelCache({str(root)!r})
        source = Source({key!r}, "", {NAME!r})
        assert cache.get(source) is not None
        for _ in range(int(sys.argv[1])):
            cache.get(source)
        """
    )
    counts = []
    for n in (0, calls):
        out = root.parent / f"strace-{n}.txt"
        result = subprocess.run(
            ["strace", "-f", "-c", "-o", str(out), ctx.python, "-c", program, str(n)],
            capture_output=True,
            text=True,
            env=ctx.env,
            check=False,
        )
        if result.returncode != 0 or not out.exists():
            return None
        table: dict[str, int] = {}
        for line in out.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                table[parts[-1]] = int(parts[3])
        counts.append(table)
    per_hit = {
        name: (counts[1].get(name, 0) - counts[0].get(name, 0)) / calls
        for name in set(counts[0]) | set(counts[1])
    }
    return {name: round(value, 2) for name, value in sorted(per_hit.items()) if value >= 0.5}


def run(ctx: Context) -> None:
    from packaging.tags import sys_tags

    from wheelcache import Source, WheelCache
    from wheelcache._pointers.pointer import _decode_remembered

    report = ctx.report
    if not pip_available():
        report.status(SECTION, "not available", "pip is not installed in this environment")
        return
    tags = list(sys_tags())
    tag_strings = [str(t) for t in tags]
    root = ctx.scratch("hit")
    cache = WheelCache(root / "wheelcache")

    # One wheel for one source.
    source = Source(URL, "", NAME)
    wheel = make_wheel(root / "wheels", NAME, data=payload(20_000))
    added = cache.add(source, wheel)
    hit = cache.get(source)
    assert hit is not None, "wheelcache must hit"
    assert hit.sha256 == added.sha256, hit
    pointer = str(cache._layout.pointer_file(source.digest))

    # Ten wheels for different tags of another source.
    order, best = ten_wheel_tags(tag_strings)
    source10 = Source(URL + "#ten", "", NAME)
    wheels10 = [make_wheel(root / "wheels10", NAME, tag=t, data=payload(20_000)) for t in order]
    for path in wheels10:
        cache.add(source10, path)
    hit10 = cache.get(source10)
    assert hit10 is not None, "wheelcache must hit"
    assert hit10.filename.endswith(f"-{best}.whl"), hit10
    pointer10 = str(cache._layout.pointer_file(source10.digest))

    missing = Source(MISSING_URL, "", NAME)
    assert cache.get(missing) is None
    stale = Source(URL, "another-revision", NAME)
    assert cache.get(stale) is None

    with pip_cache(root / "pip") as pip:
        pip_tags = pip.tags(tags)
        link = pip.link(URL)
        pip.place(link, [wheel])
        found = pip.get(link, NAME, pip_tags)
        assert found is not link, "pip's lookup must be a real hit"
        assert found.filename == wheel.name, found
        link10 = pip.link(URL + "0")  # a different sdist URL, so a separate pip cache directory
        pip.place(link10, wheels10)
        found10 = pip.get(link10, NAME, pip_tags)
        assert found10 is not link10, "pip's lookup must be a real hit"
        assert found10.filename == hit10.filename, (found10, hit10)
        missing_link = pip.link(MISSING_URL)
        assert pip.get(missing_link, NAME, pip_tags) is missing_link

        many = ctx.pick(100, 400)
        cases = {
            "wheelcache get, 1 wheel": (lambda: cache.get(source), many),
            "pip get, 1 wheel": (lambda: pip.get(link, NAME, pip_tags), many // 8),
            "floor, 1 wheel (read+parse pointer, stat)": (
                _floor_hit(pointer, str(hit.path)),
                many * 2,
            ),
            # The first lookup of a revision in a process parses its pointer;
            # repeated ones find it remembered. Forgetting costs ~1 µs here.
            "wheelcache get, 1 wheel, first in process": (
                lambda: (_decode_remembered.cache_clear(), cache.get(source)),
                many,
            ),
            "wheelcache get, 10 wheels": (lambda: cache.get(source10), many),
            "wheelcache get, 10 wheels, first in process": (
                lambda: (_decode_remembered.cache_clear(), cache.get(source10)),
                many,
            ),
            "pip get, 10 wheels": (lambda: pip.get(link10, NAME, pip_tags), many // 16),
            "floor, 10 wheels": (_floor_hit(pointer10, str(hit10.path)), many * 2),
            "wheelcache get(tags=list), 1 wheel": (lambda: cache.get(source, tags), many // 8),
            "wheelcache miss (no pointer)": (lambda: cache.get(missing), many * 2),
            "pip miss": (lambda: pip.get(missing_link, NAME, pip_tags), many // 4),
            "floor, miss (failed open)": (
                _floor_miss(str(cache._layout.pointer_file(missing.digest))),
                many * 4,
            ),
            "wheelcache miss (stale revision)": (lambda: cache.get(stale), many),
            "floor, stale (read+parse pointer)": (lambda: _read_and_parse(pointer), many * 2),
        }
        times = interleaved(cases, rounds=ctx.pick(5, 30))

    us = 1e6
    for name, values in times.items():
        report.figure(SECTION, name, values, "µs", scale=us)
    t = times
    report.ratio(
        SECTION,
        "pip get / wheelcache get (1 wheel)",
        t["pip get, 1 wheel"],
        t["wheelcache get, 1 wheel"],
        target=(">=", 20.0),
    )
    report.ratio(
        SECTION,
        "wheelcache get / floor (1 wheel)",
        t["wheelcache get, 1 wheel"],
        t["floor, 1 wheel (read+parse pointer, stat)"],
        target=("<=", 1.5),
    )
    report.ratio(
        SECTION,
        "pip get / wheelcache get (10 wheels)",
        t["pip get, 10 wheels"],
        t["wheelcache get, 10 wheels"],
        target=(">=", 20.0),
    )
    report.ratio(
        SECTION,
        "wheelcache get / floor (10 wheels)",
        t["wheelcache get, 10 wheels"],
        t["floor, 10 wheels"],
        target=("<=", 1.5),
    )
    report.ratio(
        SECTION,
        "wheelcache get first in process / floor (1 wheel)",
        t["wheelcache get, 1 wheel, first in process"],
        t["floor, 1 wheel (read+parse pointer, stat)"],
    )
    report.ratio(
        SECTION,
        "wheelcache get first in process / floor (10 wheels)",
        t["wheelcache get, 10 wheels, first in process"],
        t["floor, 10 wheels"],
    )
    report.ratio(
        SECTION,
        "pip get / wheelcache get(tags=list)",
        t["pip get, 1 wheel"],
        t["wheelcache get(tags=list), 1 wheel"],
    )
    report.ratio(
        SECTION, "pip miss / wheelcache miss", t["pip miss"], t["wheelcache miss (no pointer)"]
    )
    report.ratio(
        SECTION,
        "wheelcache miss / floor (failed open)",
        t["wheelcache miss (no pointer)"],
        t["floor, miss (failed open)"],
    )
    report.ratio(
        SECTION,
        "wheelcache stale miss / floor (read+parse)",
        t["wheelcache miss (stale revision)"],
        t["floor, stale (read+parse pointer)"],
    )
    details = {
        "tags": len(tags),
        "pointer_bytes_1": os.path.getsize(pointer),
        "pointer_bytes_10": os.path.getsize(pointer10),
        "wheel_bytes": hit.size,
        "ten_wheel_tags": order,
    }
    if not ctx.quick:
        syscalls = _syscalls_per_hit(ctx, root / "wheelcache", URL, 2000)
        if syscalls is not None:
            details["syscalls_per_hit"] = syscalls
    report.status(SECTION, "ran", **details)
