"""Sources: what a cached wheel was built from, and when it goes stale."""

from __future__ import annotations

import os
import stat

from ._errors import InvalidSourceError
from ._fs.hashing import file_sha256
from ._paths import source_digest

TYPE_CHECKING = False  # no typing or pathlib at run time: the warm path imports this module
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import Any, Protocol

    class _HasRoot(Protocol):
        """What ``from_tree`` needs of a :class:`WheelCache`: its root directory."""

        root: Path


__all__ = ["MAX_KEY_LENGTH", "MAX_NAME_LENGTH", "PROJECT_FILES", "SDIST_SUFFIXES", "Source"]

SDIST_SUFFIXES = (".tar.gz", ".zip")
"""What an sdist's file name ends with (compared ignoring case)."""

PROJECT_FILES = ("pyproject.toml", "setup.py")
"""A directory holding one of these is a project."""

MAX_KEY_LENGTH = 16384
"""Most characters a source's ``key`` and ``freshness`` may each have.

Both are stored in the source's pointer (escaped as JSON ASCII: up to 12
bytes a character), which readers read only up to
:data:`~wheelcache._pointers.pointer.MAX_POINTER_BYTES`; bounding them keeps
every pointer ``add()`` writes readable by ``get()``, with room for hundreds
of wheels. A URL, a path or a digest is far shorter."""

MAX_NAME_LENGTH = 1024
"""Most characters a source's ``name`` may have."""


