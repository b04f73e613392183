"""Publishing a wheel that arrives as a stream (a download) rather than as a file.

The bytes are written straight into a file in a staging workspace while the
writer hashes them, so nothing is copied twice; the rest is the normal path
of :meth:`Store.publish <wheelcache._store.store.Store.publish>`: validate
(here while the fsync runs, and while the writer finishes its own checks),
make read-only, freshen, rename into place.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Callable

from .._errors import cache_error
from .copying import alongside_fsync

if TYPE_CHECKING:
    from .store import Published, Store

__all__ = ["Settle", "publish_stream"]

_BINARY = getattr(os, "O_BINARY", 0)


Settle = Callable[[], tuple[str, int]]
"""Waits for what a stream's writer was still checking; returns its SHA-256 and size."""


def publish_stream(
    store: Store, filename: str, write: Callable[[int], Settle], *, check_crcs: bool = True
) -> Published:
    """Publish a wheel that *write* streams into a new file in staging.

    ``write(fd)`` writes the wheel to the open file and returns a function
    that settles it: waits for whatever was still being checked when the
    last byte was written (its hash, computed behind the writes), and
    returns its SHA-256 and size, or raises to abandon the publish (then
    nothing is left). The file is validated while it is fsynced, and both
    run while the stream settles, so none of the three waits for another;
    it is then made read-only and renamed into place, as
    :meth:`Store.publish` does. A file that is not a valid wheel is refused
    for what settling finds first, if anything (bytes that are not the
    ones expected explain an invalid wheel). *check_crcs* is passed to
    :func:`~wheelcache._wheels.wheelfile.validate_wheel`: false only where
    settling compares the SHA-256 with one that names bytes validated in
    full where they were first published (docs/design.md §14.2).
    """
    from .._errors import InvalidWheelError
    from .._wheels.names import parse_wheel_name
    from .._wheels.wheelfile import validate_wheel

    info = parse_wheel_name(filename)
    with store.workspace("pull") as workspace:
        stage = workspace / "entry"
        staged = stage / info.filename
        try:
            stage.mkdir()
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o644)
            try:
                settle = write(fd)
                try:
                    alongside_fsync(fd, lambda: validate_wheel(staged, check_crcs=check_crcs))
                except InvalidWheelError:
                    settle()  # raises first if the bytes or their record are wrong
                    raise
                sha256, size = settle()
            finally:
                os.close(fd)
            os.chmod(staged, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        except OSError as exc:
            raise cache_error(staged, "write", exc) from exc
        return store.finish_staged(stage, info, sha256, size)
