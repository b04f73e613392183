"""Publishing entries: staging, atomic rename, reuse, healing, and failure cleanup."""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
from typing import TYPE_CHECKING, Any

import pytest

from ondisk import flip_a_byte, replace_os_calls, staging_is_empty
from wheelcache import CacheError, DiskFullError, InvalidWheelError, Source, WheelCache
from wheelcache._fs import fsutil as _fsutil
from wheelcache._layout import Layout
from wheelcache._store import copying as _copying
from wheelcache._store.store import Store
from wheelfactory import PY3, corrupt_crc, make_wheel

if TYPE_CHECKING:
    from pathlib import Path


def test_publish_validates_the_staged_copy_not_the_callers_file(
    cache: WheelCache, source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is validated is exactly what gets published: the bytes in staging."""
    seen: list[Path] = []
    from wheelcache._wheels import wheelfile as _wheelfile

    real = _wheelfile.validate_wheel

    def spy(path: Path) -> Any:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(_wheelfile, "validate_wheel", spy)
    cache.add(source, make_wheel(tmp_path))
    assert len(seen) == 1
    assert seen[0].is_relative_to(cache.root / "staging-v1")


def test_bad_crc_is_rejected_and_nothing_remains(
    cache: WheelCache, source: Source, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path)
    corrupt_crc(wheel)
    with pytest.raises(InvalidWheelError, match="CRC"):
        cache.add(source, wheel)
    assert list(cache.wheels()) == []
    assert staging_is_empty(cache)


def test_add_heals_an_entry_whose_bytes_were_corrupted(
    cache: WheelCache, source: Source, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path)
    added = cache.add(source, wheel)
    flip_a_byte(added.path)
    healed = cache.add(Source("another"), wheel)
    assert healed.path == added.path
    assert hashlib.sha256(healed.path.read_bytes()).hexdigest() == healed.sha256
    quarantined = list((cache.root / "quarantine-v1").iterdir())
    assert len(quarantined) == 1  # moved aside, not deleted


def test_add_heals_an_emptied_entry_directory(
    cache: WheelCache, source: Source, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path)
    added = cache.add(source, wheel)
    added.path.unlink()
    assert cache.get(source, PY3) is None
    healed = cache.add(source, wheel)
    assert healed.path.read_bytes() == wheel.read_bytes()
    assert cache.get(source, PY3) == healed


def test_add_heals_an_entry_with_a_foreign_file(
    cache: WheelCache, source: Source, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path)
    added = cache.add(source, wheel)
    added.path.unlink()
    (added.path.parent / "stray.txt").write_text("not a wheel")
    healed = cache.add(source, wheel)
    assert sorted(os.listdir(healed.path.parent)) == [wheel.name]


def test_republishes_an_entry_that_vanished_before_the_pointer_named_it(
    cache: WheelCache, source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prune with zero grace (or clean) may take a fresh entry before the pointer is written."""
    wheel = make_wheel(tmp_path)
    store_publish = Store.publish
    removed: list[Path] = []

    def publish_then_lose_it(self: Store, path: Path) -> Any:
        published = store_publish(self, path)
        if not removed:
            _fsutil.remove_tree(published.path.parent)
            removed.append(published.path)
        return published

    monkeypatch.setattr(Store, "publish", publish_then_lose_it)
    added = cache.add(source, wheel)
    assert removed == [added.path]
    assert added.path.read_bytes() == wheel.read_bytes()
    assert cache.get(source, PY3) == added


def test_a_full_disk_raises_disk_full_error_and_leaves_nothing(
    cache: WheelCache, source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = make_wheel(tmp_path, payload_size=3 << 20)
    cache.add(Source("earlier"), make_wheel(tmp_path / "earlier", seed=7))
    real_write = os.write

    def full(fd: int, data: Any) -> int:
        if len(data) >= 1 << 20:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    replace_os_calls(monkeypatch, _copying, write=full)
    with pytest.raises(DiskFullError) as info:
        cache.add(source, wheel)
    monkeypatch.undo()
    assert "the disk is full" in str(info.value)
    assert isinstance(info.value, CacheError)
    assert staging_is_empty(cache)
    assert cache.get(source, PY3) is None
    assert cache.get(Source("earlier"), PY3) is not None


def test_disk_full_error_pickles() -> None:
    error = DiskFullError("/cache/x", OSError(errno.ENOSPC, "No space left on device"))
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error)
    assert again.errno == errno.ENOSPC


def test_quarantine_moves_an_entry_aside(cache: WheelCache, source: Source, wheel: Path) -> None:
    added = cache.add(source, wheel)
    store = Store(Layout(cache.root))
    moved = store.quarantine(added.path.parent, reason="test")
    assert moved is not None
    assert moved.parent == cache.root / "quarantine-v1"
    assert (moved / wheel.name).read_bytes() == wheel.read_bytes()
    assert store.quarantine(added.path.parent, reason="gone already") is None


def test_workspace_is_removed_even_when_its_user_fails(cache: WheelCache) -> None:
    store = Store(Layout(cache.root))

    def failing_build() -> None:
        with store.workspace("build") as directory:
            (directory / "partial.whl").write_bytes(b"half")
            raise RuntimeError("build failed")

    with pytest.raises(RuntimeError):
        failing_build()
    assert staging_is_empty(cache)
