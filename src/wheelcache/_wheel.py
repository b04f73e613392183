"""CachedWheel: what a lookup hands out."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from packaging.tags import Tag
    from packaging.utils import NormalizedName
    from packaging.version import Version

    from ._wheels.names import WheelInfo

__all__ = ["OPEN_RETRY_SECONDS", "CachedWheel"]

OPEN_RETRY_SECONDS = 0.1
"""How long :meth:`CachedWheel.open` retries a missing file: the restore
window (a prune putting back an entry it had just moved to the trash) lasts
the microseconds between two renames, longer only if prune is descheduled."""


class CachedWheel:
    """A wheel stored in the cache.

    ``path`` stays readable for at least the garbage-collection grace period
    after the call that returned it (``clean()`` excepted). The file is
    read-only: install from it or copy it, never modify it. Name, version and
    tags are parsed from the file name on first use.
    """

    __slots__ = ("_location", "_path", "sha256", "size")

    def __init__(self, path: Path | str, sha256: str, size: int) -> None:
        # A lookup hands over a string; the Path is made on first use, since
        # making it costs as much as the rest of a cache hit.
        self._location = os.fspath(path)
        self._path: Path | None = path if isinstance(path, Path) else None
        self.sha256 = sha256
        """Hex SHA-256 of the wheel's bytes; also the entry directory's name."""
        self.size = size
        """Size in bytes."""

    @property
    def path(self) -> Path:
        """The ``.whl`` file inside its entry directory."""
        if self._path is None:
            self._path = Path(self._location)
        return self._path

    def open(self, *, retry_seconds: float = OPEN_RETRY_SECONDS) -> BinaryIO:
        """Open the wheel for reading (binary), riding through prune's restore window.

        A prune that moved the entry to the trash just as another process
        freshened it puts it straight back; between the two renames the path
        is missing (docs/design.md, section 6.3). This retries
        ``FileNotFoundError`` for up to *retry_seconds*, then raises it. An
        open file stays readable whatever prune does later.
        """
        deadline = time.monotonic() + retry_seconds
        delay = 0.001
        while True:
            try:
                return open(self._location, "rb")
            except FileNotFoundError:
                if time.monotonic() >= deadline:
                    raise
            _pause(delay)
            delay = min(delay * 2, 0.02)

    @property
    def filename(self) -> str:
        """The wheel's original file name."""
        return os.path.basename(self._location)

    def _info(self) -> WheelInfo:
        from ._wheels.names import parse_wheel_name

        return parse_wheel_name(self.filename)

    @property
    def name(self) -> NormalizedName:
        """The project name, normalised."""
        return self._info().name

    @property
    def version(self) -> Version:
        """The project version."""
        return self._info().version

    @property
    def tags(self) -> frozenset[Tag]:
        """Every tag the wheel's file name declares."""
        return self._info().tags

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CachedWheel):
            return NotImplemented
        return (self.sha256, self._location) == (other.sha256, other._location)

    def __hash__(self) -> int:
        return hash((self.sha256, self._location))

    def __repr__(self) -> str:
        return f"CachedWheel(path={self._location!r}, sha256={self.sha256!r}, size={self.size})"


def _pause(seconds: float) -> None:
    """Wait between two attempts of :meth:`CachedWheel.open` (a seam for tests)."""
    time.sleep(seconds)
