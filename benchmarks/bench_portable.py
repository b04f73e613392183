"""11. Portable tree identity: what a remote costs ``Source.from_tree`` in a git checkout.

A 5,000-file project (``tree_scan.write_files``: ~900-byte modules over nested
directories, plus a build directory, a virtualenv and ``__pycache__``, all
git-ignored, holding 1,250 files each) is committed and cloned, as a CI runner
would. Figures in CPU time of this process *and* the git processes it ran
(``getrusage`` of self and children: what the work costs, whatever the load
of the shared machine), and for ``Source.from_tree`` also in wall time (git
runs in a thread while the local fingerprint walks, so on two idle cores the
two overlap):

* ``portable identity, clean, warm``: :func:`portable_identity` on the clone
  once git's index has been refreshed (``git status`` ran once): one
  ``git rev-parse`` and one ``git ls-files -v -s -c -m -d -o --directory``,
  no file read;
* ``portable identity, 5 modified + 5 untracked``: the same with five tracked
  files edited and five new files, which are read and hashed as git blobs;
* ``portable identity, cold``: right after a fresh clone (a new clone each
  round, not timed), before anything touched the index;
* ``Source.from_tree`` with and without a remote configured, with a warm stat
  cache and without one (the local fingerprint then reads every file): the
  portable identity's share of what a caller pays;
* the floors: ``git ls-files -s`` alone and ``git status --porcelain`` alone.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time
from typing import TYPE_CHECKING

from _harness import Context, interleaved

if TYPE_CHECKING:
    from pathlib import Path

SECTION = "11. portable tree identity (ms per call, 5,000-file git checkout)"
FILES = 5_000
WALL = time.perf_counter


def CPU() -> float:
    """CPU time (user + system) of this process and of the git processes it waited for."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


_GIT = ("git", "-c", "user.name=bench", "-c", "user.email=bench@invalid")


def _git(cwd: Path, *arguments: str) -> None:
    subprocess.run([*_GIT, *arguments], cwd=cwd, check=True, capture_output=True)


def _project(root: Path, count: int) -> None:
    import tree_scan

    (root / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "1"\n')
    tree_scan.write_files(root / "src" / "bench", count, ".py")
    (root / ".gitignore").write_text("build/\nenv/\n__pycache__/\n")
    _git(root, "init", "-q", "-b", "main", ".")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "bench")
    ignored = count // 4
    tree_scan.write_files(root / "build" / "lib", ignored, ".py")
    (root / "env").mkdir()
    (root / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    tree_scan.write_files(root / "env" / "lib", ignored, ".py")
    tree_scan.write_files(root / "src" / "bench" / "__pycache__", ignored, ".pyc")


def run(ctx: Context) -> None:
    if shutil.which("git") is None:
        ctx.report.status(SECTION, "not available", "git is not installed")
        return
    from wheelcache import Source, WheelCache
    from wheelcache._tree.fingerprint import fingerprint_tree
    from wheelcache._tree.portable import portable_identity

    report = ctx.report
    base = ctx.scratch("portable")
    count = ctx.pick(1_000, FILES)
    origin = base / "origin"
    origin.mkdir()
    _project(origin, count)
    clean, edited = base / "clean", base / "edited"
    for clone in (clean, edited):
        _git(base, "clone", "-q", "--no-hardlinks", str(origin), clone.name)
        _git(clone, "status", "--porcelain")  # refresh the index, as any git use would
    modules = sorted((edited / "src" / "bench").rglob("*.py"))
    for index in range(5):
        path = modules[index * (len(modules) // 5)]
        path.write_bytes(path.read_bytes() + b"# edited\n")
        (path.parent / f"new{index}.py").write_text(f"NEW = {index}\n")
    from wheelcache._tree.fingerprint import RACY_WINDOW_NS

    time.sleep(RACY_WINDOW_NS / 1e9 + 0.5)  # let every file settle: the stat cache's normal case
    local = WheelCache(base / "local")
    shared = WheelCache(base / "shared", remote=(base / "bucket").as_uri())
    token = fingerprint_tree(clean)

    def identity(tree: Path = clean) -> None:
        assert portable_identity(tree.resolve(), None, "bench", token) is not None

    def cold_from_tree(cache: WheelCache) -> None:
        shutil.rmtree(cache.root / "statcache-v1", ignore_errors=True)
        Source.from_tree(clean, cache=cache)

    cases = {
        "identity clean": (identity, 1),
        "identity edited": (lambda: identity(edited), 1),
        "from_tree local": (lambda: Source.from_tree(clean, cache=local), 1),
        "from_tree remote": (lambda: Source.from_tree(clean, cache=shared), 1),
        "from_tree local cold": (lambda: cold_from_tree(local), 1),
        "from_tree remote cold": (lambda: cold_from_tree(shared), 1),
        "ls-files": (lambda: _git(clean, "ls-files", "-s", "-z"), 1),
        "status": (lambda: _git(clean, "status", "--porcelain", "-z"), 1),
    }
    rounds = ctx.pick(3, 15)
    times = interleaved(cases, rounds=rounds, clock=CPU)
    walls = interleaved(
        {name: cases[name] for name in ("from_tree local", "from_tree remote")},
        rounds=rounds,
        clock=WALL,
    )
    times["identity cold"], walls["identity cold"] = _cold(base, origin, ctx.pick(2, 7), token)
    names = {
        "identity clean": "portable identity, clean, warm",
        "identity edited": "portable identity, 5 modified + 5 untracked, warm",
        "identity cold": "portable identity, cold (right after git clone)",
        "from_tree local": "Source.from_tree, warm stat cache, no remote",
        "from_tree remote": "Source.from_tree, warm stat cache, with a remote",
        "from_tree local cold": "Source.from_tree, no stat cache, no remote",
        "from_tree remote cold": "Source.from_tree, no stat cache, with a remote",
        "ls-files": "floor: git ls-files -s",
        "status": "floor: git status --porcelain",
    }
    for case, name in names.items():
        report.figure(SECTION, f"{name}, {count:,} files, CPU", times[case], "ms", scale=1e3)
    for case, values in walls.items():
        report.figure(SECTION, f"{names[case]}, {count:,} files, wall", values, "ms", scale=1e3)
    for state, suffix, clock, values in (
        ("warm", "", "CPU", times),
        ("no stat cache", " cold", "CPU", times),
        ("warm", "", "wall", walls),
    ):
        report.ratio(
            SECTION,
            f"from_tree with a remote / without, {state}, {count:,} files, {clock}",
            values[f"from_tree remote{suffix}"],
            values[f"from_tree local{suffix}"],
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    report.status(SECTION, "ran", files=count, load_average=f"{load:.1f}")


def _cold(base: Path, origin: Path, rounds: int, token: str) -> tuple[list[float], list[float]]:
    """The identity's CPU and wall time on a fresh clone, a new one each round (cloning untimed)."""
    from wheelcache._tree.portable import portable_identity

    cpu, wall = [], []
    for index in range(rounds + 1):
        fresh = base / f"fresh{index}"
        _git(base, "clone", "-q", "--no-hardlinks", str(origin), fresh.name)
        started, started_cpu = WALL(), CPU()
        assert portable_identity(fresh.resolve(), None, "bench", token) is not None
        if index:  # the first round warms the page cache for git's own files
            cpu.append(CPU() - started_cpu)
            wall.append(WALL() - started)
        shutil.rmtree(fresh)
    return cpu, wall
