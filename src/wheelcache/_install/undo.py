"""What an install has done so far: the files written and directories made, to undo on failure."""

from __future__ import annotations

import contextlib
import os

__all__ = ["Undo"]


class Undo:
    """What an install has done so far, to be undone if it fails."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.directories: list[str] = []
        self.known_dirs: set[str] = set()

    def make_dirs(self, directory: str) -> None:
        """Make *directory* and its missing parents, remembering the ones made."""
        if directory in self.known_dirs:
            return
        missing = []
        probe = directory
        while not os.path.isdir(probe):
            missing.append(probe)
            parent = os.path.dirname(probe)
            if parent == probe:
                break
            probe = parent
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except FileExistsError:
                continue
            self.directories.append(path)
        self.known_dirs.add(directory)

    def rollback(self) -> None:
        """Remove every file written, then every directory made (if empty)."""
        for path in reversed(self.files):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        for path in reversed(self.directories):
            with contextlib.suppress(OSError):
                os.rmdir(path)
