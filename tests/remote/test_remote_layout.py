"""The records' layout: a listing names each wheel, so its GET runs alongside its record's.

A record's object name holds the wheel's file name and SHA-256
(``<filename>/<sha256>.rec2``). A pull ranks the wheels from the listing and
starts the wheel's GET while the record is still being read; nothing is
published until the record is trusted. Records of the first layout
(``<sha256>.json``), as the previous version wrote them, are still found.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING

import pytest

from procs import DEADLINE
from remote.remote_kit import (
    SDIST,
    builder,
    machine,
    pull_through,
    record_keys,
    to_first_layout,
    wheel_keys,
)
from remote.s3server import FaultProxy, put_object
from wheelcache._remote import download
from wheelcache._remote import objects as objects_module
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from remote.conftest import S3

pytestmark = pytest.mark.usefixtures("s3")


def _pushed(tmp_path: Path, s3: S3, payload_size: int = 0) -> str:
    """Machine A adds a wheel of SDIST and pushes it; its SHA-256."""
    a = machine(tmp_path, "a", s3.url)
    added = a.add(SDIST, make_wheel(tmp_path / "w", "demo", "1.0", payload_size=payload_size))
    assert a.flush(60)
    return added.sha256


def test_a_records_name_says_which_wheel_it_names(tmp_path: Path, s3: S3) -> None:
    sha256 = _pushed(tmp_path, s3)
    (key,) = record_keys(s3.objects())
    filename = wheel_keys(s3.objects())[0].rsplit("/", 1)[-1]
    assert key.endswith(f"/{filename}/{sha256}.rec2")
    # What the previous version relies on: it lists only names ending in .json
    # (so it skips this one quietly), and its remote prune reads the SHA-256 of
    # the wheel a record names as the last segment less its last five characters.
    assert not key.endswith(".json")
    assert key.rsplit("/", 1)[-1][: -len(".json")] == sha256


def test_the_wheels_get_starts_before_its_record_is_read(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pushed(tmp_path, s3)
    # The record's GET waits in the proxy until the wheel's GET has arrived:
    # were the wheel fetched only after its record, it would wait until the deadline.
    wheel_asked = threading.Event()
    record_waited: list[bool] = []

    def hold_the_record(method: str, path: str) -> None:
        if "/wheels-v1/" in path:
            wheel_asked.set()
        elif path.endswith(".rec2"):
            record_waited.append(wheel_asked.wait(DEADLINE / 4))

    pulled, proxy = pull_through(tmp_path, s3, monkeypatch, hold_the_record)
    assert pulled is not None
    assert record_waited == [True]
    assert len(proxy.requests) == 3  # LIST, the record, the wheel


def _wrap_wheel_streams(
    monkeypatch: pytest.MonkeyPatch, wrap: Callable[[Iterator[bytes]], Iterator[bytes]]
) -> None:
    """Pass the chunks of every wheel object a pull GETs through *wrap*."""
    get = objects_module.ObjectStore.get

    def get_wrapped(self: objects_module.ObjectStore, key: str) -> Iterator[bytes] | None:
        chunks = get(self, key)
        return chunks if chunks is None or "wheels-v1/" not in key else wrap(chunks)

    monkeypatch.setattr(objects_module.ObjectStore, "get", get_wrapped)


def _record_after_the_wheel(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Make every record read wait until a wheel has been streamed to its end.

    Returns a list that gets True for each record read that did wait for it
    (False: it gave up at the deadline).
    """
    streamed = threading.Event()
    waited: list[bool] = []
    read = objects_module.ObjectStore.read

    def told(chunks: Iterator[bytes]) -> Iterator[bytes]:
        yield from chunks
        streamed.set()

    def read_late(self: objects_module.ObjectStore, key: str) -> bytes | None:
        if key.endswith(".rec2"):
            waited.append(streamed.wait(DEADLINE / 4))
        return read(self, key)

    _wrap_wheel_streams(monkeypatch, told)
    monkeypatch.setattr(objects_module.ObjectStore, "read", read_late)
    return waited


