"""Publishing a wheel that arrives as a stream (a download) rather than as a file.

The bytes are written straight into a file in a staging workspace while the
writer hashes them, so nothing is copied twice; the rest is the normal path
of :meth:`Store.publish <wheelcache._store.store.Store.publish>`: validate
(here while the fsync runs), make read-only, freshen, rename into place.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Callable

from .._errors import cache_error
from .copying import alongside_fsync

if TYPE_CHECKING:
    from .store import Published, Store

__all__ = ["publish_stream"]

_BINARY = getattr(os, "O_BINARY", 0)


def publish_stream(
    store: Store, filename: str, write: Callable[[int], tuple[str, int]]
) -> Published:
    """Publish a wheel that *write* streams into a new file in staging.

    ``write(fd)`` writes the wheel to the open file and returns its SHA-256
    and size, hashed while written; it raises to abandon the publish (then
    nothing is left). The file is then validated while it is fsynced, made
    read-only and renamed into place, as :meth:`Store.publish` does.
    """
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
                sha256, size = write(fd)
                alongside_fsync(fd, lambda: validate_wheel(staged))
            finally:
                os.close(fd)
            os.chmod(staged, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        except OSError as exc:
            raise cache_error(staged, "write", exc) from exc
        return store.finish_staged(stage, info, sha256, size)
