"""SHA-256 of a download's chunks, computed behind the download in a thread of its own."""

from __future__ import annotations

import hashlib
import queue
import threading

__all__ = ["StreamHasher"]


class StreamHasher:
    """SHA-256 of the chunks it is given, in a thread of its own once they add up to *threshold*.

    A small download is hashed in line (a thread would cost about what it
    hides); the size of a download is not known when it starts, so the thread
    starts once *threshold* bytes have been given. From then on the download
    receives and writes a chunk while the thread hashes the one before
    (hashlib, socket reads and file writes all release the GIL), so on a
    machine with a core to spare hashing hides behind the transfer. The
    chunks are the very ``bytes`` objects written, so what is hashed is what
    was written. The queue is bounded: at most 16 chunks wait in memory.
    """

    def __init__(self, threshold: int) -> None:
        self._digest = hashlib.sha256()
        self._threshold = threshold
        self._given = 0
        self._queue: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._ended = False

    def update(self, chunk: bytes) -> None:
        if self._queue is None:
            self._given += len(chunk)
            if self._given < self._threshold:
                self._digest.update(chunk)
                return
            self._queue = queue.Queue(maxsize=16)
            self._thread = threading.Thread(target=self._run, name="wheelcache-hash", daemon=True)
            self._thread.start()
        self._queue.put(chunk)

    def _run(self) -> None:
        assert self._queue is not None
        while (chunk := self._queue.get()) is not None:
            if self._failure is None:  # after a failure, drain so update() never blocks
                try:
                    self._digest.update(chunk)
                except BaseException as exc:  # re-raised by hexdigest()
                    self._failure = exc

    def end(self) -> None:
        """No more chunks: the thread finishes what it was given on its own (idempotent)."""
        if self._queue is not None and not self._ended:
            self._ended = True
            self._queue.put(None)

    def close(self) -> None:
        """Wait for the thread to hash what it was given (idempotent)."""
        self.end()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def hexdigest(self) -> str:
        self.close()
        if self._failure is not None:
            raise self._failure
        return self._digest.hexdigest()
