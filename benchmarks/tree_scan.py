"""Time fingerprint_tree on synthetic project trees (run by hand, not by pytest).

    PYTHONPATH=src python benchmarks/tree_scan.py [--runs 30]

For 1,000 / 5,000 / 20,000 source files spread over nested directories (about
20 files per directory, three levels deep), plus ignored directories (.git,
build, a virtualenv, __pycache__) holding as many files again, it reports the
median, min and max wall time over the runs on a warm page cache:

* "warm stat cache": the normal case, every file older than the racy window
  and remembered by the stat cache, so only metadata is read;
* "no stat cache": every file read and hashed (what a first scan does);
* "all racy": every file treated as just modified, so read on every scan
  whatever the stat cache holds (right after a checkout or a mass rewrite).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from wheelcache._layout import Layout
from wheelcache._tree import fingerprint as _tree
from wheelcache._tree.fingerprint import fingerprint_tree
from wheelcache._tree.statcache import StatCache

FILES_PER_DIR = 20
PAYLOAD = b"# a line of python source\nimport os\n" * 25  # about 900 bytes


def write_files(directory: Path, count: int, suffix: str) -> None:
    """Write count files spread over three nested levels below directory."""
    for index in range(count):
        group = index // FILES_PER_DIR
        sub = directory / f"a{group // 100}" / f"b{(group // 10) % 10}" / f"c{group % 10}"
        if index % FILES_PER_DIR == 0:
            sub.mkdir(parents=True, exist_ok=True)
        (sub / f"m{index}{suffix}").write_bytes(PAYLOAD[: 200 + index % 700])


def build_tree(root: Path, count: int) -> None:
    """Create a project with count source files and as many ignored ones."""
    (root / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "1"\n')
    write_files(root / "src" / "bench", count, ".py")
    ignored = count // 4
    write_files(root / ".git" / "objects", ignored, "")
    write_files(root / "build" / "lib", ignored, ".py")
    (root / "env").mkdir()
    (root / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    write_files(root / "env" / "lib", ignored, ".py")
    write_files(root / "src" / "bench" / "__pycache__", count - 3 * ignored, ".pyc")


def measure(root: Path, runs: int, stat_cache: StatCache | None) -> list[float]:
    """Return the wall time in milliseconds of each of runs fingerprints of root."""
    fingerprint_tree(root, None, stat_cache)  # warm the page cache and the dentry cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fingerprint_tree(root, None, stat_cache)
        times.append((time.perf_counter() - started) * 1000)
    return times


def report(label: str, times: list[float]) -> None:
    """Print one result line."""
    print(
        f"{label:<28} median {statistics.median(times):7.2f} ms"
        f"   min {min(times):7.2f}   max {max(times):7.2f}   (n={len(times)})"
    )


def main(argv: list[str] | None = None) -> int:
    """Build the trees, time them and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 5_000, 20_000])
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as temp:
        roots = {}
        for size in args.sizes:
            roots[size] = Path(temp) / f"tree{size}"
            roots[size].mkdir()
            build_tree(roots[size], size)
        real_clock = _tree._now_ns
        stat_cache = StatCache(Layout(Path(temp) / "cache"))
        for size, root in roots.items():
            _tree._now_ns = lambda: 1 << 62  # nothing is racy
            report(f"{size:>6} files, warm stat cache", measure(root, args.runs, stat_cache))
            report(f"{size:>6} files, no stat cache", measure(root, args.runs, None))
            _tree._now_ns = lambda: 0  # everything is racy: contents read every time
            report(f"{size:>6} files, all racy", measure(root, args.runs, stat_cache))
        _tree._now_ns = real_clock
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
