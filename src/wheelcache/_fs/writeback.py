"""Writing a growing file's bytes to disk behind its writer, so its final fsync has little left.

A download arrives in chunks and must be fsynced before it is published.
Left alone, the kernel keeps all of it dirty in memory and the fsync at the
end writes it all while the caller waits. :class:`Writeback` starts the
writing earlier, every so many bytes, for the range written since the last
time:

* On Linux, ``sync_file_range(SYNC_FILE_RANGE_WRITE)`` (through ctypes;
  ``os`` does not offer it) queues the range for writing and returns at
  once: no thread, no waiting, no journal commit, and the writer never
  stalls behind a flush of its own file.
* Elsewhere, a thread runs ``fdatasync`` (``fsync`` where that is missing)
  behind the writer, one at a time.

Either way this is only a head start: it promises nothing, its errors are
ignored, and durability still comes from the caller's fsync afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Any, Callable

__all__ = ["Writeback", "range_writer"]

_SYNC_FILE_RANGE_WRITE = 2
"""From <linux/fs.h>: start writeback of dirty pages in the range, do not wait."""

_RANGE_WRITER: list[Callable[[int, int, int], Any] | None] = []
"""The libc function, looked up on first use; [None] where there is none."""


def range_writer() -> Callable[[int, int, int], Any] | None:
    """``start(fd, offset, count)`` queuing a range of a file for writing, or None here.

    Linux only: other systems have no call that starts writeback without waiting.
    """
    if not _RANGE_WRITER:
        found = None
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                import ctypes

                function = ctypes.CDLL(None, use_errno=True).sync_file_range
                function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
                function.restype = ctypes.c_int

                def start(fd: int, offset: int, count: int) -> Any:
                    return function(fd, offset, count, _SYNC_FILE_RANGE_WRITE)

                found = start
        _RANGE_WRITER.append(found)
    return _RANGE_WRITER[0]


class Writeback:
    """Starts writing what was written to *fd* to disk every *every* bytes."""

    def __init__(self, fd: int, every: int) -> None:
        self.fd = fd
        self.every = every
        self.written = 0
        self.started = 0
        """Bytes from the start of the file whose writing has been started."""
        self._thread: threading.Thread | None = None

    def wrote(self, count: int) -> None:
        """Tell it *count* more bytes were written (at the end of the file)."""
        self.written += count
        if self.written - self.started < self.every:
            return
        start = range_writer()
        if start is not None:
            start(self.fd, self.started, self.written - self.started)
            self.started = self.written
        elif not (self._thread and self._thread.is_alive()):
            self.started = self.written
            self._thread = threading.Thread(
                target=self._sync, name="wheelcache-writeback", daemon=True
            )
            self._thread.start()

    def _sync(self) -> None:
        with contextlib.suppress(OSError):
            getattr(os, "fdatasync", os.fsync)(self.fd)

    def finish(self) -> None:
        """Wait for the writeback thread, if one runs (before the caller's fsync and close)."""
        if self._thread is not None:
            self._thread.join()
