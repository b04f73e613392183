"""The remote tier: two cache roots are two machines sharing one bucket.

Most tests use a real S3 API on loopback (moto's server, the ``s3`` fixture);
a few use a ``file://`` directory, the same code behind the same seam.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING

import pytest

from remote.remote_kit import SDIST, builder, machine, record_keys, wheel_keys
from remote.s3server import delete_object, put_object
from wheelcache import CacheError, InvalidSourceError, Source, WheelCache
from wheelcache._remote.config import InvalidRemoteError
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

    from remote.conftest import S3

pytestmark = pytest.mark.usefixtures("s3")


def test_a_wheel_built_on_one_machine_is_a_hit_on_another_without_building(
    tmp_path: Path, s3: S3
) -> None:
    a, b = machine(tmp_path, "a", s3.url), machine(tmp_path, "b", s3.url)
    build_a, calls_a = builder(tmp_path)
    built = a.get_or_build(SDIST, build_a)
    assert a.flush(60)
    build_b, calls_b = builder(tmp_path)
    pulled = b.get_or_build(SDIST, build_b)
    assert (calls_a, calls_b) == ([1], [])
    assert pulled.sha256 == built.sha256
    assert hashlib.sha256(pulled.path.read_bytes()).hexdigest() == built.sha256
    assert pulled.path.is_relative_to(tmp_path / "b")
    assert b.get(SDIST) == pulled  # now a local hit


def test_get_pulls_on_a_local_miss(tmp_path: Path, s3: S3, wheel: Path) -> None:
    a, b = machine(tmp_path, "a", s3.url), machine(tmp_path, "b", s3.url)
    added = a.add(SDIST, wheel)
    assert a.flush(60)
    assert b.get(SDIST) == WheelCache(tmp_path / "b").get(SDIST)
    assert WheelCache(tmp_path / "b").get(SDIST) is not None
    assert b.get(SDIST).sha256 == added.sha256  # type: ignore[union-attr]


def test_a_push_uploads_the_wheel_then_its_record(tmp_path: Path, s3: S3, wheel: Path) -> None:
    a = machine(tmp_path, "a", s3.url)
    added = a.add(SDIST, wheel)
    a.add(SDIST, wheel)  # a second push of the same wheel changes nothing
    assert a.flush(60)
    objects = s3.objects()
    assert wheel_keys(objects) == [f"ci/wheels-v1/{added.sha256}/{added.filename}"]
    (record_key,) = record_keys(objects)
    assert record_key.endswith(f"/{added.filename}/{added.sha256}.rec2")
    record = json.loads(objects[record_key])
    assert (record["key"], record["sha256"], record["size"]) == (
        SDIST.key,
        added.sha256,
        added.size,
    )
    assert objects[wheel_keys(objects)[0]] == added.path.read_bytes()


def test_the_best_ranked_remote_wheel_is_pulled(tmp_path: Path, s3: S3) -> None:
    from packaging.tags import Tag

    a = machine(tmp_path, "a", s3.url)
    generic = make_wheel(tmp_path / "w1", "demo", "1.0", tags="py3-none-any")
    specific = make_wheel(tmp_path / "w2", "demo", "1.0", tags="cp311-cp311-linux_x86_64")
    a.add(SDIST, generic)
    a.add(SDIST, specific)
    assert a.flush(60)
    tags = [Tag("cp311", "cp311", "linux_x86_64"), Tag("py3", "none", "any")]
    pulled = machine(tmp_path, "b", s3.url).get(SDIST, tags)
    assert pulled is not None
    assert pulled.filename == specific.name
    only_generic = machine(tmp_path, "c", s3.url).get(SDIST, [Tag("py3", "none", "any")])
    assert only_generic is not None
    assert only_generic.filename == generic.name


def test_a_remote_miss_is_a_local_miss(tmp_path: Path, s3: S3) -> None:
    assert machine(tmp_path, "b", s3.url).get(SDIST) is None
    assert s3.objects() == {}
    assert not (tmp_path / "b").exists()  # a miss everywhere writes nothing


def test_read_only_mode_never_writes(tmp_path: Path, s3: S3, wheel: Path) -> None:
    a = machine(tmp_path, "a", s3.url)
    a.add(SDIST, wheel)
    assert a.flush(60)
    before = s3.objects()
    reader = machine(tmp_path, "r", s3.url, remote_mode="read")
    assert reader.get(SDIST) is not None  # reads work
    other = Source("sha256:" + "6" * 64, "", "other")
    build, calls = builder(tmp_path, "other")
    reader.get_or_build(other, build)
    reader.add(Source("sha256:" + "7" * 64), make_wheel(tmp_path / "w3", "third", "1.0"))
    assert reader.flush(60)
    assert calls == [1]
    with pytest.raises(InvalidRemoteError.__mro__[1], match="read-only"):
        reader.push()
    assert s3.objects() == before


def test_read_only_mode_from_the_environment(
    tmp_path: Path, s3: S3, wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELCACHE_REMOTE", s3.url)
    monkeypatch.setenv("WHEELCACHE_REMOTE_MODE", "read")
    cache = WheelCache(tmp_path / "r")
    cache.add(SDIST, wheel)
    assert cache.flush(60)
    assert cache.remote_status() is not None
    assert s3.objects() == {}


def test_a_corrupt_wheel_object_is_rejected_reported_and_counted(
    tmp_path: Path, s3: S3, caplog: pytest.LogCaptureFixture
) -> None:
    a = machine(tmp_path, "a", s3.url)
    build, _ = builder(tmp_path)
    built = a.get_or_build(SDIST, build)
    assert a.flush(60)
    (key,) = wheel_keys(s3.objects())
    # A valid wheel of the same name and size, other bytes: only the digest tells.
    evil = make_wheel(tmp_path / "evil", "demo", "1.0", seed=1).read_bytes()
    assert len(evil) == built.size
    put_object(s3.endpoint, s3.bucket, key, evil)
    b = machine(tmp_path, "b", s3.url)
    build_b, calls_b = builder(tmp_path)
    with caplog.at_level(logging.WARNING, logger="wheelcache"):
        got = b.get_or_build(SDIST, build_b)
    assert calls_b == [1]  # the remote's wheel was refused: built locally
    assert hashlib.sha256(got.path.read_bytes()).hexdigest() == got.sha256 == built.sha256
    assert "rejected remote object" in caplog.text
    status = b.remote_status()
    assert status is not None
    assert status.rejected == 1
    assert status.answered


def test_a_truncated_wheel_object_is_never_published(tmp_path: Path, s3: S3, wheel: Path) -> None:
    a = machine(tmp_path, "a", s3.url)
    added = a.add(SDIST, wheel)
    assert a.flush(60)
    (key,) = wheel_keys(s3.objects())
    put_object(s3.endpoint, s3.bucket, key, added.path.read_bytes()[:-100])
    b = machine(tmp_path, "b", s3.url)
    assert b.get(SDIST) is None
    assert list(b.wheels()) == []
    assert b.remote_status().rejected == 1  # type: ignore[union-attr]


def test_a_record_whose_wheel_is_missing_is_a_miss_and_the_next_push_repairs_it(
    tmp_path: Path, s3: S3
) -> None:
    a = machine(tmp_path, "a", s3.url)
    build, _ = builder(tmp_path)
    a.get_or_build(SDIST, build)
    assert a.flush(60)
    (key,) = wheel_keys(s3.objects())
    delete_object(s3.endpoint, s3.bucket, key)
    b = machine(tmp_path, "b", s3.url)
    assert b.get(SDIST) is None
    build_b, calls_b = builder(tmp_path)
    b.get_or_build(SDIST, build_b)
    assert calls_b == [1]
    assert b.flush(60)
    assert wheel_keys(s3.objects()) == [key]
    build_c, calls_c = builder(tmp_path)
    machine(tmp_path, "c", s3.url).get_or_build(SDIST, build_c)
    assert calls_c == []


def test_signed_records_reject_a_forged_one(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELCACHE_REMOTE_KEY", "fleet-secret")
    signed = Source("sha256:" + "a" * 64, "", "demo")
    forged = Source("sha256:" + "b" * 64, "", "demo")
    trusted = machine(tmp_path, "a", s3.url)
    trusted.add(signed, make_wheel(tmp_path / "good", "demo", "1.0"))
    assert trusted.flush(60)
    # An attacker with write access to the bucket but without the key.
    monkeypatch.setenv("WHEELCACHE_REMOTE_KEY", "not-the-secret")
    attacker = machine(tmp_path, "attacker", s3.url)
    attacker.add(forged, make_wheel(tmp_path / "evil", "demo", "1.0", seed=666))
    assert attacker.flush(60)
    monkeypatch.setenv("WHEELCACHE_REMOTE_KEY", "fleet-secret")
    b = machine(tmp_path, "b", s3.url)
    assert b.get(signed) is not None
    assert b.get(forged) is None
    assert b.remote_status().rejected == 1  # type: ignore[union-attr]
    # Without any key configured, signatures are not checked.
    monkeypatch.delenv("WHEELCACHE_REMOTE_KEY")
    assert machine(tmp_path, "c", s3.url).get(forged) is not None


def test_a_tampered_signed_record_is_rejected(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELCACHE_REMOTE_KEY", "fleet-secret")
    a = machine(tmp_path, "a", s3.url)
    a.add(SDIST, make_wheel(tmp_path / "good", "demo", "1.0"))
    assert a.flush(60)
    (key,) = record_keys(s3.objects())
    record = json.loads(s3.objects()[key])
    record["name"] = "renamed"
    put_object(s3.endpoint, s3.bucket, key, json.dumps(record).encode())
    assert machine(tmp_path, "b", s3.url).get(SDIST) is None


def test_sources_keyed_by_a_local_path_travel_only_under_a_remote_identity(
    tmp_path: Path, s3: S3
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1.0"\n')
    tree = Source.from_tree(project)  # no cache with a remote: no remote identity
    assert tree.remote_key is None
    a = machine(tmp_path, "a", s3.url)
    a.add(tree, make_wheel(tmp_path / "w", "demo", "1.0"))
    assert a.flush(60)
    assert s3.objects() == {}
    assert machine(tmp_path, "b", s3.url).get(tree) is None
    (project / "new.py").write_text("pass\n")  # no longer as it was built: push skips it
    assert (a.push().sources, a.push().skipped) == (0, 1)
    assert s3.objects() == {}
    (project / "new.py").unlink()  # as built again: pushed under its identity, not its path
    assert a.push().sources == 1
    (record_key,) = record_keys(s3.objects())
    assert json.loads(s3.objects()[record_key])["key"] == "tree:demo:."


def test_push_uploads_every_current_local_revision(tmp_path: Path, s3: S3) -> None:
    local = WheelCache(tmp_path / "a")
    for number in range(3):
        source = Source(f"sha256:{number:064d}", "", f"p{number}")
        local.add(source, make_wheel(tmp_path / f"w{number}", f"p{number}", "1.0"))
    report = machine(tmp_path, "a", s3.url).push()
    assert (report.sources, report.wheels, report.uploaded) == (3, 3, 3)
    assert len(wheel_keys(s3.objects())) == len(record_keys(s3.objects())) == 3
    again = machine(tmp_path, "a", s3.url).push()
    assert again.uploaded == 0


def test_a_file_url_is_a_remote_too(tmp_path: Path, wheel: Path) -> None:
    url = (tmp_path / "bucket").as_uri()
    a, b = machine(tmp_path, "a", url), machine(tmp_path, "b", url)
    added = a.add(SDIST, wheel)
    assert a.flush(60)
    assert b.get(SDIST).sha256 == added.sha256  # type: ignore[union-attr]
    assert (tmp_path / "bucket" / "wheels-v1" / added.sha256 / added.filename).is_file()


@pytest.mark.parametrize(
    ("remote", "mode"), [("ftp://host/x", None), ("bucket-without-scheme", None), ("s3://b", "rw")]
)
def test_a_bad_remote_configuration_is_a_value_error(
    tmp_path: Path, remote: str, mode: str | None
) -> None:
    with pytest.raises(ValueError, match="remote"):
        WheelCache(tmp_path, remote=remote, remote_mode=mode)


def test_an_empty_remote_argument_overrides_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELCACHE_REMOTE", "s3://somewhere/else")
    assert WheelCache(tmp_path, remote="").remote_status() is None
    assert WheelCache(tmp_path).remote_status() is not None


def test_without_a_remote_the_remote_operations_say_so(tmp_path: Path) -> None:
    cache = WheelCache(tmp_path)
    assert cache.flush() is True
    assert cache.remote_status() is None
    with pytest.raises(ValueError, match="no remote"):
        cache.push()
    with pytest.raises(ValueError, match="no remote"):
        cache.prune_remote()
    assert issubclass(InvalidRemoteError, InvalidSourceError.__mro__[1])


def test_a_missing_bucket_means_local_only(
    tmp_path: Path, s3: S3, caplog: pytest.LogCaptureFixture
) -> None:
    cache = machine(tmp_path, "b", "s3://no-such-bucket-here/x")
    build, calls = builder(tmp_path)
    with caplog.at_level(logging.WARNING, logger="wheelcache"):
        assert cache.get(SDIST) is None
        cache.get_or_build(SDIST, build)
        assert cache.flush(60)
    assert calls == [1]
    assert [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    with pytest.raises(CacheError, match="unavailable"):
        cache.push()


def test_flush_waits_for_background_pushes_and_says_when_they_are_late(
    tmp_path: Path, s3: S3, wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from procs import SyncPoints
    from wheelcache._fs import syncpoints as _syncpoints

    points = SyncPoints(tmp_path / "points")
    monkeypatch.setenv("WHEELCACHE_SYNCPOINTS", str(points.directory))
    _syncpoints.reset()
    points.arm("remote-push.before-record")
    a = machine(tmp_path, "a", s3.url)
    a.add(SDIST, wheel)  # returns at once: the upload waits in the background
    points.wait_reached("remote-push.before-record")
    assert a.flush(0.2) is False
    assert record_keys(s3.objects()) == []
    points.release("remote-push.before-record")
    assert a.flush(60) is True
    assert len(record_keys(s3.objects())) == 1


def test_a_pull_flushed_to_disk_behind_the_download_is_intact(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wheelcache._remote import download

    monkeypatch.setattr(download, "WRITEBACK_BYTES", 1)  # a writeback after every chunk
    a = machine(tmp_path, "a", s3.url)
    added = a.add(SDIST, make_wheel(tmp_path / "big", "demo", "1.0", payload_size=3_500_000))
    assert a.flush(60)
    pulled = machine(tmp_path, "b", s3.url).get(SDIST)
    assert pulled is not None
    assert hashlib.sha256(pulled.path.read_bytes()).hexdigest() == added.sha256
