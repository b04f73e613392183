"""Two users of one group share a cache directory from two hosts (docs/design.md §6.8, §13).

Host A is logged in to the file server as one user and host B as another,
both members of one group, so every file A's user creates on the server is
owned by that user, as NFS does with each client's user: neither owns what
the other wrote. The cache directory is set up as §6.8 says (the group's,
setgid, ``2775``), and each user works with umask ``002``. The test process
acts as each user in turn (``usertools.as_other_user``).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, TypeVar

import pytest

from ondisk import HOUR, age
from usertools import as_other_user
from wheelcache import CachedWheel, Source, WheelCache
from wheelcache._layout import Layout
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from netfs.rig import UserHosts

T = TypeVar("T")

pytestmark = [pytest.mark.netfs, pytest.mark.timeout(300)]


def _readable_wheel(directory: Path) -> Path:
    """A wheel both users may read (pytest's temporary directories are root's alone)."""
    wheel = make_wheel(directory / "wheels", "demo", "1.0")
    readable = directory / wheel.name
    readable.write_bytes(wheel.read_bytes())
    os.chmod(readable, 0o644)
    return readable


def _on_a(hosts: UserHosts, function: Callable[[Path], T]) -> T:
    return as_other_user(
        lambda: function(hosts.a / "cache"), uid=hosts.uid_a, gid=hosts.gid, umask=0o002
    )


def _on_b(hosts: UserHosts, function: Callable[[Path], T]) -> T:
    return as_other_user(
        lambda: function(hosts.b / "cache"), uid=hosts.uid_b, gid=hosts.gid, umask=0o002
    )


def _published_on_a(hosts: UserHosts) -> tuple[Path, CachedWheel]:
    """A wheel both users may read, added for source "s" by host A's user."""
    wheel = _readable_wheel(hosts.export)
    return wheel, _on_a(hosts, lambda root: WheelCache(root).add(Source("s"), wheel))


def test_a_member_on_one_host_reuses_what_a_member_on_the_other_published(
    shared_by_users: UserHosts,
) -> None:
    hosts = shared_by_users
    wheel, first = _published_on_a(hosts)

    def again(root: Path) -> tuple[str, str, str | None]:
        cache = WheelCache(root)
        same = cache.add(Source("s"), wheel)  # the same revision: only marks it used
        other = cache.add(Source("other"), wheel)  # found present: freshened
        hit = cache.get(Source("s"))
        return same.sha256, other.sha256, hit.sha256 if hit else None

    assert _on_b(hosts, again) == (first.sha256,) * 3
    info = os.stat(Layout(hosts.export / "cache").entry_dir(first.sha256) / first.filename)
    assert (info.st_uid, info.st_gid) == (hosts.uid_a, hosts.gid)  # not B's user's


def test_a_member_on_one_host_freshens_an_entry_a_member_on_the_other_owns(
    shared_by_users: UserHosts,
) -> None:
    """B's user hands out A's user's entry: prune must then keep it for the grace period."""
    hosts = shared_by_users
    _wheel, found = _published_on_a(hosts)
    on_server = Layout(hosts.export / "cache")
    on_server.pointer_file(Source("s").digest).unlink()  # unreferenced now
    entry = on_server.entry_dir(found.sha256)
    age(entry / found.filename, 2 * HOUR)
    age(entry, 2 * HOUR)

    handed = _on_b(hosts, lambda root: WheelCache(root).find(found.sha256))
    assert handed is not None
    assert handed.sha256 == found.sha256

    # Pruned on host B, which has looked at the entry since it was aged (host A
    # may still show the times it cached when it published).
    report = _on_b(hosts, lambda root: WheelCache(root).prune(grace=HOUR))
    assert report.removed_entries == 0  # protected for a grace period from B's find()
    assert (entry / found.filename).exists()


def test_a_member_on_one_host_prunes_what_a_member_on_the_other_published(
    shared_by_users: UserHosts,
) -> None:
    hosts = shared_by_users
    _wheel, found = _published_on_a(hosts)
    on_server = Layout(hosts.export / "cache")
    age(on_server.pointer_file(Source("s").digest), HOUR)  # SFTP sets times in whole seconds

    retired = _on_b(hosts, lambda root: WheelCache(root).prune(grace=0, max_age=60))
    assert retired.retired_sources == ("s",)
    entry = on_server.entry_dir(found.sha256)
    # Freshened by B as it was retired. Host B caches attributes, so the entry is
    # not aged behind its back on the server: one tick of SFTP's clock (a second)
    # puts the freshen before the next prune's horizon at grace 0.
    time.sleep(1.1)
    report = _on_b(hosts, lambda root: WheelCache(root).prune(grace=0))
    assert report.removed_entries == 1
    assert not entry.exists()
    assert list(on_server.trash.iterdir()) == []
