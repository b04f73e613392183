"""Copying a wheel into the cache: hash what is written, then make it durable.

An entry is named by the SHA-256 of its bytes, so every byte of a published
wheel is hashed, and what is hashed must be exactly what was written: the
caller's file may change while it is copied, but the bytes in the cache may
never disagree with their name.

* A small wheel (under :data:`PIPELINE_MIN_BYTES`) is copied by reads and
  writes, keeping the chunks read. Then, while one thread waits on the
  fsync, another hashes those very chunks -- the bytes written -- and this
  one runs the caller's validation of the staged copy.
* A large wheel is copied by the kernel (``sendfile`` on Linux, else 1 MiB
  reads and writes) in steps, while a second thread hashes the staged file
  behind the copy, reading back only bytes already written. Once the copy is
  done, the fsync (waiting on the disk) runs alongside the rest of the
  hashing and the caller's validation of the staged copy (``while_syncing``).
  Hashing the staged file rather than the caller's means the name is
  computed from the very bytes published.

Why bother: SHA-256 runs at about 1.5 GB/s, about the speed of copying and
fsyncing together, so done in line it nearly doubles the cost of publishing a
large wheel; overlapped, it mostly hides behind the copy and the fsync.
Hashing, ``sendfile``, reads, writes and fsync all release the GIL.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import sys
import threading
from typing import TYPE_CHECKING, Callable

from .._fs.fsutil import CHUNK_SIZE

if TYPE_CHECKING:
    from io import FileIO
    from pathlib import Path

__all__ = ["HASH_THREAD_MIN_BYTES", "PIPELINE_MIN_BYTES", "alongside_fsync", "copy_and_hash"]

PIPELINE_MIN_BYTES = 4 * CHUNK_SIZE
"""Files smaller than this are copied by reads and writes, keeping the chunks
to hash; larger ones are copied by the kernel and hashed behind the copy."""

HASH_THREAD_MIN_BYTES = 256 * 1024
"""Below this, hashing (under 0.2 ms) is done in line: a thread costs about as
much as it would hide."""

# Linux only, as in shutil: elsewhere sendfile needs a socket or is missing.
_SENDFILE = sys.platform.startswith("linux") and hasattr(os, "sendfile")
_NO_SENDFILE = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV, errno.ENOTSUP})
_STEP = 2 * CHUNK_SIZE
"""Bytes per sendfile call: the hasher follows the copy at this granularity."""


def copy_and_hash(
    source: Path, destination: Path, *, while_syncing: Callable[[], object] | None = None
) -> tuple[str, int]:
    """Copy *source* to the new file *destination*; return the SHA-256 of what was written.

    The destination is created exclusively, fsynced and made read-only.
    Returns the hex digest and the size in bytes.

    ``while_syncing`` (if given) runs in this thread while another thread waits
    for the fsync: they overlap, since one waits on the disk and the other uses
    the CPU. Its exception, if any, propagates after the fsync (and, for a
    large file, the hashing) has finished.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    digest = hashlib.sha256()
    with open(source, "rb", buffering=0) as src:
        out = os.open(destination, flags, 0o644)
        try:
            if os.fstat(src.fileno()).st_size < PIPELINE_MIN_BYTES:
                size, kept = _copy_keeping(src, out, digest)
                hash_kept = _hasher(digest, kept)
                if size < HASH_THREAD_MIN_BYTES:
                    hash_kept()
                    alongside_fsync(out, while_syncing)
                else:
                    alongside_fsync(
                        out,
                        lambda: _in_parallel(hash_kept, while_syncing, name="wheelcache-hash"),
                    )
            else:
                size = _copy_hashed_behind(src, out, destination, digest, while_syncing)
        finally:
            os.close(out)
    os.chmod(destination, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return digest.hexdigest(), size


def _copy_keeping(src: FileIO, out: int, digest: hashlib._Hash) -> tuple[int, list[bytes]]:
    """Copy *src* to *out*; return the size and the chunks written but not yet hashed.

    Chunks are kept up to :data:`PIPELINE_MIN_BYTES`; should the file have
    grown past that since it was measured, the rest is hashed as it is copied.
    """
    kept: list[bytes] = []
    size = 0
    while chunk := src.read(CHUNK_SIZE):
        _write_all(out, memoryview(chunk))
        size += len(chunk)
        if size <= PIPELINE_MIN_BYTES:
            kept.append(chunk)
            continue
        for earlier in kept:
            digest.update(earlier)
        kept.clear()
        digest.update(chunk)
    return size, kept


def _hasher(digest: hashlib._Hash, chunks: list[bytes]) -> Callable[[], None]:
    def hash_chunks() -> None:
        for chunk in chunks:
            digest.update(chunk)

    return hash_chunks


class _Written:
    """How far the copy has got: the hasher's signal to read on, or to stop."""

    def __init__(self) -> None:
        self.bytes = 0
        self.finished = False
        self.changed = threading.Condition()

    def advance(self, count: int) -> None:
        with self.changed:
            self.bytes += count
            self.changed.notify()

    def finish(self) -> None:
        with self.changed:
            self.finished = True
            self.changed.notify()

    def wait_beyond(self, offset: int) -> int | None:
        """Block until more than *offset* bytes are written; the new total, or None at the end."""
        with self.changed:
            while self.bytes <= offset and not self.finished:
                self.changed.wait()
            return self.bytes if self.bytes > offset else None


def _copy_hashed_behind(
    src: FileIO,
    out: int,
    destination: Path,
    digest: hashlib._Hash,
    while_syncing: Callable[[], object] | None,
) -> int:
    written = _Written()
    copied: list[int] = []

    def copy_then_sync() -> None:
        try:
            copied.append(_copy(src, out, written))
        finally:
            written.finish()
        alongside_fsync(out, while_syncing)

    _in_parallel(
        lambda: _hash_written(destination, digest, written), copy_then_sync, name="wheelcache-hash"
    )
    return copied[0]


def _hash_written(path: Path, digest: hashlib._Hash, written: _Written) -> None:
    """Hash the file at *path* as it grows, reading only bytes already written."""
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    hashed = 0
    with open(path, "rb", buffering=0) as staged:
        while (total := written.wait_beyond(hashed)) is not None:
            while hashed < total:
                count = staged.readinto(view[: min(CHUNK_SIZE, total - hashed)])
                if not count:
                    raise OSError(errno.EIO, f"{path} is shorter than what was written to it")
                digest.update(view[:count])
                hashed += count


def _copy(src: FileIO, out: int, written: _Written) -> int:
    """Copy all of *src* to *out*, in the kernel where it can; return the bytes copied."""
    if _SENDFILE:
        copied = 0
        try:
            while sent := os.sendfile(out, src.fileno(), copied, _STEP):
                copied += sent
                written.advance(sent)
        except OSError as exc:
            # Some filesystems refuse sendfile between files; say so before any byte moved.
            if copied or exc.errno not in _NO_SENDFILE:
                raise
        else:
            return copied
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    size = 0
    while count := src.readinto(buffer):
        _write_all(out, view[:count])
        size += count
        written.advance(count)
    return size


def _write_all(out: int, chunk: memoryview) -> None:
    written = 0
    while written < len(chunk):
        written += os.write(out, chunk[written:])


def alongside_fsync(fd: int, work: Callable[[], object] | None) -> None:
    """Run fsync on *fd* in a thread while *work* runs in this one (see :func:`_in_parallel`)."""
    _in_parallel(lambda: os.fsync(fd), work, name="wheelcache-fsync")


def _in_parallel(
    background: Callable[[], object], foreground: Callable[[], object] | None, *, name: str
) -> None:
    """Run *background* in a thread named *name* while *foreground* runs in this one.

    Both have finished when this returns. The exception of *foreground* wins;
    otherwise the one of *background* is raised. Without *foreground*,
    *background* simply runs in this thread.
    """
    if foreground is None:
        background()
        return
    failures: list[BaseException] = []

    def run() -> None:
        try:
            background()
        except BaseException as exc:  # re-raised in the calling thread
            failures.append(exc)

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    try:
        foreground()
    finally:
        worker.join()
    if failures:
        raise failures[0]
