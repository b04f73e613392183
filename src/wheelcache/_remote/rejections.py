"""The log of remote objects a pull refused: ``remote-v1/rejected.log`` below the cache root.

One line per refusal (time, object key, problem), appended with ``O_APPEND``
so concurrent writers never interleave within a line; ``info`` counts the
lines. The log is diagnostics, never read back by a lookup.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["count_rejections", "log_rejection", "rejections_file"]

logger = logging.getLogger("wheelcache.remote")


def rejections_file(root: Path) -> Path:
    """Where the refusals of the cache at *root* are logged."""
    return root / "remote-v1" / "rejected.log"


def log_rejection(root: Path, object_key: str, problem: str) -> None:
    """Report and log one refused remote object."""
    logger.warning("rejected remote object %s: %s", object_key, problem)
    line = json.dumps({"time": time.time(), "object": object_key, "problem": problem}) + "\n"
    path = rejections_file(root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError:
        logger.debug("could not log the rejection in %s", path, exc_info=True)


def count_rejections(root: Path) -> int:
    """How many remote objects pulls into the cache at *root* have refused."""
    try:
        with open(rejections_file(root), "rb") as log:
            return sum(1 for _ in log)
    except OSError:
        return 0
