"""6. Freshness scan: ``Source.from_tree`` on 1,000 / 5,000 / 20,000-file project trees.

The trees come from ``benchmarks/tree_scan.py`` (source files spread over
nested directories, plus ignored directories -- .git, build, a virtualenv,
__pycache__ -- holding as many files again). Figures:

* ``settled``: the normal case, every file older than the racy window (the
  benchmark waits it out), so only metadata is read;
* ``all racy``: every file treated as just modified, so its content is hashed
  too (right after a checkout);
* the floor: a bare ``os.scandir`` walk that skips the same ignored
  directories and stats every file, which any metadata fingerprint must do.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from _harness import Context, interleaved

if TYPE_CHECKING:
    from pathlib import Path

SECTION = "6. freshness scan (ms per tree)"
_SKIP = {b".git", b"build", b"env", b"__pycache__"}


def bare_walk(root: bytes) -> int:
    """Stat every file below *root* outside the ignored directories; return how many."""
    count = 0
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _SKIP:
                        stack.append(entry.path)
                    continue
                entry.stat(follow_symlinks=False)
                count += 1
    return count


def run(ctx: Context) -> None:
    import tree_scan

    from wheelcache import Source
    from wheelcache._tree import fingerprint as _tree

    report = ctx.report
    base = ctx.scratch("tree")
    sizes = ctx.pick([1_000], [1_000, 5_000, 20_000])
    roots = {}
    for size in sizes:
        roots[size] = base / f"tree{size}"
        roots[size].mkdir()
        tree_scan.build_tree(roots[size], size)
    time.sleep(_tree.RACY_WINDOW_NS / 1e9 + 0.5)  # let every file settle
    real_clock = _tree._now_ns
    try:
        for size, root in roots.items():

            def settled(root: Path = root) -> None:
                _tree._now_ns = real_clock
                Source.from_tree(root)

            def racy(root: Path = root) -> None:
                _tree._now_ns = lambda: 0  # the walk "starts" at the epoch: every file looks racy
                try:
                    Source.from_tree(root)
                finally:
                    _tree._now_ns = real_clock

            encoded = os.fsencode(root)
            assert bare_walk(encoded) >= size
            cases = {
                "settled": (settled, 1),
                "all racy": (racy, 1),
                "floor": (lambda encoded=encoded: bare_walk(encoded), 1),
            }
            times = interleaved(cases, rounds=ctx.pick(3, 15 if size < 20_000 else 9))
            label = f"{size:,} files"
            report.figure(
                SECTION, f"Source.from_tree, settled, {label}", times["settled"], "ms", scale=1e3
            )
            report.figure(
                SECTION, f"Source.from_tree, all racy, {label}", times["all racy"], "ms", scale=1e3
            )
            report.figure(
                SECTION,
                f"floor (scandir + stat each file), {label}",
                times["floor"],
                "ms",
                scale=1e3,
            )
            report.figure(
                SECTION,
                f"Source.from_tree, settled, per file, {label}",
                [t / size for t in times["settled"]],
                "µs/file",
                scale=1e6,
            )
            report.ratio(
                SECTION, f"from_tree settled / floor, {label}", times["settled"], times["floor"]
            )
            report.ratio(
                SECTION,
                f"from_tree all racy / settled, {label}",
                times["all racy"],
                times["settled"],
            )
    finally:
        _tree._now_ns = real_clock
    report.status(SECTION, "ran", trees="tree_scan.build_tree: N source files + ignored dirs")
