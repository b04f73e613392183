"""A tmpfs mounted for one test: a small disk to fill, or a second filesystem.

Mounting needs root (or CAP_SYS_ADMIN); where it is not permitted the test is
skipped with the reason, a capability checked at run time.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["tmpfs"]


@contextlib.contextmanager
def tmpfs(mountpoint: Path, options: str, purpose: str) -> Iterator[Path]:
    """Mount a tmpfs with *options* at *mountpoint* (created); unmount it whatever happens."""
    mountpoint.mkdir()
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip(f"no mount/umount commands: cannot {purpose}")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(
            f"cannot {purpose}: mounting a tmpfs is not permitted here"
            f" ({mounted.stderr.strip() or mounted.returncode})"
        )
    try:
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, check=False)
