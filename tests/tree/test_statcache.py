"""The promises of the stat cache: it makes fingerprints fast, and never makes one wrong."""

from __future__ import annotations

import logging
import os
import shutil
import zlib
from typing import TYPE_CHECKING

import pytest

from wheelcache import Source, WheelCache
from wheelcache._gc import statcaches as _statcaches
from wheelcache._layout import Layout, source_digest
from wheelcache._tree import fingerprint as _tree
from wheelcache._tree import statcache as _statcache
from wheelcache._tree.statcache import MAGIC

if TYPE_CHECKING:
    from pathlib import Path

OLD_NS = 1_600_000_000 * 10**9


@pytest.fixture(autouse=True)
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file counts as settled, so the stat cache remembers it."""
    monkeypatch.setattr(_tree, "_now_ns", lambda: 1 << 62)


def write(path: Path, data: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    os.utime(path, ns=(OLD_NS, OLD_NS))
    return path


def make_project(root: Path, files: int = 20, value: str = "1") -> Path:
    write(root / "pyproject.toml", '[project]\nname = "demo"\nversion = "1"\n')
    for index in range(files):
        write(root / "src" / "demo" / f"m{index:02}.py", f"VALUE = {value}\n")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A cache root."""
    return tmp_path / "cache"


def stat_file(root: Path, tree: Path) -> Path:
    return Layout(root).stat_cache_file(source_digest(str(tree.resolve())))


def unremembered(project: Path) -> str:
    """The token computed by reading every file (no stat cache at all)."""
    return _tree.fingerprint_tree(project)


# --- it accelerates ---------------------------------------------------------------------------


def test_a_warm_stat_cache_reads_no_file(project: Path, root: Path, reads: list[int]) -> None:
    first = Source.from_tree(project, cache=root)
    assert reads[0] == 21
    assert Source.from_tree(project, cache=root) == first
    assert reads[0] == 21
    assert first.freshness == unremembered(project)


def test_the_fingerprint_logs_the_same_entry_count_whatever_the_stat_cache_holds(
    project: Path, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``-v`` shows it: only the files read depend on the stat cache, not the tree's size."""
    caplog.set_level(logging.DEBUG, logger="wheelcache")
    Source.from_tree(project, cache=root)  # cold: every file read
    write(project / "src" / "demo" / "m07.py", "VALUE = 22\n")
    Source.from_tree(project, cache=root)  # one file read, the others remembered
    Source.from_tree(project, cache=root)  # warm: nothing read
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("fingerprinted")]
    counts = [line.split(": ", 1)[1].split(", in ")[0] for line in lines]

    assert counts == [f"23 entries, {read} files read" for read in (21, 1, 0)]


def test_a_warm_stat_cache_gives_the_token_of_reading_every_file(
    project: Path, root: Path, tmp_path: Path, reads: list[int]
) -> None:
    write(tmp_path / "outside" / "shared.py", "SHARED = 1\n")
    (project / "shared.py").symlink_to(tmp_path / "outside" / "shared.py")
    (project / "shared").symlink_to(tmp_path / "outside", target_is_directory=True)
    (project / "dangling.py").symlink_to("missing.py")
    (project / "run.sh").write_text("#!/bin/sh\n")
    (project / "run.sh").chmod(0o755)
    (project / "empty").mkdir()
    if hasattr(os, "mkfifo"):  # a capability, not a platform
        os.mkfifo(project / "pipe")
    expected = unremembered(project)
    assert Source.from_tree(project, cache=root).freshness == expected
    reads[0] = 0
    assert Source.from_tree(project, cache=root).freshness == expected
    assert reads[0] == 0


def test_an_edit_reads_only_the_edited_file(project: Path, root: Path, reads: list[int]) -> None:
    before = Source.from_tree(project, cache=root)
    write(project / "src" / "demo" / "m07.py", "VALUE = 22\n")
    reads[0] = 0
    after = Source.from_tree(project, cache=root)
    assert reads[0] == 1
    assert after != before
    assert after.freshness == unremembered(project)
    reads[0] = 0
    Source.from_tree(project, cache=root)
    assert reads[0] == 0


def test_files_added_and_removed_are_seen_through_the_stat_cache(
    project: Path, root: Path, reads: list[int]
) -> None:
    Source.from_tree(project, cache=root)
    (project / "src" / "demo" / "m03.py").unlink()
    write(project / "src" / "demo" / "m03b.py", "NEW = 1\n")
    (project / "src" / "demo" / "m19.py").unlink()  # the last entry in walk order
    reads[0] = 0
    token = Source.from_tree(project, cache=root).freshness
    assert reads[0] == 1
    assert token == unremembered(project)


