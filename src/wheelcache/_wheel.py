"""CachedWheel: what a lookup hands out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.tags import Tag
    from packaging.utils import NormalizedName
    from packaging.version import Version

    from ._wheels.names import WheelInfo

__all__ = ["CachedWheel"]


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