class Source:
    """One source distribution, identified by ``key``; an immutable value.

    ``key`` is any string that identifies the source: a URL, ``"sha256:<hex>"``
    of an sdist, a resolved path. It is hashed to name files and never used as
    a path, so any string of up to :data:`MAX_KEY_LENGTH` characters is safe
    (empty, with NUL bytes, slashes or lone surrogates). Cached wheels are used
    only while ``freshness`` (an opaque token, also up to
    :data:`MAX_KEY_LENGTH` characters) is unchanged. ``name`` is the project
    name when known, and ``filename`` the sdist's file name when added from one,
    for listing (each up to :data:`MAX_NAME_LENGTH`). A longer
    string raises :class:`~wheelcache.InvalidSourceError` stating the limit.

    ``remote_key`` and ``remote_freshness``, given together, are what the
    remote tier knows the source by instead of ``key`` and ``freshness``
    (``from_tree`` sets them: a path is a place on one machine); they are
    derived, so not part of equality. docs/design.md, section 14.2.
    """

    # A plain class rather than a frozen dataclass: importing dataclasses
    # (and inspect, which it imports) would cost more than a cache hit.
    __slots__ = ("digest", "filename", "freshness", "key", "name", "remote_freshness", "remote_key")

    key: str
    freshness: str
    name: str | None
    filename: str | None
    digest: str
    """Hex digest of the key: names the pointer and lock files."""
    remote_key: str | None
    remote_freshness: str | None

    def __init__(
        self,
        key: str,
        freshness: str = "",
        name: str | None = None,
        filename: str | None = None,
        *,
        remote_key: str | None = None,
        remote_freshness: str | None = None,
    ) -> None:
        if not isinstance(key, str):
            raise TypeError("Source.key must be a str")
        if not isinstance(freshness, str):
            raise TypeError("Source.freshness must be a str")
        if name is not None and not isinstance(name, str):
            raise TypeError("Source.name must be a str or None")
        if len(key) > MAX_KEY_LENGTH or len(freshness) > MAX_KEY_LENGTH:
            field, value = ("key", key) if len(key) > MAX_KEY_LENGTH else ("freshness", freshness)
            raise _too_long(field, value, MAX_KEY_LENGTH)
        if name is not None and len(name) > MAX_NAME_LENGTH:
            raise _too_long("name", name, MAX_NAME_LENGTH)
        if filename is not None and not isinstance(filename, str):
            raise TypeError("Source.filename must be a str or None")
        if filename is not None and len(filename) > MAX_NAME_LENGTH:
            raise _too_long("filename", filename, MAX_NAME_LENGTH)
        if (remote_key is None) != (remote_freshness is None):
            raise TypeError(
                "Source.remote_key and remote_freshness are given together or not at all"
            )
        for remote_field, remote_value in (
            ("remote_key", remote_key),
            ("remote_freshness", remote_freshness),
        ):
            if remote_value is not None and not isinstance(remote_value, str):
                raise TypeError(f"Source.{remote_field} must be a str or None")
            if remote_value is not None and len(remote_value) > MAX_KEY_LENGTH:
                raise _too_long(remote_field, remote_value, MAX_KEY_LENGTH)
        set_attribute = object.__setattr__
        set_attribute(self, "key", key)
        set_attribute(self, "freshness", freshness)
        set_attribute(self, "name", name)
        set_attribute(self, "filename", filename)
        set_attribute(self, "digest", source_digest(key))
        set_attribute(self, "remote_key", remote_key)
        set_attribute(self, "remote_freshness", remote_freshness)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Source is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Source is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Source):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        text = f"Source(key={self.key!r}, freshness={self.freshness!r}, name={self.name!r}"
        return text + (f", filename={self.filename!r})" if self.filename is not None else ")")

    def __reduce__(self) -> tuple[Any, ...]:
        remote = {"remote_key": self.remote_key, "remote_freshness": self.remote_freshness}
        return (_rebuild, (self._fields(), remote))

    def _fields(self) -> tuple[str, str, str | None, str | None]:
        return (self.key, self.freshness, self.name, self.filename)

    @classmethod
    def from_archive(cls, path: str | os.PathLike[str]) -> Source:
        """The source for an sdist file: keyed by the SHA-256 of its bytes.

        The content is the identity, so such a source never goes stale
        (freshness ``""``). The project name comes from the file name when it
        follows the sdist naming convention; the file name is kept for listing.
        """
        from pathlib import Path

        archive = Path(path)
        try:
            mode = os.stat(archive).st_mode
        except OSError as exc:
            raise InvalidSourceError(archive, f"cannot read the archive ({exc.strerror})") from None
        if not stat.S_ISREG(mode):
            raise InvalidSourceError(archive, "not a file")
        try:
            digest = file_sha256(archive)
        except OSError as exc:
            raise InvalidSourceError(archive, f"cannot read the archive ({exc.strerror})") from None
        from packaging.utils import InvalidSdistFilename, parse_sdist_filename

        try:
            name: str | None = parse_sdist_filename(archive.name)[0]
        except InvalidSdistFilename:
            name = None
        return cls(f"sha256:{digest}", "", name, archive.name)

    @classmethod
    def from_tree(
        cls,
        path: str | os.PathLike[str],
        cache_keys: Sequence[str] | None = None,
        *,
        cache: _HasRoot | str | os.PathLike[str] | None = None,
    ) -> Source:
        """The source for a local project directory, keyed by its resolved path.

        The freshness is a fingerprint of the project's content: the relative
        path, type, executable bit and bytes of every file (and the target of
        every symlink), ignoring VCS directories, build outputs, virtual
        environments and caches. Editing, adding, removing, renaming or
        ``chmod +x``-ing any source file makes cached wheels stale; an
        unchanged tree keeps its freshness, and equal trees have equal
        freshness wherever they are. ``cache_keys`` (paths or globs relative
        to the tree, such as ``["pyproject.toml", "src/**/*.py"]``) narrows the
        fingerprint to the files they match.

        Files are read only when their stat data changed since the last call:
        a stat cache remembers the others' digests. It lives in the cache
        directory ``cache`` names (a :class:`WheelCache` or its root; by
        default ``$WHEELCACHE_DIR``, else the user cache directory, as for
        ``WheelCache()``), never in the project, and only ever makes this
        faster: if it cannot be read or written, the freshness is the same.

        Given a :class:`WheelCache` with a remote, the source also gets its
        portable identity (``remote_key``, ``remote_freshness``): the project's
        name and place in its git checkout, and its files' git blob ids, so
        that a checkout of the same commit on another machine finds the wheels
        built here (docs/design.md, section 14.2).
        """
        if isinstance(cache_keys, str):
            raise TypeError("cache_keys must be a sequence of strings, not one string")
        from pathlib import Path

        from ._layout import Layout, default_root
        from ._tree.fingerprint import fingerprint_tree
        from ._tree.project import project_name
        from ._tree.statcache import StatCache

        if cache is None:
            root = default_root()
        elif isinstance(cache, (str, os.PathLike)):
            root = Path(cache).expanduser()
        else:  # a WheelCache (not imported here: it imports this module)
            root = Path(cache.root)
        tree = Path(path).resolve()
        portable = None
        if getattr(cache, "_remote", None) is not None:
            from ._tree.portable import PortableIdentity

            if tree.is_dir():
                portable = PortableIdentity(tree, cache_keys, project_name(tree))  # git starts
        freshness = fingerprint_tree(tree, cache_keys, StatCache(Layout(root)))
        if portable is None:
            return cls(str(tree), freshness, project_name(tree))
        remote = portable.result(freshness)
        key, fresh = remote if remote is not None else (None, None)
        return cls(str(tree), freshness, portable.name, remote_key=key, remote_freshness=fresh)


def _rebuild(fields: tuple[str, str, str | None, str | None], remote: dict[str, Any]) -> Source:
    """Unpickle a :class:`Source` (its remote identity is keyword-only)."""
    return Source(*fields, **remote)


def _too_long(field: str, value: str, limit: int) -> InvalidSourceError:
    return InvalidSourceError(
        f"Source.{field}",
        f"{len(value)} characters long; the limit is {limit} characters"
        " (the key and freshness are stored in the source's pointer, which must stay readable)",
    )
