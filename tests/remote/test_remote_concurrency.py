"""Machines racing through one bucket, and processes killed with SIGKILL on both sides.

Every machine is a real process with its own cache root; the bucket is a
real S3 API on loopback. Pushes happen in each process's background thread
and are flushed when it exits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from procs import Child, SyncPoints
from remote.remote_kit import SDIST, builder, machine, record_keys, wheel_keys
from wheelcache import WheelCache
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

    from remote.conftest import S3

pytestmark = pytest.mark.torture


def remote_env(s3: S3, *extra: dict[str, str]) -> dict[str, str]:
    env = {"WHEELCACHE_REMOTE": s3.url}
    for more in extra:
        env.update(more)
    return env


def test_two_machines_building_the_same_sdist_at_once_leave_one_record_set(
    tmp_path: Path, s3: S3
) -> None:
    builds = tmp_path / "builds"
    builds.mkdir()
    go = tmp_path / "go"
    children = [
        Child(
            {
                "op": "get_or_build",
                "root": str(tmp_path / name),
                "key": SDIST.key,
                "builds_dir": str(builds),
                "start_file": str(go),
                "delay": 0.3,
            },
            env=remote_env(s3),
        )
        for name in ("a", "b")
    ]
    go.touch()
    results = [child.result() for child in children]
    assert results[0]["sha256"] == results[1]["sha256"]
    objects = s3.objects()
    assert len(wheel_keys(objects)) == 1
    assert len(record_keys(objects)) == 1
    for name in ("a", "b"):
        assert WheelCache(tmp_path / name).get(SDIST) is not None  # both hit afterwards
    build, calls = builder(tmp_path)
    assert machine(tmp_path, "c", s3.url).get_or_build(SDIST, build).sha256 == results[0]["sha256"]
    assert calls == []


def test_a_pusher_killed_between_wheel_and_record_leaves_nothing_visible(
    tmp_path: Path, s3: S3, syncpoints: SyncPoints
) -> None:
    syncpoints.arm("remote-push.before-record")
    wheel = make_wheel(tmp_path / "w", "demo", "1.0")
    child = Child(
        {"op": "add", "root": str(tmp_path / "a"), "key": SDIST.key, "wheel": str(wheel)},
        env=remote_env(s3, syncpoints.env),
    )
    syncpoints.wait_reached("remote-push.before-record")
    child.kill()
    objects = s3.objects()
    assert len(wheel_keys(objects)) == 1
    assert record_keys(objects) == []
    b = machine(tmp_path, "b", s3.url)
    assert b.get(SDIST) is None  # a wheel without its record is invisible
    build, calls = builder(tmp_path)
    b.get_or_build(SDIST, build)
    assert b.flush(60)
    assert calls == [1]
    assert len(record_keys(s3.objects())) == 1  # the next push completed the pair
    assert machine(tmp_path, "c", s3.url).get(SDIST) is not None


def test_a_puller_killed_mid_download_publishes_nothing_and_a_later_pull_works(
    tmp_path: Path, s3: S3, syncpoints: SyncPoints
) -> None:
    a = machine(tmp_path, "a", s3.url)
    a.add(SDIST, make_wheel(tmp_path / "w", "demo", "1.0"))
    assert a.flush(60)
    syncpoints.arm("remote-pull.downloaded")
    child = Child(
        {"op": "get", "root": str(tmp_path / "b"), "key": SDIST.key},
        env=remote_env(s3, syncpoints.env),
    )
    syncpoints.wait_reached("remote-pull.downloaded")
    child.kill()
    local = WheelCache(tmp_path / "b")
    assert list(local.wheels()) == []
    assert local.get(SDIST) is None
    assert local.prune(grace=0).reclaimed_staging >= 1  # the dead puller's staging file
    assert machine(tmp_path, "b", s3.url).get(SDIST) is not None


def test_every_remote_sync_point_has_a_kill_scenario() -> None:
    from pathlib import Path

    from wheelcache._fs import syncpoints as _syncpoints

    here = Path(__file__).read_text(encoding="utf-8")
    remote = {point for point in _syncpoints.POINTS if point.startswith("remote-")}
    assert remote
    assert {point for point in remote if f'syncpoints.arm("{point}")' in here} == remote