def test_a_narrowed_walk_keeps_what_the_whole_walk_remembered(
    project: Path, root: Path, reads: list[int]
) -> None:
    whole = Source.from_tree(project, cache=root)
    write(project / "src" / "demo" / "m05.py", "VALUE = 55\n")
    narrowed = Source.from_tree(project, ["src/demo/m05.py"], cache=root)
    assert narrowed.freshness == _tree.fingerprint_tree(project, ["src/demo/m05.py"])
    reads[0] = 0
    again = Source.from_tree(project, cache=root)
    assert reads[0] == 0
    assert again != whole
    assert again.freshness == unremembered(project)


# --- it is never wrong ------------------------------------------------------------------------


def test_a_missing_stat_cache_gives_the_same_token(project: Path, root: Path) -> None:
    first = Source.from_tree(project, cache=root)
    stat_file(root, project).unlink()
    assert Source.from_tree(project, cache=root) == first


def _warm_then_change_a_file(project: Path, root: Path) -> str:
    """Remember the tree, then make a same-size edit that a trusted stale entry would hide.

    The file keeps its size, mtime and mode; the stat cache is then rewritten so that its
    entry for the file carries the *new* stat data (as if it had been remembered now) with
    the *old* digest. Returns the old token.
    """
    old = Source.from_tree(project, cache=root).freshness
    path = project / "src" / "demo" / "m10.py"
    data = stat_file(root, project).read_bytes()
    before = _statcache.entry_key(b"src/demo/m10.py", os.lstat(path))
    write(path, "VALUE = 9\n")
    after = _statcache.entry_key(b"src/demo/m10.py", os.lstat(path))
    content = data[:-8].replace(before, after)
    stat_file(root, project).write_bytes(content + b"%08x" % zlib.crc32(content))
    return old


def test_a_stat_cache_is_trusted_only_for_exactly_what_it_remembers(
    project: Path, root: Path
) -> None:
    # The premise of the damage tests below: an entry whose stat data matches is trusted.
    old = _warm_then_change_a_file(project, root)
    assert Source.from_tree(project, cache=root).freshness == old != unremembered(project)


@pytest.mark.parametrize("cut", [-8, -20, -40, 100, len(MAGIC) + 3, 1])
def test_a_truncated_stat_cache_gives_the_right_token(project: Path, root: Path, cut: int) -> None:
    _warm_then_change_a_file(project, root)
    path = stat_file(root, project)
    path.write_bytes(path.read_bytes()[:cut])
    assert Source.from_tree(project, cache=root).freshness == unremembered(project)


@pytest.mark.parametrize("where", [len(MAGIC) + 2, 300, -30, -3])
def test_a_corrupt_stat_cache_gives_the_right_token(project: Path, root: Path, where: int) -> None:
    _warm_then_change_a_file(project, root)
    path = stat_file(root, project)
    data = bytearray(path.read_bytes())
    data[where] ^= 0x01
    path.write_bytes(bytes(data))
    assert Source.from_tree(project, cache=root).freshness == unremembered(project)


def test_another_trees_stat_cache_gives_the_right_token(
    tmp_path: Path, root: Path, reads: list[int]
) -> None:
    # Two trees with the same paths and sizes but other bytes: one's stat cache put in
    # the other's place must not lend it its digests.
    one = make_project(tmp_path / "one", value="1")
    two = make_project(tmp_path / "two", value="2")
    Source.from_tree(one, cache=root)
    stat_file(root, two).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(stat_file(root, one), stat_file(root, two))
    reads[0] = 0
    token = Source.from_tree(two, cache=root).freshness
    assert reads[0] == 21
    assert token == unremembered(two)


def test_a_stat_cache_of_a_moved_tree_gives_the_right_token(tmp_path: Path, root: Path) -> None:
    # A renamed directory keeps its files' inodes and ctimes: the foreign entries do match.
    one = make_project(tmp_path / "one")
    Source.from_tree(one, cache=root)
    moved = tmp_path / "moved"
    one.rename(moved)
    stat_file(root, moved).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(stat_file(root, one), stat_file(root, moved))
    assert Source.from_tree(moved, cache=root).freshness == unremembered(moved)


def test_an_unreadable_stat_cache_gives_the_right_token(project: Path, root: Path) -> None:
    path = stat_file(root, project)
    path.mkdir(parents=True)  # a directory where the file should be
    assert Source.from_tree(project, cache=root).freshness == unremembered(project)


