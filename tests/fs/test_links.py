"""Links planted in the cache: nothing outside the root is ever touched (issue 12, items 1-2).

The one rule (wheelcache._fs.nofollow): nothing in the layout below the root
is followed. Each test plants a symbolic link where the layout expects a
directory or file, pointing at an "outside" directory, runs the operation an
attacker or an accident would provoke, and checks that the outside is exactly
as it was: same mode, same files, same times.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ondisk import DAY, age
from usertools import as_other_user, give_to_other_user, needs_root, shared_directory
from wheelcache import CacheError, Source, WheelCache
from wheelfactory import make_wheel


def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    """Mode and mtime (ns) of *directory* and everything below it, by relative path."""
    found = {".": (os.lstat(directory).st_mode, os.lstat(directory).st_mtime_ns)}
    for top, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = Path(top, name)
            info = os.lstat(path)
            found[str(path.relative_to(directory))] = (info.st_mode, info.st_mtime_ns)
    return found


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the cache, with one old file in it."""
    directory = tmp_path / "outside"
    directory.mkdir()
    os.chmod(directory, 0o755)
    (directory / "precious.txt").write_text("keep me")
    age(directory / "precious.txt", DAY)
    return directory


@needs_root
def test_prune_never_chmods_or_deletes_through_a_link_in_a_tree_it_deletes(
    source: Source, wheel: Path
) -> None:
    # A read-only directory in the trash holding a link to the outside: as a
    # user who owns both, deleting the link needs the parent made writable,
    # and the old error handler chmod-ed the link's target (755 -> 700).
    with shared_directory() as shared:
        _prune_a_tree_with_a_link(shared, source, wheel)


def _prune_a_tree_with_a_link(shared: Path, source: Source, wheel: Path) -> None:
    cache = WheelCache(shared / "cache")
    outside = shared / "outside"
    outside.mkdir()
    os.chmod(outside, 0o755)
    (outside / "precious.txt").write_text("keep me")
    cache.add(source, wheel)
    trash = cache.root / "trash-v1"
    leftover = trash / "leftover"
    leftover.mkdir(parents=True)
    (leftover / "link").symlink_to(outside, target_is_directory=True)
    os.chmod(leftover, 0o555)
    give_to_other_user(cache.root, outside)
    before = snapshot(outside)

    as_other_user(lambda: WheelCache(cache.root).prune(grace=0))

    assert snapshot(outside) == before
    assert not leftover.exists()


@pytest.mark.parametrize("level", ["entry", "entry shard"])
def test_a_linked_entry_is_read_only_followed_never_freshened_and_prune_refuses(
    cache: WheelCache, source: Source, wheel: Path, outside: Path, level: str
) -> None:
    added = cache.add(source, wheel)
    entry = added.path.parent if level == "entry" else added.path.parent.parent
    copy = outside / entry.name
    os.rename(entry, copy)
    entry.symlink_to(copy, target_is_directory=True)
    before = snapshot(outside)

    # get() does not look above the wheel (a system call on every hit): it
    # reads through the link. Nothing that changes anything follows it.
    hit = cache.get(source)
    assert hit is not None
    assert hit.path == added.path
    assert cache.find(added.sha256) is None
    assert list(cache.wheels()) == []
    # So prune, which never follows a link, refuses to judge what such a
    # lookup may have handed out, and deletes nothing.
    with pytest.raises(CacheError, match=r"lookups follow.*verify --repair"):
        cache.prune(grace=0)
    assert snapshot(outside) == before
    assert entry.is_symlink()
    cache.verify(repair=True)
    assert not entry.is_symlink()
    assert cache.prune(grace=0).removed_entries == 0
    assert snapshot(outside) == before


def test_prune_stamp_link_is_not_followed(
    cache: WheelCache, source: Source, wheel: Path, outside: Path
) -> None:
    cache.add(source, wheel)
    target = outside / "created-by-prune"
    (cache.root / "locks-v1" / "prune.stamp").unlink(missing_ok=True)
    (cache.root / "locks-v1" / "prune.stamp").symlink_to(target)
    before = snapshot(outside)

    cache.prune()

    assert not target.exists()
    assert snapshot(outside) == before


