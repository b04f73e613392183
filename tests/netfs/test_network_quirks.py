"""What a network filesystem does that a local disk does not, reproduced without one.

``ESTALE`` (a file handle another host's rename made stale) and the files
NFS and FUSE leave behind when an open file is deleted (``.nfs*``,
``.fuse_hidden*``) are injected here; tests/netfs/test_two_hosts.py meets
the real ones on two sshfs mounts.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

import pytest

from ondisk import replace_os_calls
from wheelcache import CacheError, Source, WheelCache
from wheelcache._fs import fsutil
from wheelcache._fs.mounts import filesystem_type, is_network_filesystem
from wheelcache._layout import Layout
from wheelcache._pointers import pointer as pointer_module
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

LEFTOVERS = (".nfs0000000000a1b2c300000004", ".fuse_hidden0000000400000001")


def _stale() -> OSError:
    return OSError(errno.ESTALE, os.strerror(errno.ESTALE))


def test_estale_on_the_write_path_is_retried() -> None:
    attempts = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise _stale()
        return "done"

    assert fsutil.retry_transient(flaky) == "done"
    assert len(attempts) == 3


def test_estale_that_persists_on_the_write_path_becomes_a_cache_error(
    cache: WheelCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounded: a handle that stays stale ends in a CacheError naming the pointer, not a hang."""
    wheel = make_wheel(tmp_path, "demo", "1.0")
    cache.add(Source("first"), wheel)  # the root and its buckets exist
    monkeypatch.setattr(fsutil, "RETRY_SECONDS", 0.05)

    def replace(src: str, dst: str) -> None:
        raise _stale()

    replace_os_calls(monkeypatch, fsutil, replace=replace)
    with pytest.raises(CacheError, match=r"sources-v1.*Stale file handle"):
        cache.add(Source("second"), wheel)


def test_estale_on_the_read_path_is_a_miss(
    cache: WheelCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Source("s")
    cache.add(source, make_wheel(tmp_path, "demo", "1.0"))
    assert cache.get(source) is not None

    def read(fd: int, size: int) -> bytes:
        raise _stale()

    replace_os_calls(monkeypatch, pointer_module, read=read)
    assert cache.get(source) is None


def test_files_a_network_filesystem_leaves_behind_are_ignored(
    cache: WheelCache, tmp_path: Path
) -> None:
    """list, verify and prune neither report nor trip over .nfs* and .fuse_hidden* files."""
    source = Source("s")
    added = cache.add(source, make_wheel(tmp_path, "demo", "1.0"))
    layout = Layout(cache.root)
    places = [
        layout.entry_dir(added.sha256),
        layout.pointer_file(source.digest).parent,
        layout.staging,
        layout.wheels / added.sha256[:2],
    ]
    for place in places:
        place.mkdir(parents=True, exist_ok=True)
        for name in LEFTOVERS:
            (place / name).write_bytes(b"held open by another process")
    report = cache.verify()
    assert (report.corrupt, report.dangling, report.unreadable_pointers) == ((), (), ())
    assert [record.key for record in cache.sources()] == ["s"]
    assert [wheel.sha256 for wheel in cache.wheels()] == [added.sha256]
    pruned = cache.prune(grace=0)
    assert pruned.removed_entries == 0
    hit = cache.get(source)
    assert hit is not None
    assert hit.path == added.path


def test_a_local_disk_is_not_taken_for_a_network_filesystem(tmp_path: Path) -> None:
    kind = filesystem_type(str(tmp_path / "not" / "yet"))
    if kind is None:
        pytest.skip("the filesystem type cannot be read here (no /proc/self/mountinfo)")
    assert kind.split(".")[0] != "fuse" or is_network_filesystem(str(tmp_path))
    assert is_network_filesystem(str(tmp_path)) == (kind not in {"ext4", "xfs", "btrfs", "tmpfs"})


def test_the_network_filesystem_setting_overrides_detection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELCACHE_NETWORK_FS", "1")
    assert is_network_filesystem(str(tmp_path))
    monkeypatch.setenv("WHEELCACHE_NETWORK_FS", "0")
    assert not is_network_filesystem(str(tmp_path))