def test_an_unwritable_cache_directory_only_loses_the_acceleration(
    project: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    caplog.set_level(logging.DEBUG, logger="wheelcache")
    source = Source.from_tree(project, cache=blocker / "cache")  # cannot exist: ENOTDIR
    assert source.freshness == unremembered(project)
    assert "cannot write the stat cache" in caplog.text


def test_a_failing_rename_leaves_no_temp_file(
    project: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def replace(source: object, destination: object) -> None:
        raise OSError(30, "Read-only file system")

    Source.from_tree(project, cache=root)
    write(project / "src" / "demo" / "m01.py", "VALUE = 11\n")
    monkeypatch.setattr(os, "replace", replace)
    assert Source.from_tree(project, cache=root).freshness == unremembered(project)
    monkeypatch.undo()
    assert [path.name for path in stat_file(root, project).parent.iterdir()] == [
        stat_file(root, project).name
    ]


def test_a_stat_cache_is_bounded(
    project: Path, root: Path, monkeypatch: pytest.MonkeyPatch, reads: list[int]
) -> None:
    monkeypatch.setattr(_statcache, "MAX_ENTRIES", 20)  # the project has 21 files
    first = Source.from_tree(project, cache=root)
    assert not stat_file(root, project).exists()
    assert Source.from_tree(project, cache=root) == first
    assert reads[0] == 42


# --- where it lives ---------------------------------------------------------------------------


def test_the_stat_cache_lives_in_the_cache_never_in_the_project(project: Path, root: Path) -> None:
    before = sorted(project.rglob("*"))
    source = Source.from_tree(project, cache=WheelCache(root))
    assert sorted(project.rglob("*")) == before
    path = root / "statcache-v1" / source.digest[:2] / f"{source.digest}.stat"
    assert path.is_file()
    assert (root / "CACHEDIR.TAG").is_file()  # the root it made is a proper cache root


def test_without_a_cache_the_stat_cache_lives_in_the_default_cache(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELCACHE_DIR", str(tmp_path / "default"))
    source = Source.from_tree(project)
    assert WheelCache().root == tmp_path / "default"
    assert (tmp_path / "default" / "statcache-v1" / source.digest[:2]).is_dir()
    assert Source.from_tree(project, cache=tmp_path / "default") == source


# --- garbage collection -----------------------------------------------------------------------


def test_prune_reclaims_stat_caches_of_trees_that_no_longer_exist(
    tmp_path: Path, root: Path
) -> None:
    kept = make_project(tmp_path / "kept")
    gone = make_project(tmp_path / "gone")
    Source.from_tree(kept, cache=root)
    Source.from_tree(gone, cache=root)
    damaged = stat_file(root, tmp_path / "damaged")
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_bytes(b"not a stat cache")
    shutil.rmtree(gone)
    WheelCache(root).prune(dry_run=True)
    assert stat_file(root, gone).exists()
    WheelCache(root).prune()
    assert stat_file(root, kept).exists()
    assert not stat_file(root, gone).exists()
    assert not damaged.exists()


def test_prune_keeps_only_the_most_recently_written_stat_caches(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_statcaches, "MAX_STAT_CACHES", 2)
    trees = [make_project(tmp_path / f"tree{index}", files=1) for index in range(4)]
    for age, tree in enumerate(reversed(trees)):
        Source.from_tree(tree, cache=root)
        os.utime(stat_file(root, tree), (1_000_000 + age, 1_000_000 + age))
    WheelCache(root).prune()
    assert [stat_file(root, tree).exists() for tree in trees] == [True, True, False, False]


def test_prune_removes_temp_files_of_dead_writers_only_once_settled(
    project: Path, root: Path
) -> None:
    Source.from_tree(project, cache=root)
    shard = stat_file(root, project).parent
    old = shard / ".x.stat.1-aa.tmp"
    young = shard / ".x.stat.2-bb.tmp"
    old.write_bytes(b"half")
    young.write_bytes(b"half")
    os.utime(old, (1_000_000, 1_000_000))
    WheelCache(root).prune()
    assert not old.exists()
    assert young.exists()


def test_clean_empties_the_stat_caches(project: Path, root: Path) -> None:
    Source.from_tree(project, cache=root)
    WheelCache(root).clean()
    assert not stat_file(root, project).exists()


def test_links_below_the_cache_root_are_never_followed(
    project: Path, root: Path, tmp_path: Path
) -> None:
    Source.from_tree(project, cache=root)
    shard = stat_file(root, project).parent
    shutil.rmtree(shard)
    outside = tmp_path / "outside"
    outside.mkdir()
    shard.symlink_to(outside, target_is_directory=True)
    write(project / "src" / "demo" / "m02.py", "VALUE = 222\n")  # something to remember
    assert Source.from_tree(project, cache=root).freshness == unremembered(project)
    assert list(outside.iterdir()) == []  # no write went through the link
    assert shard in WheelCache(root).verify().links  # and verify reports it
    shard.unlink()
    Source.from_tree(project, cache=root)
    decoy = make_project(tmp_path / "decoy")
    Source.from_tree(decoy, cache=root)
    stat_file(root, project).unlink()
    stat_file(root, project).symlink_to(stat_file(root, decoy))
    assert Source.from_tree(project, cache=root).freshness == unremembered(project)
    assert stat_file(root, project).is_symlink()  # neither followed nor replaced
