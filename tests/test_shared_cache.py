"""A cache shared by a group of users (issue 12, item 3).

The documented setup (docs/design.md, "Shared caches"): the root belongs to
the group and has the setgid bit, and every user works with umask 002. Two
users are simulated in forked children (tests/usertools.py): "alice"
(uid 65533) and "bob" (uid 65534), both in the group 65534. Neither owns what
the other wrote; the grace contract must hold across them.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

from ondisk import HOUR, age
from usertools import as_other_user, needs_root, shared_directory
from wheelcache import CacheError, Source, WheelCache
from wheelcache._cli.main import main

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

T = TypeVar("T")

pytestmark = needs_root

GROUP = 65534
ALICE = 65533
BOB = 65534


def as_alice(function: Callable[[], T], umask: int = 0o002) -> T:
    return as_other_user(function, uid=ALICE, gid=GROUP, umask=umask)


def as_bob(function: Callable[[], T]) -> T:
    return as_other_user(function, uid=BOB, gid=GROUP, umask=0o002)


@pytest.fixture
def shared(wheel: Path) -> Iterator[tuple[Path, Path]]:
    """(the root of an empty group-shared cache, a wheel everyone can read)."""
    with shared_directory() as directory:
        root = directory / "cache"
        root.mkdir()
        os.chown(root, 0, GROUP)
        os.chmod(root, 0o2775)
        readable = directory / wheel.name
        readable.write_bytes(wheel.read_bytes())
        os.chmod(readable, 0o644)
        yield root, readable


def test_a_group_member_adds_what_another_published_without_owning_it(
    shared: tuple[Path, Path],
) -> None:
    root, wheel = shared
    alice_path = as_alice(lambda: str(WheelCache(root).add(Source("s"), wheel).path))

    def bob() -> tuple[str, str, str | None]:
        cache = WheelCache(root)
        again = cache.add(Source("s"), wheel)  # the same revision: only marks it used
        other = cache.add(Source("other"), wheel)  # found present: freshened
        hit = cache.get(Source("s"))
        return str(again.path), str(other.path), str(hit.path) if hit else None

    assert as_bob(bob) == (alice_path, alice_path, alice_path)
    info = os.stat(alice_path)
    assert (info.st_uid, info.st_gid) == (ALICE, GROUP)
    assert os.stat(Path(alice_path).parent).st_mode & 0o070 == 0o070  # group-writable entry


def test_a_group_member_freshens_an_entry_it_does_not_own(shared: tuple[Path, Path]) -> None:
    root, wheel = shared
    found = as_alice(lambda: WheelCache(root).add(Source("s"), wheel))
    entry = Path(found.path)
    WheelCache(root)._layout.pointer_file(Source("s").digest).unlink()  # unreferenced now
    age(entry, 2 * HOUR)
    age(entry.parent, 2 * HOUR)

    assert as_bob(lambda: WheelCache(root).find(found.sha256)) == found  # hands it out

    report = as_alice(lambda: WheelCache(root).prune(grace=HOUR))
    assert report.removed_entries == 0  # protected for a grace period from bob's find()
    assert entry.exists()
    assert os.stat(entry).st_mtime < os.stat(entry.parent).st_mtime  # bob touched the directory


def test_a_group_member_prunes_what_another_published(shared: tuple[Path, Path]) -> None:
    root, wheel = shared
    found = as_alice(lambda: WheelCache(root).add(Source("s"), wheel))
    report = as_bob(lambda: WheelCache(root).prune(grace=0, max_age=0))

    assert report.retired_sources == ("s",)
    age(Path(found.path), HOUR)  # freshened as it was retired; now past the grace below
    report = as_bob(lambda: WheelCache(root).prune(grace=60))
    assert report.removed_entries == 1
    assert not Path(found.path).exists()


def test_permission_denied_is_a_cache_error_naming_the_path_and_the_permission(
    shared: tuple[Path, Path],
) -> None:
    root, wheel = shared
    as_alice(lambda: WheelCache(root).add(Source("s"), wheel), umask=0o022)  # not shared

    def bob() -> str:
        try:
            WheelCache(root).add(Source("t", "x"), wheel)
        except PermissionError as exc:  # a bare OSError: the failure this test guards against
            return f"bare {exc!r}"
        except CacheError as exc:
            return str(exc)
        return "no error"

    message = as_bob(bob)
    assert "Permission denied" in message
    assert f"owner uid {ALICE}" in message
    assert f"this process runs as uid {BOB}" in message
    assert str(root) in message


def test_verify_by_a_user_who_cannot_read_says_so_and_exits_1(shared: tuple[Path, Path]) -> None:
    root, wheel = shared
    as_alice(lambda: WheelCache(root).add(Source("s"), wheel), umask=0o077)
    os.chmod(root, 0o2700)
    os.chown(root, ALICE, GROUP)

    def bob() -> tuple[int, str]:
        out = io.StringIO()
        sys.stdout, saved = out, sys.stdout
        try:
            status = main(["--cache-dir", str(root), "verify"])
        finally:
            sys.stdout = saved
        return status, out.getvalue()

    status, out = as_bob(bob)
    assert status == 1
    assert f"not permitted to read (nothing in it was checked): {root}" in out
    assert "no problems found" not in out
