"""Lock modes in one process: choosing one, what each lock takes, what a lease release deletes.

The promises between processes and hosts are in tests/netfs/test_lease.py.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING

import pytest

from ondisk import DAY, age
from usertools import as_other_user, shared_directory
from wheelcache import CacheError, LockTimeout, Source, WheelCache
from wheelcache._fs import lease
from wheelcache._fs.lockmode import InvalidLockModeError
from wheelcache._layout import Layout
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path


def test_the_lock_mode_is_flock_unless_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert WheelCache(tmp_path).lock_mode == "flock"
    monkeypatch.setenv("WHEELCACHE_LOCK_MODE", "lease")
    assert WheelCache(tmp_path).lock_mode == "lease"
    assert WheelCache(tmp_path, lock_mode="flock").lock_mode == "flock"  # the argument wins


def test_an_unknown_lock_mode_is_refused_naming_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidLockModeError, match="lock_mode='leases': expected 'flock'"):
        WheelCache(tmp_path, lock_mode="leases")
    monkeypatch.setenv("WHEELCACHE_LOCK_MODE", "nfs")
    with pytest.raises(ValueError, match=r"\$WHEELCACHE_LOCK_MODE='nfs'"):
        WheelCache(tmp_path)
    assert issubclass(InvalidLockModeError, CacheError)


@pytest.mark.parametrize("mode", ["flock", "lease"])
def test_get_or_build_holds_the_lock_of_its_mode_while_building(tmp_path: Path, mode: str) -> None:
    cache = WheelCache(tmp_path / "cache", lock_mode=mode)
    source = Source("k")
    build_lock = Layout(cache.root).build_lock(source.digest)
    seen = {}

    def build(output: Path) -> None:
        seen["lease"] = build_lock.with_name(build_lock.name + ".lease").exists()
        make_wheel(output, "demo", "1.0")

    cache.get_or_build(source, build)
    assert seen == {"lease": mode == "lease"}
    assert not build_lock.with_name(build_lock.name + ".lease").exists()  # released


def test_prune_in_lease_mode_waits_for_the_prune_lease(tmp_path: Path) -> None:
    cache = WheelCache(tmp_path / "cache", lock_mode="lease", lock_timeout=0.2)
    cache.add(Source("k"), make_wheel(tmp_path, "demo", "1.0"))
    prune_lock = Layout(cache.root).prune_lock
    with lease.hold(prune_lock.with_name(prune_lock.name + ".lease"), timeout=0, purpose="t"):
        with pytest.raises(LockTimeout):
            cache.prune()
        with pytest.raises(LockTimeout):
            cache.clean()
        WheelCache(cache.root, lock_mode="flock").prune()  # the other mode: not excluded
    cache.prune()


def test_release_deletes_only_its_own_lease(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A lease taken over while held (its holder stalled) is the new holder's: left alone."""
    path = tmp_path / "demo.lease"
    other = {"host": "h", "pid": 1, "token": "e" * 32, "expires_after": 30.0}
    with (
        caplog.at_level(logging.WARNING, logger="wheelcache"),
        lease.hold(path, timeout=0, purpose="testing"),
    ):
        replacement = tmp_path / "replacement"
        replacement.write_text(json.dumps(other))
        os.replace(replacement, path)
    assert json.loads(path.read_text()) == other
    assert "was taken over while testing" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.lease"]


def test_release_deletes_its_own_lease_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "demo.lease"
    with lease.hold(path, timeout=0, purpose="testing"):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert list(tmp_path.iterdir()) == []


def test_a_lease_its_owner_died_before_writing_is_taken_over_once_expired(tmp_path: Path) -> None:
    path = tmp_path / "demo.lease"
    path.touch()
    age(path, DAY)
    with lease.hold(path, timeout=30, purpose="testing"):
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_a_lease_this_user_may_not_create_is_an_error_not_a_wait() -> None:
    """A create refused with no file there is tried a few times (sshfs: a lost race), then fails."""

    def take(path: Path) -> None:
        with lease.hold(path, timeout=5, purpose="testing"):
            pytest.fail("held a lease in a directory this user may not write")

    with shared_directory() as directory:  # root's, 0o755
        with pytest.raises(CacheError, match=r"cannot create .*demo\.lease: Permission denied"):
            as_other_user(lambda: take(directory / "demo.lease"))
        assert list(directory.iterdir()) == []


def test_the_command_refuses_an_unknown_lock_mode_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wheelcache._cli.main import main

    monkeypatch.setenv("WHEELCACHE_LOCK_MODE", "nfs")
    assert main(["--cache-dir", str(tmp_path), "info"]) == 1
    assert "$WHEELCACHE_LOCK_MODE='nfs': expected 'flock'" in capsys.readouterr().err