@pytest.mark.parametrize("damage", ["a tampered signed record", "a corrupt record"])
def test_a_wheel_whose_record_is_not_trusted_is_never_published_even_if_it_arrives_first(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    if damage == "a tampered signed record":
        monkeypatch.setenv("WHEELCACHE_REMOTE_KEY", "fleet-secret")
    _pushed(tmp_path, s3, payload_size=3_000_000)  # several chunks
    (key,) = record_keys(s3.objects())
    if damage == "a tampered signed record":
        record = json.loads(s3.objects()[key])
        record["name"] = "renamed"
        put_object(s3.endpoint, s3.bucket, key, json.dumps(record).encode())
    else:
        put_object(s3.endpoint, s3.bucket, key, b"{not json")
    waited = _record_after_the_wheel(monkeypatch)
    b = machine(tmp_path, "b", s3.url)
    assert b.get(SDIST) is None
    assert waited == [True]  # the whole wheel was there before its record
    assert list(b.wheels()) == []
    assert b.remote_status().rejected == 1  # type: ignore[union-attr]


def test_a_wheel_whose_record_is_trusted_is_published_when_it_arrives_first(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELCACHE_REMOTE_KEY", "fleet-secret")
    sha256 = _pushed(tmp_path, s3, payload_size=3_000_000)
    waited = _record_after_the_wheel(monkeypatch)
    pulled = machine(tmp_path, "b", s3.url).get(SDIST)
    assert pulled is not None
    assert pulled.sha256 == sha256
    assert waited == [True]


def test_a_download_stops_as_soon_as_its_record_is_found_untrusted(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pushed(tmp_path, s3, payload_size=5_000_000)  # four chunks and more
    (key,) = record_keys(s3.objects())
    put_object(s3.endpoint, s3.bucket, key, b"{not json")
    # After its first chunk, the wheel's stream waits until the record has been read.
    record_read = threading.Event()
    streamed: list[int] = []
    run = download.RecordRead._run

    def after_the_record(chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            if streamed:
                assert record_read.wait(DEADLINE / 4)
            streamed.append(len(chunk))
            yield chunk

    def read_and_tell(self: download.RecordRead, objects: objects_module.ObjectStore) -> None:
        try:
            run(self, objects)  # done() is true from its end on
        finally:
            record_read.set()

    _wrap_wheel_streams(monkeypatch, after_the_record)
    monkeypatch.setattr(download.RecordRead, "_run", read_and_tell)
    b = machine(tmp_path, "b", s3.url)
    assert b.get(SDIST) is None
    assert list(b.wheels()) == []
    assert b.remote_status().rejected == 1  # type: ignore[union-attr]
    assert 1 <= len(streamed) <= 2  # not all it would take to the end


def test_records_of_the_first_layout_are_still_found(tmp_path: Path, s3: S3) -> None:
    sha256 = _pushed(tmp_path, s3)
    assert len(to_first_layout(s3)) == 1
    build, calls = builder(tmp_path)
    pulled = machine(tmp_path, "b", s3.url).get_or_build(SDIST, build)
    assert pulled.sha256 == sha256
    assert calls == []


def test_signed_records_of_the_first_layout_are_still_checked(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WHEELCACHE_REMOTE_KEY", "fleet-secret")
    _pushed(tmp_path, s3)
    (key,) = to_first_layout(s3)
    assert machine(tmp_path, "b", s3.url).get(SDIST) is not None
    monkeypatch.setenv("WHEELCACHE_REMOTE_KEY", "not-the-secret")
    c = machine(tmp_path, "c", s3.url)  # a cache whose root does not exist yet
    with caplog.at_level(logging.WARNING, logger="wheelcache"):
        assert c.get(SDIST) is None
    rejections = [r.getMessage() for r in caplog.records if "rejected remote" in r.getMessage()]
    assert len(rejections) == 1
    assert key.removeprefix("ci/") in rejections[0]
    assert "signature" in rejections[0]
    assert c.remote_status().rejected == 1  # type: ignore[union-attr]


def test_a_first_layout_record_of_a_wheel_a_new_record_names_is_not_read(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pushed(tmp_path, s3)
    objects = s3.objects()
    (new,) = record_keys(objects)
    (old,) = to_first_layout(s3)
    put_object(s3.endpoint, s3.bucket, new, objects[new])  # both layouts now
    proxy = FaultProxy(s3.port, lambda method, path: None)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        assert machine(tmp_path, "b", s3.url).get(SDIST) is not None
    finally:
        proxy.close()
    paths = [path for _, path in proxy.requests]
    assert not any(path.endswith(old.rsplit("/", 1)[-1]) for path in paths)
    assert sum(path.endswith(".rec2") for path in paths) == 1


def test_prune_remote_keeps_a_wheel_a_first_layout_record_names(tmp_path: Path, s3: S3) -> None:
    _pushed(tmp_path, s3)
    to_first_layout(s3)
    report = machine(tmp_path, "a", s3.url).prune_remote(grace=0)
    assert (report.removed_records, report.removed_wheels) == (0, 0)
    assert len(wheel_keys(s3.objects())) == 1


@pytest.mark.parametrize(
    "hostile",
    [
        pytest.param(b"[" * 60_000, id="nested past json's recursion limit"),
        pytest.param(b"huge created", id="a time past float's range"),
        pytest.param(b"NaN created", id="a time that is not a number"),
    ],
)
def test_a_hostile_record_is_a_rejection_and_a_miss_never_an_error(
    tmp_path: Path, s3: S3, hostile: bytes
) -> None:
    """Anyone who may write to the bucket may write anything: a record must not crash a get."""
    _pushed(tmp_path, s3)
    (key,) = record_keys(s3.objects())
    if hostile.endswith(b"created"):
        record = json.loads(s3.objects()[key])
        text = json.dumps(record).replace(
            f'"created": {json.dumps(record["created"])}',
            '"created": ' + ("1" + "0" * 400 if hostile.startswith(b"huge") else "NaN"),
        )
        assert text != json.dumps(record)
        hostile = text.encode()
    put_object(s3.endpoint, s3.bucket, key, hostile)
    b = machine(tmp_path, "b", s3.url)
    assert b.get(SDIST) is None
    assert list(b.wheels()) == []
    assert b.remote_status().rejected == 1  # type: ignore[union-attr]


def _forge_a_name_for(s3: S3, real_key: str, first_layout: bool) -> str:
    """An empty object named like a record of the same wheel under another file name."""
    sha256 = real_key.rpartition("/")[2].partition(".")[0]
    revision = real_key.rpartition("/")[0]
    if not first_layout:
        revision = revision.rpartition("/")[0]
    forged = f"{revision}/aaa-0-py3-none-any.whl/{sha256}.rec2"  # listed before demo-1.0-…
    put_object(s3.endpoint, s3.bucket, forged, b"")
    return forged


@pytest.mark.parametrize("layout", ["current", "first"])
def test_a_record_name_that_lies_does_not_hide_the_true_record_of_its_wheel(
    tmp_path: Path, s3: S3, layout: str
) -> None:
    """A forged name for the same SHA-256 costs a wasted try and a rejection; the wheel is found."""
    sha256 = _pushed(tmp_path, s3)
    (real,) = to_first_layout(s3) if layout == "first" else record_keys(s3.objects())
    forged = _forge_a_name_for(s3, real, first_layout=layout == "first")
    assert sorted(record_keys(s3.objects())) == sorted([real, forged])
    build, calls = builder(tmp_path)
    b = machine(tmp_path, "b", s3.url)

    assert b.get_or_build(SDIST, build).sha256 == sha256
    assert calls == []


def test_a_download_takes_at_most_unchecked_bytes_before_its_record_is_known(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record slow to arrive: the download waits for it once UNCHECKED_BYTES have come."""
    monkeypatch.setattr(download, "UNCHECKED_BYTES", 1 << 20)
    sha256 = _pushed(tmp_path, s3, payload_size=8_000_000)  # several chunks
    streamed: list[int] = []
    ended, asked = threading.Event(), threading.Event()
    at_ask: list[int] = []

    def counted(chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            streamed.append(len(chunk))
            yield chunk
        ended.set()

    read, result = objects_module.ObjectStore.read, download.RecordRead.result

    def read_late(self: objects_module.ObjectStore, key: str) -> bytes | None:
        if key.endswith(".rec2"):  # until the download waits for it, or has it all
            deadline = time.monotonic() + DEADLINE / 4
            while not (asked.is_set() or ended.is_set()) and time.monotonic() < deadline:
                time.sleep(0.01)
        return read(self, key)

    def result_told(self: download.RecordRead) -> bytes | None:
        at_ask.append(sum(streamed))
        asked.set()
        return result(self)

    _wrap_wheel_streams(monkeypatch, counted)
    monkeypatch.setattr(objects_module.ObjectStore, "read", read_late)
    monkeypatch.setattr(download.RecordRead, "result", result_told)

    pulled = machine(tmp_path, "b", s3.url).get(SDIST)

    assert pulled is not None
    assert pulled.sha256 == sha256
    assert at_ask, "the record was never asked for"
    # Written: the limit and one chunk more; received: one more chunk, not yet written.
    assert at_ask[0] <= (1 << 20) + 2 * max(streamed) < sum(streamed), (at_ask, streamed)
