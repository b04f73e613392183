"""Writeback: a growing file's bytes start for the disk behind its writer, and are never changed."""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING, Any

import pytest

from wheelcache._fs import writeback

if TYPE_CHECKING:
    from pathlib import Path

MIB = 1 << 20


def _write(path: Path, every: int, chunks: list[bytes]) -> writeback.Writeback:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        behind = writeback.Writeback(fd, every)
        for chunk in chunks:
            os.write(fd, chunk)
            behind.wrote(len(chunk))
        behind.finish()
        os.fsync(fd)
    finally:
        os.close(fd)
    return behind


def _chunks() -> list[bytes]:
    return [bytes([n]) * MIB for n in range(5)]


def test_with_sync_file_range_each_written_range_is_queued_once_and_no_thread_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = writeback.range_writer()
    if start is None:
        pytest.skip("no sync_file_range here (Linux only)")
    calls: list[tuple[int, int, Any]] = []

    def recording(fd: int, offset: int, count: int) -> Any:
        result = start(fd, offset, count)
        calls.append((offset, count, result))
        return result

    monkeypatch.setattr(writeback, "_RANGE_WRITER", [recording])
    path = tmp_path / "file"
    behind = _write(path, 2 * MIB, _chunks())
    assert calls == [(0, 2 * MIB, 0), (2 * MIB, 2 * MIB, 0)]  # the real call succeeded
    assert behind._thread is None
    assert path.read_bytes() == b"".join(_chunks())


def test_without_sync_file_range_a_thread_flushes_behind_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writeback, "_RANGE_WRITER", [None])
    path = tmp_path / "file"
    behind = _write(path, 2 * MIB, _chunks())
    assert behind._thread is not None
    assert not behind._thread.is_alive()
    expected = hashlib.sha256(b"".join(_chunks())).hexdigest()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected
