"""4. Garbage collection: prune and verify over 1,000 / 10,000 / 100,000 entries.

Each size gets a cache in which every entry is a tiny real wheel named by its
own source's pointer. Up to 10,000 entries the cache is filled with real
``add()`` calls. At 100,000 (where ``add()``'s fsyncs would take many minutes)
the same layout is written directly: the pointer (and lock file) of one real
``add()`` is the template for every other source's, and a full ``verify()`` of the result
must find every entry and pointer sound, so the tree is what ``add()`` makes.

Figures, per entry:

* ``prune`` when everything is referenced (a scan that deletes nothing);
* ``verify`` (re-hashes every entry and checks every pointer);
* ``prune`` when every entry is unreferenced and older than the grace period
  (everything goes, and so do the sources' lock files), against ``rm -rf`` of
  the same files (the wheels and locks buckets). Both work on identical trees
  (``cp -a`` copies of one expired tree), with dirty pages written back first;
  ``rm -rf`` includes starting the ``rm`` process (about 1 ms).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from typing import TYPE_CHECKING

from _harness import Context, drop_dirty_pages
from _wheels import wheel_bytes

if TYPE_CHECKING:
    from pathlib import Path

SECTION = "4. garbage collection (µs per entry)"
OLD = 7 * 24 * 3600.0


def _fill_with_add(root: Path, scratch: Path, count: int) -> None:
    from wheelcache import Source, WheelCache

    cache = WheelCache(root)
    for index in range(count):
        filename, content = wheel_bytes(f"gc{index:06d}", seed=index)
        wheel = scratch / filename
        wheel.write_bytes(content)
        cache.add(Source(f"bench-gc-{index}", "", f"gc{index:06d}"), wheel)
        wheel.unlink()


def _fill_directly(root: Path, scratch: Path, count: int) -> None:
    """Write *count* entries and pointers laid out exactly as add() lays them out."""
    import hashlib

    from wheelcache import Source, WheelCache

    cache = WheelCache(root)
    filename, content = wheel_bytes("gc000000", seed=0)
    (scratch / filename).write_bytes(content)
    first = Source("bench-gc-0", "", "gc000000")
    entry = cache.add(first, scratch / filename)
    (scratch / filename).unlink()
    pointers = [p for p in root.rglob("*.json") if first.digest in p.name]
    assert len(pointers) == 1, pointers
    pointer_pattern = str(pointers[0].relative_to(root)).replace(first.digest[:2], "{short}", 1)
    pointer_pattern = pointer_pattern.replace(first.digest, "{digest}")
    # add() also leaves a lock file per source (prune removes it with the pointer).
    locks = [
        str(p.relative_to(root))
        .replace(first.digest[:2], "{short}", 1)
        .replace(first.digest, "{digest}")
        for p in root.rglob(f"*{first.digest}*")
        if p.is_file() and p not in pointers
    ]
    template = pointers[0].read_text()
    wheels_bucket = entry.path.parent.parent.parent
    mode = entry.path.stat().st_mode & 0o777
    for index in range(1, count):
        name = f"gc{index:06d}"
        filename, content = wheel_bytes(name, seed=index)
        sha256 = hashlib.sha256(content).hexdigest()
        directory = wheels_bucket / sha256[:2] / sha256
        directory.mkdir(parents=True)
        path = directory / filename
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode | 0o200)
        try:
            os.write(fd, content)
        finally:
            os.close(fd)
        os.chmod(path, mode)
        source = Source(f"bench-gc-{index}", "", name)
        text = (
            template.replace(entry.sha256, sha256)
            .replace(entry.filename, filename)
            .replace(f'"size":{entry.size}', f'"size":{len(content)}')
            .replace(json.dumps(first.key), json.dumps(source.key))
            .replace('"gc000000"', f'"{name}"')
        )
        pointer = root / pointer_pattern.format(short=source.digest[:2], digest=source.digest)
        pointer.parent.mkdir(parents=True, exist_ok=True)
        pointer.write_text(text)
        for pattern in locks:
            lock = root / pattern.format(short=source.digest[:2], digest=source.digest)
            lock.parent.mkdir(parents=True, exist_ok=True)
            lock.touch()


def _expire(tree: Path, pointers_bucket: str) -> None:
    """Make every entry of *tree* unreferenced and older than any grace period."""
    shutil.rmtree(tree / pointers_bucket)
    stamp = time.time() - OLD
    for directory, _dirs, files in os.walk(tree):
        for name in files:
            if name.endswith(".whl"):
                os.utime(os.path.join(directory, name), (stamp, stamp))


def _copy(source: Path, *destinations: Path) -> None:
    """Copy *source* to each destination (with ``cp -a`` where there is one, in parallel)."""
    if shutil.which("cp"):
        copies = [subprocess.Popen(["cp", "-a", str(source), str(d)]) for d in destinations]
        if any(copy.wait() != 0 for copy in copies):
            raise RuntimeError(f"cp -a {source} failed")
    else:
        for destination in destinations:
            shutil.copytree(source, destination, symlinks=True)


def _remove(path: Path) -> None:
    if shutil.which("rm"):
        subprocess.run(["rm", "-rf", str(path)], check=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def _bucket(root: Path, prefix: str) -> str:
    names = [p.name for p in root.iterdir() if p.name.startswith(prefix)]
    assert len(names) == 1, names
    return names[0]


def run(ctx: Context) -> None:
    from wheelcache import WheelCache

    report = ctx.report
    base = ctx.scratch("gc")
    # (entries, fill with real add() calls?)
    plan = ctx.pick(
        [(200, True), (1_000, False)], [(1_000, True), (10_000, True), (100_000, False)]
    )
    sizes = [size for size, _ in plan]
    per_entry: dict[str, dict[int, list[float]]] = {
        "prune (keep)": {},
        "verify": {},
        "prune (delete)": {},
    }
    details: dict[str, object] = {}
    for size, with_add in plan:
        direct = not with_add
        template = base / f"cache-{size}"
        started = time.monotonic()
        if direct:
            _fill_directly(template, base, size)
        else:
            _fill_with_add(template, base, size)
        details[f"fill {size}"] = (
            f"{'direct layout' if direct else 'add()'}, {time.monotonic() - started:.0f} s"
        )
        cache = WheelCache(template)
        keep_rounds = 3 if ctx.quick else {1_000: 7, 10_000: 5}.get(size, 2)
        keep: list[float] = []
        verify: list[float] = []
        # A warm-up round first, except at the largest size, which filling just warmed.
        warmup = 0 if direct else 1
        for index in range(keep_rounds + warmup):
            started = time.perf_counter()
            pruned = cache.prune()
            keep_time = time.perf_counter() - started
            assert pruned.removed_entries == 0, pruned
            assert pruned.kept_entries == size, pruned
            started = time.perf_counter()
            verified = cache.verify()
            verify_time = time.perf_counter() - started
            assert verified.sound, verified
            assert verified.entries_checked == size, verified
            if index >= warmup:
                keep.append(keep_time / size)
                verify.append(verify_time / size)
        per_entry["prune (keep)"][size] = keep
        per_entry["verify"][size] = verify

        # The template itself becomes the expired tree: no pointers, every
        # wheel a week old. Each delete round works on copies of it, except the
        # last, whose prune consumes the template itself (fewer 100,000-entry
        # copies to make and delete).
        expired = template
        wheels_bucket = _bucket(expired, "wheels-")
        locks_bucket = _bucket(expired, "locks-")
        _expire(expired, _bucket(expired, "sources-"))
        delete_rounds = 2 if ctx.quick else {1_000: 5, 10_000: 3}.get(size, 2)
        prune_times: list[float] = []
        rm_times: list[float] = []
        for index in range(delete_rounds):
            last = index == delete_rounds - 1
            work = expired if last else base / f"work-{size}-{index}"
            other = base / f"rm-{size}-{index}"
            _copy(expired, *([other] if last else [work, other]))
            drop_dirty_pages()
            order = ("prune", "rm") if index % 2 == 0 else ("rm", "prune")
            for step in order:
                if step == "prune":
                    started = time.perf_counter()
                    pruned = WheelCache(work).prune()
                    prune_times.append((time.perf_counter() - started) / size)
                    assert pruned.removed_entries == size, pruned
                else:
                    started = time.perf_counter()
                    doomed = [str(other / wheels_bucket), str(other / locks_bucket)]
                    subprocess.run(["rm", "-rf", *doomed], check=True)
                    rm_times.append((time.perf_counter() - started) / size)
                drop_dirty_pages()
            # Both trees are empty of entries now; what is left is small.
            _remove(work)
            _remove(other)
        per_entry["prune (delete)"][size] = prune_times

        label = f"{size:,} entries"
        report.figure(
            SECTION, f"prune, all referenced (keeps all), {label}", keep, "µs/entry", scale=1e6
        )
        report.figure(SECTION, f"verify, {label}", verify, "µs/entry", scale=1e6)
        report.figure(
            SECTION,
            f"prune, all expired (deletes all), {label}",
            prune_times,
            "µs/entry",
            scale=1e6,
        )
        report.figure(
            SECTION, f"rm -rf of the same entries, {label}", rm_times, "µs/entry", scale=1e6
        )
        report.ratio(
            SECTION,
            f"prune (delete all) / rm -rf, {label}",
            prune_times,
            rm_times,
            target=("<=", 2.0),
        )
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        for kind, table in per_entry.items():
            report.ratio(
                SECTION,
                f"{kind} per entry, {large:,} / {small:,} entries",
                table[large],
                table[small][: len(table[large])],
                note="1.0 = linear growth",
            )
    report.status(SECTION, "ran", **details)
