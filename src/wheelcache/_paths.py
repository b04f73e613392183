"""The cache's file names as strings: what a lookup needs, without :mod:`pathlib`.

:class:`Paths` knows the root and the names a hit reads (a source's pointer,
an entry's wheel, a tree's stat cache) as plain strings; :class:`~wheelcache._layout.Layout`
extends it with every other place, as :class:`pathlib.Path` objects. A warm
``wheelcache build`` uses only this module (:mod:`wheelcache._cli.warm`):
importing :mod:`pathlib` would cost it more than the lookup itself.
"""

from __future__ import annotations

import os

from ._fs.hashing import sha256

__all__ = ["LAYOUT_VERSION", "Paths", "is_digest", "source_digest", "unique_token"]

LAYOUT_VERSION = 1

_SOURCE_DIGEST_PREFIX = b"wheelcache-source-key-v1\0"

_HEX = frozenset("0123456789abcdef")


def source_digest(key: str) -> str:
    """Return the hex digest that names a source's pointer and lock files.

    Any string is accepted: lone surrogates are encoded with ``surrogatepass``
    so that every distinct key has a distinct digest.
    """
    data = key.encode("utf-8", "surrogatepass")
    return sha256(_SOURCE_DIGEST_PREFIX + data).hexdigest()


def unique_token() -> str:
    """A name no other process will choose: the pid plus random bits."""
    return f"{os.getpid()}-{os.urandom(8).hex()}"


def is_digest(text: str) -> bool:
    """True for a SHA-256 hex digest, the name of an entry and of a source's files."""
    return len(text) == 64 and set(text) <= _HEX


class Paths:
    """The names a lookup reads below one root (an absolute path), as strings."""

    __slots__ = ("_pointers_prefix", "_statcache_prefix", "_wheels_prefix", "root_str")

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root_str = os.fspath(root)
        base = self.root_str.rstrip(os.sep) + os.sep  # "/" is "/", not "//"
        self._wheels_prefix = f"{base}wheels-v{LAYOUT_VERSION}{os.sep}"
        self._pointers_prefix = f"{base}sources-v{LAYOUT_VERSION}{os.sep}"
        self._statcache_prefix = f"{base}statcache-v{LAYOUT_VERSION}{os.sep}"

    def entry_file_str(self, sha256: str, filename: str) -> str:
        """The wheel file of the entry whose wheel has this SHA-256."""
        return f"{self._wheels_prefix}{sha256[:2]}{os.sep}{sha256}{os.sep}{filename}"

    def pointer_file_str(self, digest: str) -> str:
        """The pointer file of the source whose key has this digest."""
        return f"{self._pointers_prefix}{digest[:2]}{os.sep}{digest}.json"

    def stat_cache_file_str(self, digest: str) -> str:
        """The stat cache of the tree source whose key has this digest."""
        return f"{self._statcache_prefix}{digest[:2]}{os.sep}{digest}.stat"
