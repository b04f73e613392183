"""Full disk: the cache root lives on a small tmpfs, and writes run out of room.

A wheel that cannot fit raises DiskFullError (a CacheError, and an OSError
with ENOSPC) whose message says the disk is full; nothing partial remains
(no staging directory, no new entry, no pointer temp file); earlier entries
and pointers are intact; and once room frees, the same add works. The disk
can also fill up exactly between publishing an entry and writing its pointer.

Mounting needs privileges; where the mount is refused the tests skip and say so.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mounts import tmpfs
from ondisk import snapshot
from torture.torture_kit import Counted, Ledger, assert_entries_complete, entry_digests, read_back
from wheelcache import CacheError, DiskFullError, Source, WheelCache
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.torture

DISK_BYTES = 2 << 20
A = Source("disk:a", "1", "alpha")
B = Source("disk:b", "1", "beta")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A fresh 2 MiB tmpfs, unmounted afterwards whatever happens."""
    with tmpfs(
        tmp_path / "disk", f"size={DISK_BYTES},mode=0700", "create a small filesystem to fill"
    ) as mountpoint:
        yield mountpoint


def free_blocks(path: Path) -> int:
    return os.statvfs(path).f_bavail


def fill(disk: Path, leave_blocks: int) -> Path:
    """Write a filler file so that exactly *leave_blocks* blocks stay free."""
    info = os.statvfs(disk)
    filler = disk / "filler"
    size = (info.f_bavail - leave_blocks) * info.f_bsize
    assert size >= 0, f"only {info.f_bavail} blocks free, wanted to leave {leave_blocks}"
    with open(filler, "wb") as handle:
        handle.write(b"\0" * size)
    assert free_blocks(disk) == leave_blocks, (
        "the filesystem does not account space in whole blocks"
    )
    return filler


def assert_nothing_partial(root: Path, entries_before: set[str]) -> None:
    staging = root / "staging-v1"
    leftovers = sorted(p.name for p in staging.iterdir()) if staging.exists() else []
    assert leftovers == [], f"staging-v1 is not empty: {leftovers}"
    temps = (
        [p.name for p in (root / "sources-v1").glob("*/.*")]
        if (root / "sources-v1").exists()
        else []
    )
    assert temps == [], f"pointer temp files left behind: {temps}"
    assert not [p for p in root.glob(".*") if p.is_file()], "temp files left in the cache root"
    assert entry_digests(root) == entries_before
    assert_entries_complete(root)


class Baseline:
    """Two wheels cached on the small disk, with what must not change."""

    def __init__(self, disk: Path, tmp_path: Path, ledger: Ledger) -> None:
        self.root = disk / "cache"
        self.cache = Counted(WheelCache(self.root), ledger)
        self.a = self.cache.add(A, make_wheel(tmp_path / "a", "alpha", "1.0", payload_size=40_000))
        self.b = self.cache.add(B, make_wheel(tmp_path / "b", "beta", "1.0"))
        self.entries = entry_digests(self.root)
        self.files = snapshot(self.root)

    def assert_intact(self) -> None:
        assert snapshot(self.root) == self.files
        for source, wheel in ((A, self.a), (B, self.b)):
            hit = self.cache.get(source)
            assert hit is not None
            assert hit.sha256 == wheel.sha256
            assert read_back(hit, self.root, time.monotonic()).ok


def assert_says_disk_full(error: BaseException) -> None:
    assert isinstance(error, DiskFullError), repr(error)
    assert isinstance(error, CacheError), repr(error)
    assert isinstance(error, OSError), repr(error)
    assert error.errno == errno.ENOSPC, repr(error)
    assert "the disk is full" in str(error), str(error)


def test_wheel_larger_than_the_disk(disk: Path, tmp_path: Path, ledger: Ledger) -> None:
    base = Baseline(disk, tmp_path, ledger)
    free = free_blocks(disk)
    huge = make_wheel(tmp_path / "huge", "huge", "1.0", payload_size=DISK_BYTES + (512 << 10))

    with pytest.raises(DiskFullError) as raised:
        base.cache.add(Source("disk:huge", "1"), huge)
    assert_says_disk_full(raised.value)
    assert_nothing_partial(base.root, base.entries)
    base.assert_intact()
    assert free_blocks(disk) == free, "space was not given back"

    later = base.cache.add(Source("disk:c", "1"), make_wheel(tmp_path / "c", "gamma", "1.0"))
    assert base.cache.get(Source("disk:c", "1")) == later