def test_add_refuses_to_quarantine_into_a_linked_quarantine(
    cache: WheelCache, source: Source, wheel: Path, outside: Path
) -> None:
    added = cache.add(source, wheel)
    os.chmod(added.path, 0o644)
    added.path.write_bytes(b"damaged")  # publish finds a damaged entry: quarantine it
    (cache.root / "quarantine-v1").symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)

    with pytest.raises(CacheError, match="quarantine-v1 is a symbolic link"):
        cache.add(source, wheel)

    assert snapshot(outside) == before


def test_add_refuses_to_publish_into_a_linked_shard(
    cache: WheelCache, source: Source, wheel: Path, outside: Path, tmp_path: Path
) -> None:
    other = make_wheel(tmp_path / "other", "other", "1.0")
    cache.add(source, wheel)
    from ondisk import sha256_of

    shard = cache.root / "wheels-v1" / sha256_of(other)[:2]
    if shard.exists():
        pytest.skip("both wheels share a shard")
    shard.symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)

    with pytest.raises(CacheError, match="is a symbolic link"):
        cache.add(Source("other"), other)

    assert snapshot(outside) == before


@pytest.mark.parametrize("bucket", ["trash-v1", "staging-v1", "wheels-v1", "sources-v1"])
def test_prune_and_clean_refuse_a_linked_bucket(
    cache: WheelCache, source: Source, wheel: Path, outside: Path, bucket: str
) -> None:
    cache.add(source, wheel)
    path = cache.root / bucket
    if path.exists():
        os.rename(path, cache.root / f"{bucket}.moved")
    path.symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)

    with pytest.raises(CacheError, match="is a symbolic link"):
        cache.prune(grace=0)
    with pytest.raises(CacheError, match="is a symbolic link"):
        cache.clean()

    assert snapshot(outside) == before


def test_verify_reports_every_link_and_repair_moves_them_aside(
    cache: WheelCache, source: Source, wheel: Path, outside: Path
) -> None:
    added = cache.add(source, wheel)
    pointer = cache._layout.pointer_file(source.digest)
    planted = [
        cache.root / "wheels-v1" / "zz",  # a shard
        pointer.parent / ("0" * 64 + ".json"),  # a pointer
        cache.root / "locks-v1" / "prune.stamp",
        cache.root / "quarantine-v1",  # a bucket
    ]
    for link in planted:
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)

    report = cache.verify()
    assert set(report.links) == set(planted)
    assert not report.sound

    repaired = cache.verify(repair=True)
    assert set(repaired.links) == set(planted)
    assert not any(link.is_symlink() for link in planted)
    assert cache.verify().sound
    assert snapshot(outside) == before
    assert cache.get(source) == added


def test_verify_reports_an_entry_whose_wheel_is_a_link(
    cache: WheelCache, source: Source, wheel: Path, outside: Path
) -> None:
    added = cache.add(source, wheel)
    (outside / added.path.name).write_bytes(added.path.read_bytes())
    os.chmod(added.path, 0o644)
    added.path.unlink()
    added.path.symlink_to(outside / added.path.name)
    before = snapshot(outside)

    assert cache.get(source) is None
    report = cache.verify(repair=True)

    assert [c.problem for c in report.corrupt] == [
        f"its wheel {added.path.name!r} is a symbolic link"
    ]
    assert not added.path.parent.exists()  # the entry (with the link) is in quarantine
    assert snapshot(outside) == before


def test_prune_refuses_while_a_pointer_shard_that_get_follows_is_a_link(
    cache: WheelCache, source: Source, wheel: Path, outside: Path
) -> None:
    added = cache.add(source, wheel)
    age(added.path, DAY)
    shard = cache._layout.pointer_file(source.digest).parent
    moved = outside / shard.name
    os.rename(shard, moved)
    shard.symlink_to(moved, target_is_directory=True)

    # get() reads the pointer through the linked shard (it does not lstat the
    # shard on every hit); sources() and prune's scan never list below a link.
    # Had prune run, the entry would look unreferenced and old, and it would
    # delete what get() had just handed out: so prune refuses.
    hit = cache.get(source)
    assert hit is not None
    assert hit.sha256 == added.sha256
    assert list(cache.sources()) == []
    with pytest.raises(CacheError, match=r"is a symbolic link, which lookups follow"):
        cache.prune(grace=0)
    assert added.path.exists()
    assert (moved / f"{source.digest}.json").exists()  # the outside is untouched
    assert stat.S_ISLNK(os.lstat(shard).st_mode)
