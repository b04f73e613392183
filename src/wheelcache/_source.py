"""Sources: what a cached wheel was built from, and when it goes stale."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import InvalidSdistFilename, parse_sdist_filename

from ._errors import InvalidSourceError
from ._fsutil import CHUNK_SIZE
from ._layout import source_digest
from ._tree import fingerprint_tree, project_name

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Source"]


@dataclass(frozen=True)
class Source:
    """One source distribution, identified by ``key``.

    ``key`` is any string that identifies the source: a URL, ``"sha256:<hex>"``
    of an sdist, a resolved path. It is hashed to name files and never used as
    a path, so any string is safe (empty, huge, with NUL bytes, slashes or lone
    surrogates). Cached wheels are used only while ``freshness`` (an opaque
    token) is unchanged. ``name`` is the project name when known, for listing.
    """

    key: str
    freshness: str = ""
    name: str | None = None
    digest: str = field(init=False, repr=False, compare=False)
    """Hex digest of the key: names the pointer and lock files."""

    def __post_init__(self) -> None:
        for attribute in ("key", "freshness"):
            if not isinstance(getattr(self, attribute), str):
                raise TypeError(f"Source.{attribute} must be a str")
        if self.name is not None and not isinstance(self.name, str):
            raise TypeError("Source.name must be a str or None")
        object.__setattr__(self, "digest", source_digest(self.key))

    @classmethod
    def from_archive(cls, path: str | os.PathLike[str]) -> Source:
        """The source for an sdist file: keyed by the SHA-256 of its bytes.

        The content is the identity, so such a source never goes stale
        (freshness ``""``). The project name comes from the file name when it
        follows the sdist naming convention.
        """
        archive = Path(path)
        try:
            mode = os.stat(archive).st_mode
        except OSError as exc:
            raise InvalidSourceError(archive, f"cannot read the archive ({exc.strerror})") from None
        if not stat.S_ISREG(mode):
            raise InvalidSourceError(archive, "not a file")
        digest = hashlib.sha256()
        buffer = bytearray(CHUNK_SIZE)
        view = memoryview(buffer)
        try:
            with open(archive, "rb", buffering=0) as handle:
                while count := handle.readinto(buffer):
                    digest.update(view[:count])
        except OSError as exc:
            raise InvalidSourceError(archive, f"cannot read the archive ({exc.strerror})") from None
        try:
            name: str | None = parse_sdist_filename(archive.name)[0]
        except InvalidSdistFilename:
            name = None
        return cls(f"sha256:{digest.hexdigest()}", "", name)

    @classmethod
    def from_tree(
        cls, path: str | os.PathLike[str], cache_keys: Sequence[str] | None = None
    ) -> Source:
        """The source for a local project directory, keyed by its resolved path.

        The default freshness fingerprints every file of the project (path,
        size, modification time, inode, mode), ignoring VCS directories, build
        outputs, virtual environments and caches, so editing, adding, removing
        or renaming any source file makes cached wheels stale. ``cache_keys``
        (paths or globs relative to the tree, such as ``["pyproject.toml",
        "src/**/*.py"]``) narrows the fingerprint to the files they match.
        """
        if isinstance(cache_keys, str):
            raise TypeError("cache_keys must be a sequence of strings, not one string")
        tree = Path(path).resolve()
        freshness = fingerprint_tree(tree, cache_keys)
        return cls(str(tree), freshness, project_name(tree))
