"""Changing permissions without following links (``wheelcache._fs.nofollow``)."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from wheelcache._fs.nofollow import allow_owner_write

if TYPE_CHECKING:
    from pathlib import Path


def test_allowing_owner_write_keeps_group_write_and_set_group_id(tmp_path: Path) -> None:
    """A shared cache's directory (group-writable, setgid) stays shared once made movable."""
    directory = tmp_path / "entry"
    directory.mkdir()
    os.chmod(directory, 0o2575)

    assert allow_owner_write(directory)

    assert stat.S_IMODE(os.lstat(directory).st_mode) == 0o2775


def test_allowing_owner_write_never_changes_a_links_target(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    os.chmod(target, 0o555)
    link = tmp_path / "link"
    link.symlink_to(target)

    assert not allow_owner_write(link)

    assert stat.S_IMODE(os.lstat(target).st_mode) == 0o555
