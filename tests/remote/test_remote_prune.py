"""Remote garbage collection: expired records first, then wheels no record names.

Includes the one race it leaves (docs/design.md, section 14.5): a writer that
found an old, unnamed wheel present records it while prune deletes it. The
record dangles, which is a miss, and the next push repairs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from procs import Child, SyncPoints
from remote.remote_kit import SDIST, builder, machine, record_keys, wheel_keys
from wheelcache import Source
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

    from remote.conftest import S3


def seed(tmp_path: Path, s3: S3, count: int = 2) -> None:
    a = machine(tmp_path, "a", s3.url)
    for number in range(count):
        source = Source(f"sha256:{number:064d}", "", f"p{number}")
        a.add(source, make_wheel(tmp_path / f"w{number}", f"p{number}", "1.0"))
    assert a.flush(60)


def test_prune_remote_keeps_records_younger_than_max_age(tmp_path: Path, s3: S3) -> None:
    seed(tmp_path, s3)
    before = s3.objects()
    report = machine(tmp_path, "gc", s3.url).prune_remote(max_age=3600, grace=0)
    assert (report.removed_records, report.removed_wheels) == (0, 0)
    assert (report.kept_records, report.kept_wheels) == (2, 2)
    assert s3.objects() == before


def test_prune_remote_deletes_expired_records_then_their_unnamed_wheels(
    tmp_path: Path, s3: S3
) -> None:
    seed(tmp_path, s3)
    report = machine(tmp_path, "gc", s3.url).prune_remote(max_age=0, grace=0)
    assert (report.removed_records, report.removed_wheels) == (2, 2)
    assert report.freed_bytes > 0
    assert s3.objects() == {}


def test_prune_remote_keeps_unnamed_wheels_younger_than_grace(tmp_path: Path, s3: S3) -> None:
    seed(tmp_path, s3)
    report = machine(tmp_path, "gc", s3.url).prune_remote(max_age=0, grace=3600)
    assert (report.removed_records, report.removed_wheels, report.kept_wheels) == (2, 0, 2)
    objects = s3.objects()
    assert record_keys(objects) == []
    assert len(wheel_keys(objects)) == 2


def test_a_dry_run_of_prune_remote_deletes_nothing(tmp_path: Path, s3: S3) -> None:
    seed(tmp_path, s3)
    before = s3.objects()
    report = machine(tmp_path, "gc", s3.url).prune_remote(max_age=0, grace=0, dry_run=True)
    assert (report.dry_run, report.removed_records, report.removed_wheels) == (True, 2, 2)
    assert s3.objects() == before


def test_prune_remote_in_read_only_mode_refuses(tmp_path: Path, s3: S3) -> None:
    import pytest

    seed(tmp_path, s3)
    with pytest.raises(Exception, match="read-only"):
        machine(tmp_path, "gc", s3.url, remote_mode="read").prune_remote(max_age=0, grace=0)
    assert len(s3.objects()) == 4


def test_a_record_written_while_prune_deletes_its_wheel_dangles_and_the_next_push_repairs_it(
    tmp_path: Path, s3: S3, syncpoints: SyncPoints
) -> None:
    wheel = make_wheel(tmp_path / "w", "demo", "1.0")
    first = machine(tmp_path, "a", s3.url)
    first.add(SDIST, wheel)
    assert first.flush(60)
    # Writer W, another machine with the same wheel, finds the wheel object
    # present (so uploads nothing) and pauses before writing its record.
    syncpoints.arm("remote-push.before-record")
    writer = Child(
        {"op": "add", "root": str(tmp_path / "w-root"), "key": SDIST.key, "wheel": str(wheel)},
        env={"WHEELCACHE_REMOTE": s3.url, **syncpoints.env},
    )
    syncpoints.wait_reached("remote-push.before-record")
    # Prune expires the record and, finding the wheel unnamed and old, deletes it.
    report = machine(tmp_path, "gc", s3.url).prune_remote(max_age=0, grace=0)
    assert (report.removed_records, report.removed_wheels) == (1, 1)
    syncpoints.release("remote-push.before-record")
    writer.result()
    objects = s3.objects()
    assert len(record_keys(objects)) == 1
    assert wheel_keys(objects) == []  # the record dangles
    b = machine(tmp_path, "b", s3.url)
    assert b.get(SDIST) is None  # ... which is a miss, never an error
    build, calls = builder(tmp_path)
    b.get_or_build(SDIST, build)
    assert b.flush(60)
    assert calls == [1]
    assert len(wheel_keys(s3.objects())) == 1  # the push re-uploaded the wheel
    build_c, calls_c = builder(tmp_path)
    machine(tmp_path, "c", s3.url).get_or_build(SDIST, build_c)
    assert calls_c == []
