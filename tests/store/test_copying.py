"""Copying a wheel in: the name is the hash of the bytes published, whatever happens meanwhile.

Small wheels are hashed as they are copied; large ones (from
``PIPELINE_MIN_BYTES``) are copied by the kernel and hashed by a second thread
reading the staged file back behind the copy. Both must give the same
promises, so most tests run on both sizes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from typing import TYPE_CHECKING, Any, Callable

import pytest

from ondisk import replace_os_calls, sha256_of, staging_is_empty
from wheelcache import CacheError, DiskFullError, InvalidWheelError, Source, WheelCache
from wheelcache._store import copying as _copying
from wheelfactory import PY3, corrupt_crc, make_wheel

if TYPE_CHECKING:
    from pathlib import Path

SMALL = 64 << 10
MEDIUM = _copying.HASH_THREAD_MIN_BYTES + (1 << 20) + 77
LARGE = _copying.PIPELINE_MIN_BYTES + (1 << 20) + 123
SIZES = [
    pytest.param(SMALL, id="small"),
    pytest.param(MEDIUM, id="medium"),
    pytest.param(LARGE, id="large"),
]


def assert_the_add_fails_and_leaves_nothing(
    cache: WheelCache, source: Source, wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """add() fails with the I/O error staged by the caller; once it is undone, nothing remains."""
    with pytest.raises(CacheError, match=r"[Ii]nput/output error"):
        cache.add(source, wheel)
    monkeypatch.undo()
    assert staging_is_empty(cache)
    assert cache.get(source, PY3) is None


@pytest.fixture
def no_thread_left_behind() -> Any:
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) <= before


@pytest.mark.parametrize("size", SIZES)
def test_an_entry_is_named_by_the_sha256_of_its_bytes(
    cache: WheelCache, source: Source, tmp_path: Path, size: int
) -> None:
    wheel = make_wheel(tmp_path, payload_size=size)
    added = cache.add(source, wheel)
    assert added.sha256 == sha256_of(wheel) == sha256_of(added.path)
    assert added.size == wheel.stat().st_size
    assert added.path.parent.name == added.sha256


@pytest.mark.parametrize("size", SIZES)
def test_the_name_is_the_hash_of_what_was_staged_even_if_the_callers_file_changes(
    cache: WheelCache,
    source: Source,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
) -> None:
    """The caller's file is rewritten right after the copy: the entry keeps its own name."""
    wheel = make_wheel(tmp_path / "a", payload_size=size)
    original = wheel.read_bytes()
    other = bytes(len(original))  # same size, other bytes
    real_copy_keeping = _copying._copy_keeping
    real_copy = _copying._copy

    def rewrite_after(*args: Any) -> Any:
        wheel.write_bytes(other)
        return None

    if size < _copying.PIPELINE_MIN_BYTES:

        def copy_keeping_then_rewrite(src: Any, out: int, digest: Any) -> Any:
            copied = real_copy_keeping(src, out, digest)
            rewrite_after()
            return copied

        monkeypatch.setattr(_copying, "_copy_keeping", copy_keeping_then_rewrite)
    else:

        def copy_then_rewrite(src: Any, out: int, written: Any) -> int:
            copied = real_copy(src, out, written)
            rewrite_after()
            return copied

        monkeypatch.setattr(_copying, "_copy", copy_then_rewrite)
    added = cache.add(source, wheel)
    assert added.path.read_bytes() == original
    assert added.sha256 == hashlib.sha256(original).hexdigest()


@pytest.mark.parametrize("sendfile_error", [errno.EINVAL, errno.ENOSYS, errno.EXDEV])
def test_where_the_kernel_will_not_copy_reads_and_writes_do(
    cache: WheelCache,
    source: Source,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sendfile_error: int,
) -> None:
    wheel = make_wheel(tmp_path, payload_size=LARGE)
    refused: list[int] = []

    def refuse(*args: Any) -> int:
        refused.append(sendfile_error)
        raise OSError(sendfile_error, os.strerror(sendfile_error))

    monkeypatch.setattr(_copying, "_SENDFILE", True)
    replace_os_calls(monkeypatch, _copying, sendfile=refuse)
    added = cache.add(source, wheel)
    assert refused == [sendfile_error]
    assert added.path.read_bytes() == wheel.read_bytes()
    assert added.sha256 == sha256_of(wheel)