def test_adds_work_once_room_frees(disk: Path, tmp_path: Path, ledger: Ledger) -> None:
    base = Baseline(disk, tmp_path, ledger)
    filler = fill(disk, leave_blocks=10)
    medium = make_wheel(tmp_path / "m", "medium", "1.0", payload_size=200_000)
    source = Source("disk:medium", "1")

    with pytest.raises(DiskFullError) as raised:
        base.cache.add(source, medium)
    assert_says_disk_full(raised.value)
    # The build's own error propagates unchanged.
    with pytest.raises(OSError, match="No space left on device") as build_raised:
        base.cache.get_or_build(source, lambda out: shutil.copyfile(medium, out / medium.name))
    assert build_raised.value.errno == errno.ENOSPC
    assert_nothing_partial(base.root, base.entries)
    assert base.cache.get(source) is None
    base.assert_intact()

    filler.unlink()
    added = base.cache.add(source, medium)
    hit = base.cache.get(source)
    assert hit is not None
    assert hit.sha256 == added.sha256
    assert read_back(hit, base.root, time.monotonic()).ok
    assert base.cache.verify().sound


def test_disk_fills_up_between_the_entry_and_its_pointer(
    disk: Path, tmp_path: Path, ledger: Ledger
) -> None:
    base = Baseline(disk, tmp_path, ledger)
    newer = make_wheel(tmp_path / "a2", "alpha", "1.0", "py2.py3-none-any", payload_size=30_000)
    block = os.statvfs(disk).f_bsize
    filler = fill(
        disk, leave_blocks=math.ceil(newer.stat().st_size / block)
    )  # the entry fits; nothing else
    pointer = WheelCache(base.root)._layout.pointer_file(A.digest)
    old_pointer = pointer.read_bytes()

    with pytest.raises(DiskFullError) as raised:
        base.cache.add(A, newer)
    assert_says_disk_full(raised.value)
    assert Path(raised.value.path) == pointer, (
        f"expected the pointer write to fail, not {raised.value.path}"
    )
    staging = base.root / "staging-v1"
    assert list(staging.iterdir()) == []
    assert not [p.name for p in pointer.parent.iterdir() if p.name.startswith(".")], (
        "pointer temp file left"
    )
    # The old pointer is intact and still names A's first wheel; the new entry
    # is whole but unreferenced, for prune to take after the grace period.
    assert pointer.read_bytes() == old_pointer
    hit = base.cache.get(A)
    assert hit is not None
    assert hit.sha256 == base.a.sha256
    assert len(entry_digests(base.root) - base.entries) == 1
    assert_entries_complete(base.root)

    filler.unlink()
    added = base.cache.add(A, newer)
    recorded = {
        w.sha256 for record in base.cache.sources() if record.key == A.key for w in record.wheels
    }
    assert recorded == {base.a.sha256, added.sha256}
    assert base.cache.verify().sound


def test_build_that_fills_the_disk(disk: Path, tmp_path: Path, ledger: Ledger) -> None:
    base = Baseline(disk, tmp_path, ledger)
    wheel = make_wheel(tmp_path / "built", "built", "1.0", payload_size=100_000)
    blocks = math.ceil(wheel.stat().st_size / os.statvfs(disk).f_bsize)
    source = Source("disk:built", "1")

    def build(output: Path) -> None:
        shutil.copyfile(wheel, output / wheel.name)

    # Too little room for the build's own output: its error propagates unchanged.
    filler = fill(disk, leave_blocks=blocks // 2)
    with pytest.raises(OSError, match="No space left on device") as raised:
        base.cache.get_or_build(source, build)
    assert raised.value.errno == errno.ENOSPC
    assert not isinstance(raised.value, CacheError)
    assert_nothing_partial(base.root, base.entries)
    filler.unlink()

    # Room for the build's output but not for publishing a copy of it.
    filler = fill(disk, leave_blocks=blocks + blocks // 2)
    with pytest.raises(DiskFullError) as full:
        base.cache.get_or_build(source, build)
    assert_says_disk_full(full.value)
    assert_nothing_partial(base.root, base.entries)
    base.assert_intact()
    filler.unlink()

    built = base.cache.get_or_build(source, build)
    assert read_back(built, base.root, time.monotonic()).ok


def test_new_cache_on_a_full_disk(disk: Path, tmp_path: Path, ledger: Ledger) -> None:
    fill(disk, leave_blocks=0)
    cache = Counted(WheelCache(disk / "fresh"), ledger)
    wheel = make_wheel(tmp_path / "w", "demo", "1.0")

    with pytest.raises(DiskFullError) as raised:
        cache.add(A, wheel)
    assert_says_disk_full(raised.value)
    assert cache.get(A) is None
    leftovers = (
        [p.name for p in (disk / "fresh").rglob("*") if p.is_file()]
        if (disk / "fresh").exists()
        else []
    )
    assert [n for n in leftovers if n.startswith(".")] == [], leftovers
