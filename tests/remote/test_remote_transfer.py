"""The transfer of a pull: records read at once, large wheels hashed behind the download.

What a pull publishes is exactly what its record names however the work is
spread over threads: a large wheel is hashed in a thread while the next
chunks arrive and are written, and its digest still covers every byte; the
records of a revision are read concurrently, and a failure among them is
still a remote failure.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import TYPE_CHECKING

import pytest

from procs import DEADLINE
from remote.remote_kit import (
    SDIST,
    machine,
    pull_through,
    record_keys,
    to_first_layout,
    wheel_keys,
)
from remote.s3server import FaultProxy, put_object
from wheelcache._remote import download
from wheelcache._remote.records import Record, record_key, wheel_key
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

    from remote.conftest import S3
    from wheelcache import CachedWheel

pytestmark = pytest.mark.usefixtures("s3")

BIG = 3 * download.HASH_THREAD_BYTES // 2
"""Payload bytes of a wheel large enough to be hashed in a thread, in several chunks."""


def _pushed_big(tmp_path: Path, s3: S3) -> CachedWheel:
    """Machine A adds a wheel of BIG payload bytes to SDIST and pushes it."""
    a = machine(tmp_path, "a", s3.url)
    added = a.add(SDIST, make_wheel(tmp_path / "big", "demo", "1.0", payload_size=BIG))
    assert a.flush(60)
    return added


def _pulled_by_b_refused(tmp_path: Path, s3: S3, caplog: pytest.LogCaptureFixture) -> str:
    """Machine B's get() of SDIST: a miss, nothing published, one rejection; its message."""
    b = machine(tmp_path, "b", s3.url)
    with caplog.at_level(logging.WARNING, logger="wheelcache"):
        assert b.get(SDIST) is None
    assert list(b.wheels()) == []
    rejections = [
        r.getMessage() for r in caplog.records if "rejected remote object" in r.getMessage()
    ]
    assert len(rejections) == 1
    assert b.remote_status().rejected == 1  # type: ignore[union-attr]
    return rejections[0]


def test_a_large_wheel_hashed_behind_the_download_is_published_intact(
    tmp_path: Path, s3: S3
) -> None:
    added = _pushed_big(tmp_path, s3)
    assert added.size >= download.HASH_THREAD_BYTES
    pulled = machine(tmp_path, "b", s3.url).get(SDIST)
    assert pulled is not None
    assert hashlib.sha256(pulled.path.read_bytes()).hexdigest() == added.sha256


def test_a_large_wheel_with_one_byte_changed_near_its_end_is_rejected_by_its_digest(
    tmp_path: Path, s3: S3, caplog: pytest.LogCaptureFixture
) -> None:
    added = _pushed_big(tmp_path, s3)
    (key,) = wheel_keys(s3.objects())
    data = bytearray(added.path.read_bytes())
    data[-200_000] ^= 0xFF  # in the last chunk the download receives
    put_object(s3.endpoint, s3.bucket, key, bytes(data))
    rejection = _pulled_by_b_refused(tmp_path, s3, caplog)
    assert f"where {added.sha256} was recorded" in rejection  # the digest, not validation


def _plant(s3: S3, data: bytes, filename: str = "demo-1.0-py3-none-any.whl") -> str:
    """*data* as a wheel object of SDIST's revision, under an honest record; its SHA-256."""
    sha256 = hashlib.sha256(data).hexdigest()
    record = Record.make(SDIST, sha256, filename, len(data))
    prefix = s3.url.split("/", 3)[3]  # the bucket's keys carry the remote URL's prefix
    put_object(s3.endpoint, s3.bucket, f"{prefix}/{wheel_key(sha256, filename)}", data)
    record_at = f"{prefix}/{record_key(SDIST, sha256, filename)}"
    put_object(s3.endpoint, s3.bucket, record_at, record.encode())
    return sha256


def test_a_pulled_file_is_refused_when_it_is_no_wheel_though_its_record_vouches_for_its_bytes(
    tmp_path: Path, s3: S3, caplog: pytest.LogCaptureFixture
) -> None:
    """A pull skips the members' CRCs (the digest covers them), never the wheel's shape."""
    not_a_wheel = make_wheel(tmp_path / "w", "demo", "1.0", files={"../evil.py": b"import os\n"})
    _plant(s3, not_a_wheel.read_bytes())
    assert "has an unsafe path" in _pulled_by_b_refused(tmp_path, s3, caplog)


