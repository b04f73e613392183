"""Arrange and inspect the files a cache keeps: their age, their digest, damage to their bytes.

Ages are set with ``os.utime`` (never by sleeping), so a test of what garbage
collection keeps can use margins of minutes or hours and still run at once.
Import it as ``from ondisk import age``; pytest's default import mode puts
``tests/`` on ``sys.path``.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["DAY", "HOUR", "age", "flip_a_byte", "sha256_of"]

HOUR = 3600.0
DAY = 24 * HOUR


def age(path: Path, seconds: float) -> None:
    """Make *path* look last modified *seconds* ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip_a_byte(path: Path) -> None:
    """Invert the middle byte of a (read-only) cached file, leaving it read-only again."""
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.chmod(path, 0o444)
