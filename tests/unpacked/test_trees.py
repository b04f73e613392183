"""Unpacked trees: published once by rename, read-only, exactly the wheel's files, and GC-ed."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
import zipfile
from pathlib import Path

import pytest

import procs
from installkit import rich_wheel
from procs import SyncPoints
from wheelcache import CacheError, InvalidWheelError, Source, WheelCache
from wheelcache._unpacked.manifest import decode_manifest, record_hash
from wheelcache._unpacked.trees import Trees, read_manifest
from wheelcache._unpacked.unpack import unpack_wheel
from wheelfactory import make_wheel, write_zip

pytest.importorskip("installer")


@pytest.fixture
def cached(cache: WheelCache, tmp_path: Path, source: Source) -> object:
    return cache.add(source, rich_wheel(tmp_path / "wheels"))


def _trees(cache: WheelCache) -> Trees:
    return Trees(cache._store)


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_tree_holds_exactly_the_wheels_files_read_only(cache: WheelCache, cached: object) -> None:
    tree = _trees(cache).unpacked(cached)  # type: ignore[arg-type]

    files = Path(tree.files)
    with zipfile.ZipFile(cached.path) as archive:  # type: ignore[attr-defined]
        expected = {i.filename: archive.read(i) for i in archive.infolist()}
    found = {
        p.relative_to(files).as_posix(): p.read_bytes() for p in files.rglob("*") if p.is_file()
    }
    assert found == expected
    for path in [files, *files.rglob("*")]:
        assert not path.stat().st_mode & 0o222, path
    assert tree.created
    assert files.parent == cache._layout.tree_dir(cached.sha256)  # type: ignore[attr-defined]


def test_the_manifest_describes_every_file_so_installs_neither_walk_nor_hash(
    cache: WheelCache, cached: object
) -> None:
    tree = _trees(cache).unpacked(cached)  # type: ignore[arg-type]

    manifest = read_manifest(Path(tree.files).parent)
    assert manifest == tree.manifest
    assert manifest is not None
    by_path = {f.path: f for f in manifest.files}
    for path, item in by_path.items():
        data = (Path(tree.files) / path).read_bytes()
        assert item.hash == record_hash(hashlib.sha256(data).digest())
        assert item.size == len(data)
    tool = by_path["demo-1.0.data/scripts/demo-tool"]
    assert (tool.scheme, tool.relative, tool.executable) == ("scripts", "demo-tool", True)
    assert by_path["demo/__init__.py"].scheme == "purelib"
    assert not by_path["demo/__init__.py"].executable
    assert by_path["demo-1.0.data/headers/demo.h"].scheme == "headers"
    assert ("demo", "demo", "main", "console") in manifest.entry_points
    assert ("demo-gui", "demo", "main", "gui") in manifest.entry_points


def test_a_published_tree_is_reused_and_freshened(cache: WheelCache, cached: object) -> None:
    first = _trees(cache).unpacked(cached)  # type: ignore[arg-type]
    manifest = Path(first.files).parent / "manifest.json"
    _age(manifest, 7200)

    again = _trees(cache).unpacked(cached)  # type: ignore[arg-type]

    assert not again.created
    assert again.files == first.files
    assert time.time() - manifest.stat().st_mtime < 600


def test_unpacking_refuses_a_path_outside_the_tree(tmp_path: Path) -> None:
    evil = write_zip(
        tmp_path / "evil-1.0-py3-none-any.whl",
        [
            ("evil-1.0.dist-info/METADATA", b"Name: evil\nVersion: 1.0\n"),
            ("evil-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n"),
            ("../escaped.py", b"x"),
            ("evil/../../escaped2.py", b"x"),
        ],
    )
    (tmp_path / "stage").mkdir()

    with pytest.raises(InvalidWheelError, match="unsafe path"):
        unpack_wheel(evil, "0" * 64, tmp_path / "stage")

    assert not (tmp_path / "escaped.py").exists()
    assert not (tmp_path / "escaped2.py").exists()


def test_unpacking_refuses_a_file_that_disagrees_with_record(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "demo", "1.0")
    with zipfile.ZipFile(wheel) as archive:
        members = [(i.filename, archive.read(i)) for i in archive.infolist()]
    members = [(n, b"tampered\n" if n == "demo/__init__.py" else d) for n, d in members]
    write_zip(wheel, members)
    (tmp_path / "stage").mkdir()

    with pytest.raises(InvalidWheelError, match="does not match its hash in RECORD"):
        unpack_wheel(wheel, "0" * 64, tmp_path / "stage")


def test_a_damaged_published_tree_is_quarantined_and_unpacked_again(
    cache: WheelCache, cached: object
) -> None:
    first = _trees(cache).unpacked(cached)  # type: ignore[arg-type]
    manifest = Path(first.files).parent / "manifest.json"
    os.chmod(manifest, 0o644)
    manifest.write_bytes(b"{not json")

    again = _trees(cache).unpacked(cached)  # type: ignore[arg-type]

    assert again.created
    assert decode_manifest(manifest.read_bytes()) is not None
    assert len(list(cache._layout.quarantine.iterdir())) == 1


def test_a_process_killed_while_unpacking_leaves_nothing_taken_for_a_tree(
    cache: WheelCache, cached: object, syncpoints: SyncPoints
) -> None:
    sha256 = cached.sha256  # type: ignore[attr-defined]
    syncpoints.arm("tree.before-rename")
    child = procs.start({"op": "unpack", "root": str(cache.root), "sha256": sha256}, syncpoints.env)
    syncpoints.wait_reached("tree.before-rename")
    child.kill()

    assert not cache._layout.tree_dir(sha256).exists()
    staged = [p for p in cache._layout.staging.iterdir() if p.is_dir()]
    assert staged  # a complete-looking tree, unpublished
    tree = _trees(cache).unpacked(cached)  # type: ignore[arg-type]
    assert tree.created
    report = cache.prune(grace=0)
    assert report.reclaimed_staging == 1
    assert not [p for p in cache._layout.staging.iterdir() if p.is_dir()]


def test_prune_removes_trees_of_unreferenced_wheels_once_unused_for_the_grace_period(
    cache: WheelCache, tmp_path: Path
) -> None:
    kept = cache.add(Source("kept", "1", "demo"), rich_wheel(tmp_path / "a", seed=1))
    gone = cache.add(Source("gone", "1", "demo"), rich_wheel(tmp_path / "b", seed=2))
    recent = cache.add(Source("recent", "1", "demo"), rich_wheel(tmp_path / "c", seed=3))
    for wheel in (kept, gone, recent):
        _trees(cache).unpacked(wheel)
    for name in ("gone", "recent"):
        cache._layout.pointer_file(Source(name, "1").digest).unlink()
    for wheel in (kept, gone):
        _age(cache._layout.tree_dir(wheel.sha256) / "manifest.json", 7200)
        _age(wheel.path, 7200)

    report = cache.prune(grace=3600)

    assert cache._layout.tree_dir(kept.sha256).exists()  # its wheel is referenced
    assert not cache._layout.tree_dir(gone.sha256).exists()
    assert cache._layout.tree_dir(recent.sha256).exists()  # used within the grace period
    assert (report.removed_trees, report.kept_trees) == (1, 2)
    assert report.kept_tree_bytes > 0
    assert not list(cache._layout.trash.iterdir())


def test_prune_dry_run_counts_trees_and_removes_none(cache: WheelCache, cached: object) -> None:
    _trees(cache).unpacked(cached)  # type: ignore[arg-type]
    for pointer in cache._layout.pointers.rglob("*.json"):
        pointer.unlink()

    report = cache.prune(grace=0, dry_run=True)

    assert report.removed_trees == 1
    assert cache._layout.tree_dir(cached.sha256).exists()  # type: ignore[attr-defined]


def test_a_killed_prunes_trashed_tree_is_deleted_by_the_next(
    cache: WheelCache, cached: object
) -> None:
    tree = Path(_trees(cache).unpacked(cached).files).parent  # type: ignore[arg-type]
    cache._layout.trash.mkdir(parents=True)
    os.rename(tree, cache._layout.trash / f"tree-{tree.name}.123-abc")

    report = cache.prune(grace=3600)

    assert report.reclaimed_trash == 1
    assert not list(cache._layout.trash.iterdir())


def test_verify_rehashes_trees_and_repair_moves_a_modified_one_aside(
    cache: WheelCache, cached: object
) -> None:
    tree = _trees(cache).unpacked(cached)  # type: ignore[arg-type]
    assert cache.verify().sound
    target = Path(tree.files) / "demo" / "__init__.py"
    os.chmod(target.parent, 0o755)
    os.chmod(target, 0o644)
    target.write_bytes(b"print('edited through a link')\n")
    os.chmod(target, 0o444)

    report = cache.verify()

    assert not report.sound
    assert [c.sha256 for c in report.corrupt_trees] == [cached.sha256]  # type: ignore[attr-defined]
    assert "demo/__init__.py was modified" in report.corrupt_trees[0].problem
    repaired = cache.verify(repair=True)
    assert len(repaired.quarantined) == 1
    assert not Path(tree.files).parent.exists()
    assert cache.verify().sound


@pytest.mark.parametrize("damage", ["extra", "missing", "writable", "manifest"])
def test_verify_finds_every_kind_of_tree_damage(
    cache: WheelCache, cached: object, damage: str
) -> None:
    tree = Path(_trees(cache).unpacked(cached).files)  # type: ignore[arg-type]
    os.chmod(tree / "demo", 0o755)
    if damage == "extra":
        (tree / "demo" / "stray.py").write_bytes(b"")
    elif damage == "missing":
        (tree / "demo" / "__init__.py").unlink()
    elif damage == "writable":
        os.chmod(tree / "demo" / "__init__.py", 0o644)
    else:
        os.chmod(tree.parent / "manifest.json", 0o644)
        (tree.parent / "manifest.json").write_text("[]")

    report = cache.verify()

    assert len(report.corrupt_trees) == 1


def test_clean_removes_trees(cache: WheelCache, cached: object) -> None:
    _trees(cache).unpacked(cached)  # type: ignore[arg-type]

    cache.clean()

    assert not cache._layout.trees.exists()


def test_info_counts_trees_and_their_bytes(cache: WheelCache, cached: object) -> None:
    tree = _trees(cache).unpacked(cached)  # type: ignore[arg-type]

    stats = cache.stats()

    assert stats.trees == 1
    assert stats.tree_bytes == sum(f.size for f in tree.manifest.files) > 0


def test_two_processes_unpacking_one_cold_tree_both_get_the_one_published(
    cache: WheelCache, cached: object, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    op = {"op": "unpack", "root": str(cache.root), "sha256": cached.sha256, "start_file": str(go)}  # type: ignore[attr-defined]
    children = [procs.start(op), procs.start(op)]
    go.touch()
    results = [child.result() for child in children]

    assert results[0]["files"] == results[1]["files"]
    assert [p for p in cache._layout.staging.iterdir() if p.is_dir()] == []
    assert cache.verify().sound
    assert json.loads((Path(results[0]["files"]).parent / "manifest.json").read_bytes())


def test_an_unusable_cache_raises_cache_error(tmp_path: Path, cached: object) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache should be")
    with pytest.raises(CacheError):
        _trees(WheelCache(blocked)).unpacked(cached)  # type: ignore[arg-type]


def test_tree_files_modes_keep_the_executable_bit(cache: WheelCache, cached: object) -> None:
    files = Path(_trees(cache).unpacked(cached).files)  # type: ignore[arg-type]
    mode = (files / "demo-1.0.data" / "scripts" / "demo-tool").stat().st_mode
    assert stat.S_IMODE(mode) == 0o555
    assert stat.S_IMODE((files / "demo" / "__init__.py").stat().st_mode) == 0o444


def test_a_link_planted_where_a_tree_belongs_is_refused_not_followed(
    cache: WheelCache, cached: object, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    place = cache._layout.tree_dir(cached.sha256)  # type: ignore[attr-defined]
    place.parent.mkdir(parents=True)
    place.symlink_to(elsewhere)

    with pytest.raises(CacheError, match="link"):
        _trees(cache).unpacked(cached)  # type: ignore[arg-type]

    assert list(elsewhere.iterdir()) == []


def test_a_tree_whose_damage_differs_at_every_look_is_still_reported_and_quarantined(
    cache: WheelCache, cached: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Damage in flux (a stray writer adds a file before each look) is damage all the same.

    Each look finds a problem, each a different one: the tree was never seen
    sound, and it stayed in place. Only a look that finds the tree sound (or
    gone) may clear it; otherwise verify says nothing and --repair never
    moves it, run after run.
    """
    tree = Path(_trees(cache).unpacked(cached).files)  # type: ignore[arg-type]
    os.chmod(tree / "demo", 0o755)
    strays = iter(["stray-c.py", "stray-b.py", "stray-a.py", "stray-0.py", "stray-00.py"])

    def a_new_stray_before_each_look(directory: Path) -> object:
        (tree / "demo" / next(strays)).write_bytes(b"")
        return read_manifest(directory)

    monkeypatch.setattr("wheelcache._gc.trees.read_manifest", a_new_stray_before_each_look)

    report = cache.verify(repair=True)

    assert [c.sha256 for c in report.corrupt_trees] == [cached.sha256]  # type: ignore[attr-defined]
    assert "holds files its wheel does not" in report.corrupt_trees[0].problem
    assert len(report.quarantined) == 1
    assert not tree.parent.exists()
