"""Real processes sharing one cache: the core store's multi-process promises.

Each child is an independent interpreter (tests/worker.py). Children wait on a
start file (a barrier) so they really run at once; every wait has a deadline
and every child is reaped by the autouse fixture in conftest.py.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import procs
from wheelcache import Source, WheelCache
from wheelcache._layout import Layout
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

CHILDREN = 6


def test_processes_adding_the_same_wheel_create_one_entry_and_all_succeed(
    tmp_path: Path,
) -> None:
    root = tmp_path / "cache"
    wheel = make_wheel(tmp_path / "w", payload_size=2 << 20)
    go = tmp_path / "go"
    children = [
        procs.start(
            {
                "op": "add",
                "root": str(root),
                "key": f"source-{i}",
                "wheel": str(wheel),
                "start_file": str(go),
            }
        )
        for i in range(CHILDREN)
    ]
    go.touch()
    results = [child.result() for child in children]
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert {r["sha256"] for r in results} == {digest}
    assert len({r["path"] for r in results}) == 1
    cache = WheelCache(root)
    assert [w.sha256 for w in cache.wheels()] == [digest]
    assert len(list(cache.sources())) == CHILDREN
    assert list((root / "staging-v1").iterdir()) == []


def test_processes_adding_different_wheels_to_one_revision_lose_none(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    wheels = [
        make_wheel(tmp_path / str(i), "demo", "1.0", f"cp3{i}-cp3{i}-manylinux_2_28_x86_64")
        for i in range(CHILDREN)
    ]
    go = tmp_path / "go"
    children = [
        procs.start(
            {
                "op": "add",
                "root": str(root),
                "key": "one-source",
                "freshness": "rev",
                "wheel": str(w),
                "start_file": str(go),
            }
        )
        for w in wheels
    ]
    go.touch()
    for child in children:
        child.result()
    pointer = json.loads(Layout(root).pointer_file(Source("one-source").digest).read_bytes())
    assert {w["filename"] for w in pointer["wheels"]} == {w.name for w in wheels}


def test_get_or_build_from_processes_runs_exactly_one_build(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    builds = tmp_path / "builds"
    builds.mkdir()
    go = tmp_path / "go"
    op = {
        "op": "get_or_build",
        "root": str(root),
        "key": "sdist",
        "builds_dir": str(builds),
        "delay": 0.5,
        "start_file": str(go),
    }
    children = [procs.start(op) for _ in range(CHILDREN)]
    go.touch()
    results = [child.result() for child in children]
    assert len({r["path"] for r in results}) == 1
    assert len((builds / "count").read_text().splitlines()) == 1


def test_held_path_stays_readable_after_another_process_refreshes_the_source(
    tmp_path: Path,
) -> None:
    root = tmp_path / "cache"
    cache = WheelCache(root)
    old = cache.add(Source("key", "rev-1"), make_wheel(tmp_path / "old", seed=1))
    go = tmp_path / "go"
    ready = tmp_path / "ready"
    holder = procs.start(
        {
            "op": "hold",
            "root": str(root),
            "key": "key",
            "freshness": "rev-1",
            "go_file": str(go),
            "ready_file": str(ready),
        }
    )
    procs.wait_for_file(ready)  # the holder has been handed the old path
    # ... another process publishes a new revision and a prune runs ...
    refresher = procs.start(
        {
            "op": "add",
            "root": str(root),
            "key": "key",
            "freshness": "rev-2",
            "wheel": str(make_wheel(tmp_path / "new", seed=2)),
        }
    )
    refresher.result()
    pruner = procs.start({"op": "prune", "root": str(root), "grace": 3600})
    report = pruner.result()
    assert report["removed_entries"] == 0
    go.touch()
    held = holder.result()
    assert held["path"] == str(old.path)
    assert held["sha256"] == old.sha256
    assert cache.get(Source("key", "rev-2")) is not None