def test_without_sendfile_large_wheels_are_copied_by_reads_and_writes(
    cache: WheelCache, source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other platforms than Linux (and Pythons without ``os.sendfile``)."""
    wheel = make_wheel(tmp_path, payload_size=LARGE)

    def never(*args: Any) -> int:
        raise AssertionError("sendfile used where it is not available")

    monkeypatch.setattr(_copying, "_SENDFILE", False)
    replace_os_calls(monkeypatch, _copying, sendfile=never)
    added = cache.add(source, wheel)
    assert added.sha256 == sha256_of(wheel) == sha256_of(added.path)


def test_a_kernel_copy_failing_half_way_fails_the_add_and_leaves_nothing(
    cache: WheelCache,
    source: Source,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_thread_left_behind: None,
) -> None:
    """Once bytes have moved, falling back could duplicate them: it is an error."""
    if not _copying._SENDFILE:
        pytest.skip("this platform's copy does not use sendfile")
    wheel = make_wheel(tmp_path, payload_size=LARGE)
    real_sendfile = os.sendfile
    calls: list[int] = []

    def fail_second(out: int, src: int, offset: int, count: int) -> int:
        calls.append(offset)
        if len(calls) == 1:
            return real_sendfile(out, src, offset, 1 << 20)
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))

    replace_os_calls(monkeypatch, _copying, sendfile=fail_second)
    with pytest.raises(CacheError):
        cache.add(source, wheel)
    assert calls == [0, 1 << 20]
    assert staging_is_empty(cache)
    assert cache.get(source, PY3) is None


def test_a_full_disk_during_a_kernel_copy_raises_disk_full_error(
    cache: WheelCache, source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _copying._SENDFILE:
        pytest.skip("this platform's copy does not use sendfile")
    wheel = make_wheel(tmp_path, payload_size=LARGE)

    def full(*args: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    replace_os_calls(monkeypatch, _copying, sendfile=full)
    with pytest.raises(DiskFullError):
        cache.add(source, wheel)
    assert staging_is_empty(cache)


@pytest.mark.parametrize("size", SIZES)
def test_a_failed_fsync_fails_the_add_after_every_thread_has_finished(
    cache: WheelCache,
    source: Source,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_thread_left_behind: None,
    size: int,
) -> None:
    wheel = make_wheel(tmp_path, payload_size=size)

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    replace_os_calls(monkeypatch, _copying, fsync=failing_fsync)
    assert_the_add_fails_and_leaves_nothing(cache, source, wheel, monkeypatch)


def test_a_small_wheel_that_grows_while_copied_is_hashed_whole_and_in_order(
    tmp_path: Path,
) -> None:
    """Chunks beyond the keeping limit are hashed in line, after the ones kept."""
    data = os.urandom(_copying.PIPELINE_MIN_BYTES + 3 * 4096)
    (tmp_path / "src").write_bytes(data)
    digest = hashlib.sha256()
    out = os.open(tmp_path / "dst", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with open(tmp_path / "src", "rb", buffering=0) as src:
            size, kept = _copying._copy_keeping(src, out, digest)
    finally:
        os.close(out)
    assert size == len(data)
    assert kept == []
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "dst").read_bytes() == data


def failing_hasher(digest: Any, chunks: Any) -> Callable[[], None]:
    """Stands in for ``_copying._hasher``: hashing fails with an I/O error."""

    def fail() -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    return fail


def test_a_failed_hash_alongside_the_fsync_fails_the_add(
    cache: WheelCache,
    source: Source,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_thread_left_behind: None,
) -> None:
    wheel = make_wheel(tmp_path, payload_size=MEDIUM)
    monkeypatch.setattr(_copying, "_hasher", failing_hasher)
    assert_the_add_fails_and_leaves_nothing(cache, source, wheel, monkeypatch)


def test_an_invalid_wheel_is_reported_as_invalid_even_if_hashing_fails_too(
    cache: WheelCache,
    source: Source,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_thread_left_behind: None,
) -> None:
    wheel = make_wheel(tmp_path, payload_size=MEDIUM)
    corrupt_crc(wheel)
    monkeypatch.setattr(_copying, "_hasher", failing_hasher)
    with pytest.raises(InvalidWheelError, match="CRC"):
        cache.add(source, wheel)
    assert staging_is_empty(cache)


def test_a_failed_hash_read_back_fails_the_add(
    cache: WheelCache,
    source: Source,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_thread_left_behind: None,
) -> None:
    wheel = make_wheel(tmp_path, payload_size=LARGE)

    def unreadable(path: Path, digest: Any, written: Any) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(_copying, "_hash_written", unreadable)
    with pytest.raises(CacheError):
        cache.add(source, wheel)
    assert staging_is_empty(cache)


@pytest.mark.parametrize("size", SIZES)
def test_an_invalid_large_wheel_is_rejected_while_hashing_runs(
    cache: WheelCache,
    source: Source,
    tmp_path: Path,
    size: int,
    no_thread_left_behind: None,
) -> None:
    wheel = make_wheel(tmp_path, payload_size=size)
    corrupt_crc(wheel)
    with pytest.raises(InvalidWheelError, match="CRC"):
        cache.add(source, wheel)
    assert staging_is_empty(cache)


def test_the_hasher_reads_only_bytes_already_written(
    cache: WheelCache,
    source: Source,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_thread_left_behind: None,
) -> None:
    """Every read of the staged file ends at or before what the copy had written then."""
    wheel = make_wheel(tmp_path, payload_size=3 * _copying._STEP + 77)
    real_wait = _copying._Written.wait_beyond
    overreads: list[tuple[int, int]] = []
    real_hash_written = _copying._hash_written

    def checked_hash(path: Path, digest: Any, written: Any) -> None:
        def wait_then_check(offset: int) -> int | None:
            total = real_wait(written, offset)
            on_disk = os.path.getsize(path)
            if total is not None and total > on_disk:
                overreads.append((total, on_disk))
            return total

        written.wait_beyond = wait_then_check
        real_hash_written(path, digest, written)

    monkeypatch.setattr(_copying, "_hash_written", checked_hash)
    added = cache.add(source, wheel)
    assert overreads == []
    assert added.sha256 == sha256_of(wheel) == sha256_of(added.path)
