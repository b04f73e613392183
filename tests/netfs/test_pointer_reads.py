"""Reading a pointer that another host has just replaced (sshfs cuts it to the cached size)."""

from __future__ import annotations

import os
import shutil
import time
from typing import TYPE_CHECKING

import pytest

from netfs.rig import removed_before_fstat
from ondisk import DAY, HOUR, age
from wheelcache import Source, WheelCache
from wheelcache._fs.fsutil import touch
from wheelcache._gc import retire as retire_module
from wheelcache._gc.retire import scan_sources
from wheelcache._layout import Layout
from wheelcache._pointers import pointer as pointer_module
from wheelcache._pointers import revision, settled
from wheelcache._pointers import revision as revision_module
from wheelcache._pointers.pointer import decode
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

    from netfs.rig import Hosts

pytestmark = [pytest.mark.netfs, pytest.mark.timeout(300)]


def test_garbage_collection_reads_a_pointer_the_other_host_lengthened_whole_at_once(
    shared: Hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No waiting for the attribute cache: other processes of the host may keep it warm.

    Host A caches the pointer's size; host B replaces it with a longer one;
    host A's very next read, with no waiting allowed, must parse.
    """
    source = Source("k", "rev-1")
    WheelCache(shared.a / "cache").add(source, make_wheel(tmp_path / "1", "demo", "1.0"))
    on_a = Layout(shared.a / "cache").pointer_file(source.digest)
    os.stat(on_a)  # host A now caches the short pointer's size for a second
    longer = Source("k", "rev-1-and-a-much-longer-freshness-token-than-before")
    WheelCache(shared.b / "cache").add(longer, make_wheel(tmp_path / "2", "demo", "1.0", seed=2))
    monkeypatch.setattr(settled, "SETTLE_TRIES", 0)  # only what needs no waiting

    found = settled.read_settled(on_a, network=True, limit=None, strict=True)

    assert found is not None
    pointer = decode(found[0])
    assert pointer is not None, f"read cut short: {found[0]!r}"
    assert pointer.freshness == longer.freshness


def test_garbage_collection_takes_a_pointer_retired_while_it_reads_it_as_gone(
    shared: Hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host B removes the pointer between host A's open and its fstat (a retirement).

    sshfs answers the open file's fstat by path: ENOENT. For prune's scan that
    is a pointer removed since the listing, as if removed before the open,
    not an unreadable one (which would stop the prune).
    """
    source = Source("k", "rev-1")
    WheelCache(shared.a / "cache").add(source, make_wheel(tmp_path, "demo", "1.0"))
    on_a = Layout(shared.a / "cache").pointer_file(source.digest)
    on_b = Layout(shared.b / "cache").pointer_file(source.digest)

    removed_before_fstat(pointer_module, on_b, monkeypatch)

    assert settled.read_settled(on_a, network=True, limit=None, strict=True) is None


def test_prune_leaves_a_source_the_other_host_retired_while_it_retires_it(
    shared: Hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host B's prune removes the pointer between host A's open and its fstat in ``retire``.

    Flock excludes nothing across hosts, so two prunes may retire one source at
    once. For host A that source is already retired: nothing to do, no error
    (sshfs answers the fstat of the removed file by its path with ENOENT).
    """
    source = Source("k", "rev-1")
    cache = WheelCache(shared.a / "cache")
    cache.add(source, make_wheel(tmp_path, "demo", "1.0"))
    layout = Layout(shared.a / "cache")
    [scanned] = scan_sources(layout)
    on_b = Layout(shared.b / "cache").pointer_file(source.digest)

    removed_before_fstat(retire_module, on_b, monkeypatch)

    assert retire_module.retire(layout, cache._store, scanned, idle=False) is None
    assert not layout.pointer_file(source.digest).exists()


def test_adding_again_what_a_pointer_names_while_the_other_host_retires_it_keeps_a_pointer(
    shared: Hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host A adds a wheel its pointer already names; host B's prune retires that pointer meanwhile.

    Across hosts the pointer lock excludes nothing, so B's retirement can
    fall between A's read of the pointer and A's marking it used. A's add
    must still leave the source pointing at the wheel: a repeated add whose
    pointer is gone writes it anew.
    """
    source = Source("k", "rev-1")
    wheel = make_wheel(tmp_path, "demo", "1.0")
    cache = WheelCache(shared.a / "cache")
    cache.add(source, wheel)
    on_b = Layout(shared.b / "cache").pointer_file(source.digest)

    def retired_on_b_first(path: str | os.PathLike[str]) -> bool:
        on_b.unlink(missing_ok=True)
        return touch(path)

    monkeypatch.setattr(revision, "touch", retired_on_b_first)

    added = cache.add(source, wheel)

    hit = WheelCache(shared.b / "cache").get(source)
    assert hit is not None
    assert hit.sha256 == added.sha256


def test_prune_keeps_what_a_pointer_names_that_the_other_host_is_replacing_while_it_is_open(
    shared: Hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host A replaces a pointer one of its processes has open while host B's prune lists them.

    sshfs on host A first renames the open pointer to ``.fuse_hidden*``, then
    renames the new one in (NFS silly-renames it the same way): for that
    instant host B sees no pointer. Measured: a process on host B reading the
    pointer while host A replaced it 300 times under an open reader missed
    it 60 times in 689 reads. B's prune, whose first look falls in that
    instant, must still keep the old entry the pointer names.
    """
    source = Source("k", "rev-1")
    added = WheelCache(shared.a / "cache").add(source, make_wheel(tmp_path, "demo", "1.0"))
    age(added.path, DAY)
    age(added.path.parent, DAY)
    on_a = Layout(shared.a / "cache").pointer_file(source.digest)
    hidden = on_a.with_name(".fuse_hidden0000002a00000001")
    on_a.rename(hidden)  # the first of sshfs's two steps on host A

    class RenamedInMeanwhile:
        """The time module, except that host A renames the pointer in while prune waits."""

        def __getattr__(self, name: str) -> object:
            return getattr(time, name)

        def sleep(self, seconds: float) -> None:
            if hidden.exists():
                hidden.rename(on_a)  # the second step
            time.sleep(seconds)

    monkeypatch.setattr(retire_module, "time", RenamedInMeanwhile())

    report = WheelCache(shared.b / "cache").prune(grace=HOUR)

    assert report.removed_entries == 0
    assert added.path.exists()


def test_verify_reports_no_pointer_unreadable_that_was_missing_for_an_instant(
    shared: Hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host A's verify opens a pointer just while host B replaces it under an open reader.

    The open fails (sshfs on host B has moved the old file to a hidden name),
    and by the time verify asks whether the file exists, the new one is in
    place. A pointer that was missing for an instant is not unreadable: the
    two-host stress soak saw verify report one so.
    """
    source = Source("k", "rev-1")
    cache = WheelCache(shared.a / "cache")
    cache.add(source, make_wheel(tmp_path, "demo", "1.0"))
    on_a = os.fspath(Layout(shared.a / "cache").pointer_file(source.digest))
    on_b = Layout(shared.b / "cache").pointer_file(source.digest)
    hidden = on_b.with_name(".fuse_hidden0000002a00000001")

    class ReplacedOnBMeanwhile:
        """The os module, except that B's replace spans A's first open of the pointer."""

        replaced = False

        def __getattr__(self, name: str) -> object:
            return getattr(os, name)

        def open(self, path: str, flags: int, mode: int = 0o777) -> int:
            if os.fspath(path) != on_a or self.replaced:
                return os.open(path, flags, mode)
            self.replaced = True
            on_b.rename(hidden)
            try:
                return os.open(path, flags, mode)
            finally:
                hidden.rename(on_b)

    monkeypatch.setattr(pointer_module, "os", ReplacedOnBMeanwhile())

    report = cache.verify()

    assert report.unreadable_pointers == ()
    assert report.sound, report


def test_verify_repair_leaves_a_pointer_the_other_host_retired_while_it_mended_it(
    shared: Hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host B's prune retires the pointer just before host A's repair deletes it.

    Flock excludes nothing across hosts, so the pointer lock does not keep the
    retirement out. The pointer is gone either way: nothing to mend, no error.
    """
    source = Source("k", "rev-1")
    cache = WheelCache(shared.a / "cache")
    added = cache.add(source, make_wheel(tmp_path, "demo", "1.0"))
    layout = Layout(shared.a / "cache")
    on_a = layout.pointer_file(source.digest)
    on_b = Layout(shared.b / "cache").pointer_file(source.digest)
    shutil.rmtree(added.path.parent)  # the entry is missing: the repair deletes the pointer
    removed_before_fstat(revision_module, on_b, monkeypatch, "unlink")

    assert not revision_module.drop_wheels(layout, on_a, drop=frozenset({added.sha256}))
    assert not on_a.exists()