def test_a_pulled_file_that_is_not_what_its_record_names_is_refused_for_that_first(
    tmp_path: Path, s3: S3, caplog: pytest.LogCaptureFixture
) -> None:
    """Validation runs alongside the hash; wrong bytes explain an invalid wheel: they are named."""
    added = _pushed_big(tmp_path, s3)
    (key,) = wheel_keys(s3.objects())
    put_object(s3.endpoint, s3.bucket, key, added.path.read_bytes()[:-5000])  # no zip directory
    rejection = _pulled_by_b_refused(tmp_path, s3, caplog)
    assert f"{added.size - 5000} bytes where {added.size} were recorded" in rejection


def _three_records(tmp_path: Path, s3: S3) -> None:
    """Machine A pushes three wheels (three platforms) of one revision of SDIST."""
    a = machine(tmp_path, "a", s3.url)
    for tag in ("py3-none-any", "cp311-cp311-linux_x86_64", "cp311-cp311-win_amd64"):
        a.add(SDIST, make_wheel(tmp_path / tag, "demo", "1.0", tags=tag))
    assert a.flush(60)
    assert len(record_keys(s3.objects())) == 3


def test_the_records_of_the_first_layout_are_read_at_once(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    _three_records(tmp_path, s3)
    assert len(to_first_layout(s3)) == 3  # their names do not say which wheels they name
    # Each record's GET waits in the proxy until all three are in flight:
    # read one after the other, the first would wait until the deadline.
    together = threading.Barrier(3)
    alone: list[str] = []

    def hold_records(method: str, path: str) -> None:
        if method == "GET" and "/revisions-v1/" in path and "list-type" not in path:
            try:
                together.wait(DEADLINE / 4)
            except threading.BrokenBarrierError:
                alone.append(path)

    pulled, proxy = pull_through(tmp_path, s3, monkeypatch, hold_records)
    assert pulled is not None
    assert alone == []
    assert (
        sum("/revisions-v1/" in path and "list-type" not in path for _, path in proxy.requests) == 3
    )


def test_a_failure_reading_one_of_several_records_is_a_remote_failure(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _three_records(tmp_path, s3)
    to_first_layout(s3)  # all three are read, at once
    first = sorted(key.rsplit("/", 1)[-1] for key in record_keys(s3.objects()))[0]
    proxy = FaultProxy(s3.port, lambda method, path: "500" if path.endswith(first) else None)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        b = machine(tmp_path, "b", s3.url)
        with caplog.at_level(logging.WARNING, logger="wheelcache"):
            assert b.get(SDIST) is None
    finally:
        proxy.close()
    assert list(b.wheels()) == []
    assert any("is unavailable" in r.getMessage() for r in caplog.records)


def _garble_member(data: bytes, name: str) -> bytes:
    """*data* (a wheel) with the compressed bytes of member *name* made undecodable."""
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        member = archive.getinfo(name)
    start = member.header_offset + 30 + len(member.filename) + len(member.extra)
    garbled = bytearray(data)
    garbled[start : start + member.compress_size] = b"\xff" * member.compress_size
    return bytes(garbled)


def test_a_pulled_wheel_whose_member_cannot_be_inflated_fails_its_install_with_a_cache_error(
    tmp_path: Path, s3: S3
) -> None:
    """design.md §14.2: a pull leaves the members' CRCs to the SHA-256, and a bucket
    writer who is not wheelcache can name bytes that never passed them; such a member
    then "fails later, where the wheel is unpacked or installed". That failure must be
    the library's own (InvalidWheelError, a CacheError), never a bare zlib.error."""
    pytest.importorskip("installer")
    from wheelcache import CacheError

    wheel = make_wheel(tmp_path / "w", "demo", "1.0", files={"demo/text.py": b"x = 1\n" * 1000})
    _plant(s3, _garble_member(wheel.read_bytes(), "demo/text.py"))
    b = machine(tmp_path, "b", s3.url)
    pulled = b.get(SDIST)
    assert pulled is not None  # published: the shape is right, the CRCs were left alone
    with pytest.raises(CacheError):
        b.install(pulled, target=tmp_path / "target")


def test_a_pull_refused_mid_stream_leaves_no_hash_thread_behind(
    tmp_path: Path, s3: S3, caplog: pytest.LogCaptureFixture
) -> None:
    """The download raises past the recorded size, after the hash thread started and
    without settle() ever being called: the thread still ends on its own."""
    import time

    added = _pushed_big(tmp_path, s3)
    (key,) = wheel_keys(s3.objects())
    put_object(s3.endpoint, s3.bucket, key, added.path.read_bytes() + b"\0" * (1 << 20))
    rejection = _pulled_by_b_refused(tmp_path, s3, caplog)
    assert f"longer than the {added.size} bytes recorded" in rejection
    deadline = time.monotonic() + DEADLINE
    while any(t.name == "wheelcache-hash" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a hash thread outlived its refused download"
        time.sleep(0.01)
