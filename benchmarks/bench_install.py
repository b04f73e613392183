"""9. Installing from the cache: a 500-file, ~5 MB wheel into a fresh virtual environment.

Every case, every round, gets a fresh copy of one base venv (made untimed), and
the cases run interleaved so ratios are taken round by round. Cases:

* ``library``: ``WheelCache.install(wheel, python=venv)`` with the tree already
  unpacked (the warm path: link 500 files, write RECORD and scripts);
* ``first install``: the same with the tree removed first (unpack + publish
  the tree + link);
* ``pip``: ``pip install --no-deps <wheel>`` (in a subprocess, as users run it);
* ``wheelcache install``: the command, end to end (interpreter start included, its
  modules' ``.pyc`` files written by the first round, which is not counted);
* ``uv``: ``uv pip install --no-deps <wheel>`` with a warm uv cache;
* floors: hard-linking the same 500 files from a precomputed list into a
  fresh directory, and ``zipfile.extractall`` of the wheel.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
import zipfile
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from pathlib import Path

    from _harness import Context

SECTION = "9. install from the cache (ms per install, fresh venv)"
FILES = 500


def make_big_wheel(directory: Path, files: int = FILES) -> Path:
    """A wheel of *files* members (~10 KB of text each, some binary), ~5 MB, with a script."""
    rng = random.Random(15)
    members: dict[str, bytes] = {}
    for index in range(files - 4):
        if index % 4 == 0:
            members[f"bigdemo/_native{index}.so"] = rng.randbytes(24_000)
        else:
            words = " ".join(f"w{rng.getrandbits(20):x}" for _ in range(1_400))
            members[f"bigdemo/sub{index % 20}/mod{index}.py"] = f'"""{words}"""\n'.encode()
    members["bigdemo/__init__.py"] = b"def main():\n    print('bigdemo')\n"
    dist = "bigdemo-1.0.dist-info"
    members[f"{dist}/entry_points.txt"] = b"[console_scripts]\nbigdemo = bigdemo:main\n"
    sys.path.insert(0, os.fspath(_tests_dir()))
    from wheelfactory import make_wheel

    return make_wheel(directory, "bigdemo", "1.0", files=members)


def _tests_dir() -> Path:
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "tests"


def _time(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def run(ctx: Context) -> None:
    sys.path.insert(0, os.fspath(_tests_dir()))
    from installkit import make_venv
    from wheelcache import WheelCache
    from wheelcache._fs.fsutil import remove_tree

    report = ctx.report
    base = ctx.scratch("install")
    wheel = make_big_wheel(base / "wheels")
    with zipfile.ZipFile(wheel) as archive:
        members = len(archive.infolist())
    template = make_venv(base / "template")
    cache = WheelCache(base / "cache")
    from wheelcache import Source

    cached = cache.add(Source("bench", "1"), wheel)
    cache.install(cached, target=base / "warm")  # unpack the tree once
    tree = cache._layout.tree_dir(cached.sha256)
    listed = [
        (os.path.join(top, name), os.path.relpath(os.path.join(top, name), tree / "files"))
        for top, _dirs, names in os.walk(tree / "files")
        for name in names
    ]
    uv = shutil.which("uv") or os.path.join(os.path.dirname(sys.executable), "uv")
    have_uv = os.path.exists(uv)
    env = dict(ctx.env, UV_CACHE_DIR=os.fspath(base / "uv-cache"), WHEELCACHE_DIR=str(cache.root))
    env.pop("VIRTUAL_ENV", None)
    # .pyc files must be written (by the dropped first round) and used, as for a user's
    # install: with PYTHONDONTWRITEBYTECODE set, the editable wheelcache's modules were
    # compiled from source on every run of the command (section 5 does the same).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if have_uv:  # warm uv's cache
        warm = make_venv(base / "uv-warm", template)
        subprocess.run(
            [uv, "pip", "install", "-q", "--no-deps", "--python", str(warm.python), str(wheel)],
            env=env,
            check=True,
        )
    command = [sys.executable, "-m", "wheelcache", "install", str(wheel), "--python"]
    cases: dict[str, Callable[[Path], object]] = {
        "library": lambda root: cache.install(cached, python=root / "bin" / "python"),
        "first install": lambda root: cache.install(cached, python=root / "bin" / "python"),
        "pip": lambda root: subprocess.run(
            [
                str(root / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--no-index",
                str(wheel),
            ],
            env=env,
            check=True,
        ),
        "wheelcache install": lambda root: subprocess.run(
            [*command, str(root / "bin" / "python")], env=env, check=True, capture_output=True
        ),
        "hardlink floor": lambda root: _link_all(listed, root / "floor"),
        "extractall floor": lambda root: _extract(wheel, root / "extracted"),
    }
    if have_uv:
        cases["uv"] = lambda root: subprocess.run(
            [uv, "pip", "install", "-q", "--no-deps", "--python", str(root / "bin" / "python"),
             str(wheel)],
            env=env, check=True,
        )  # fmt: skip
    rounds = ctx.pick(2, 9)
    times: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for index in range(rounds + 1):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            venv = make_venv(base / f"r{index}-{names.index(name)}", template)
            if name == "first install":
                remove_tree(tree)
            seconds = _time(lambda name=name, venv=venv: cases[name](venv.root))
            if index:
                times[name].append(seconds)
            shutil.rmtree(venv.root)
    for name, values in times.items():
        report.figure(SECTION, name, values, "ms", scale=1e3)
    report.ratio(SECTION, "pip / library", times["pip"], times["library"], target=(">=", 20))
    if have_uv:
        report.ratio(
            SECTION, "wheelcache install / uv", times["wheelcache install"], times["uv"],
            target=("<=", 1.5),
        )  # fmt: skip
    report.ratio(
        SECTION, "library / hardlink floor", times["library"], times["hardlink floor"],
        target=("<=", 2),
    )  # fmt: skip
    report.ratio(
        SECTION, "first install / extractall", times["first install"], times["extractall floor"],
        target=("<=", 1.3),
    )  # fmt: skip
    report.status(
        SECTION,
        "ran" if have_uv else "ran without uv (pip install -r benchmarks/requirements.txt)",
        wheel=f"{members} members, {wheel.stat().st_size / 1e6:.1f} MB",
    )


def _link_all(listed: list[tuple[str, str]], destination: Path) -> None:
    made = set()
    for source, relative in listed:
        target = os.path.join(destination, relative)
        parent = os.path.dirname(target)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        os.link(source, target)


def _extract(wheel: Path, destination: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(destination)
