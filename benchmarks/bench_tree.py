"""6. Freshness scan: ``Source.from_tree`` on 1,000 / 5,000 / 20,000-file project trees.

The trees come from ``benchmarks/tree_scan.py`` (source files spread over
nested directories, plus ignored directories -- .git, build, a virtualenv,
__pycache__ -- holding as many files again). The freshness is a digest of the
files' content; a stat cache in the cache directory remembers each file's
digest by its stat data. Figures, all in the same rounds:

* ``warm``: the normal case, every file older than the racy window (the
  benchmark waits it out) and remembered: only metadata is read;
* ``no stat cache``: the stat cache removed before each call, so every file
  is read and hashed, and the stat cache written again (right after a
  checkout, or a first use);
* ``one file edited``: one file rewritten a moment ago (the clock seam pins
  "now" just after its ctime, so it stays racy in every round), which is read
  on every call while the others come from the stat cache;
* ``one file edited, first scan once settled``: the stat cache is put back
  to its state before the edit (a file write, included) and "now" pinned just
  after the edited file settled, so each call reads the edited file,
  remembers it and rewrites the stat cache;
* the floors: a bare ``os.scandir`` walk that skips the same ignored
  directories and ``lstat``-s every file, which any metadata check must do;
  the same walk reading and hashing every file instead (the content floor);
  and reading and hashing the one edited file.

Times are CPU time (:data:`CLOCK`), not wall time.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import TYPE_CHECKING

from _harness import Context, Report, interleaved

if TYPE_CHECKING:
    from pathlib import Path

SECTION = "6. freshness scan (ms of CPU time per tree)"

CLOCK = time.process_time
"""CPU time (user + system) of this process: every file is in the page cache, so a scan
never waits, and CPU time is not inflated by other work on a shared machine."""
_SKIP = {b".git", b"build", b"env", b"__pycache__"}


def _walk(root: bytes, read: bool) -> int:
    """Stat (or read and hash) every file below *root* outside the ignored directories."""
    count = 0
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _SKIP:
                        stack.append(entry.path)
                    continue
                if read:
                    hash_file(entry.path)
                else:
                    entry.stat(follow_symlinks=False)
                count += 1
    return count


def bare_walk(root: bytes) -> int:
    """Stat every file below *root* outside the ignored directories; return how many."""
    return _walk(root, read=False)


def content_walk(root: bytes) -> int:
    """Read and hash every file below *root* outside the ignored directories; return how many."""
    return _walk(root, read=True)


def hash_file(path: bytes) -> bytes:
    """Read a whole file and return its SHA-256, as plainly as Python allows."""
    with open(path, "rb", buffering=0) as file:
        return hashlib.sha256(file.read()).digest()


def run(ctx: Context) -> None:
    import tree_scan

    from wheelcache import Source
    from wheelcache._layout import Layout, source_digest
    from wheelcache._tree import fingerprint as _tree

    report = ctx.report
    base = ctx.scratch("tree")
    cache = base / "cache"
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
            stat_file = Layout(cache).stat_cache_file(source_digest(str(root.resolve())))
            Source.from_tree(root, cache=cache)
            before_edit = stat_file.read_bytes()
            edited = next(iter(sorted((root / "src" / "bench").rglob("*.py"))))
            edited.write_bytes(edited.read_bytes().replace(b"import os", b"import re"))
            just_after_edit = edited.stat().st_ctime_ns + 1

            def warm(root: Path = root) -> None:
                Source.from_tree(root, cache=cache)

            def cold(root: Path = root, stat_file: Path = stat_file) -> None:
                stat_file.unlink()
                Source.from_tree(root, cache=cache)

            def one_edited(root: Path = root, now: int = just_after_edit) -> None:
                _tree._now_ns = lambda: now  # the edited file is racy, the others settled
                try:
                    Source.from_tree(root, cache=cache)
                finally:
                    _tree._now_ns = real_clock

            def settling(
                root: Path = root,
                stat_file: Path = stat_file,
                before: bytes = before_edit,
                now: int = just_after_edit + _tree.RACY_WINDOW_NS,
            ) -> None:
                stat_file.write_bytes(before)
                _tree._now_ns = lambda: now  # the edited file has just settled
                try:
                    Source.from_tree(root, cache=cache)
                finally:
                    _tree._now_ns = real_clock

            encoded, edited_path = os.fsencode(root), os.fsencode(edited)
            assert bare_walk(encoded) >= size
            warm()  # the edited file remembered, for the warm case
            cases = {
                "warm": (warm, 1),
                "no stat cache": (cold, 1),
                "one file edited": (one_edited, 1),
                "settling": (settling, 1),
                "floor": (lambda encoded=encoded: bare_walk(encoded), 1),
                "content floor": (lambda encoded=encoded: content_walk(encoded), 1),
                "hash one": (lambda path=edited_path: hash_file(path), 20),
            }
            rounds = ctx.pick(3, 15 if size < 20_000 else 9)
            times = interleaved(cases, rounds=rounds, clock=CLOCK)
            _report(report, size, times)
    finally:
        _tree._now_ns = real_clock
    report.status(SECTION, "ran", trees="tree_scan.build_tree: N source files + ignored dirs")


def _report(report: Report, size: int, times: dict[str, list[float]]) -> None:
    """Record the figures and ratios of one tree size."""
    label = f"{size:,} files"
    names = {
        "warm": "Source.from_tree, warm stat cache",
        "no stat cache": "Source.from_tree, no stat cache",
        "one file edited": "Source.from_tree, one file edited (racy)",
        "settling": "Source.from_tree, one file edited, first scan once settled",
        "floor": "floor (scandir + lstat each file)",
        "content floor": "content floor (scandir + read + sha256 each file)",
        "hash one": "read + sha256 of the edited file",
    }
    for case, name in names.items():
        report.figure(SECTION, f"{name}, {label}", times[case], "ms", scale=1e3)
    warm_plus_one = [w + h for w, h in zip(times["warm"], times["hash one"])]
    ratios: list[tuple[str, list[float], list[float], tuple[str, float] | None]] = [
        ("from_tree warm / floor", times["warm"], times["floor"], ("<=", 1.5)),
        (
            "from_tree no stat cache / content floor",
            times["no stat cache"],
            times["content floor"],
            ("<=", 1.2),
        ),
        (
            "from_tree one edited / (warm + hashing it)",
            times["one file edited"],
            warm_plus_one,
            ("<=", 1.0),
        ),
        ("from_tree first scan once settled / warm", times["settling"], times["warm"], None),
        ("content floor / floor", times["content floor"], times["floor"], None),
    ]
    for name, numerators, denominators, target in ratios:
        report.ratio(SECTION, f"{name}, {label}", numerators, denominators, target=target)
