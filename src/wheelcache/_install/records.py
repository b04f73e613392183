"""The installed distribution's ``.dist-info`` additions: RECORD, INSTALLER, direct_url.json.

RECORD lists every installed file relative to the directory holding the
``.dist-info`` directory (files in other schemes get ``../`` paths), with its
hash and size, except RECORD itself, as pip and pypa/installer write it;
``pip show -f`` and ``pip uninstall`` read it back. Linked files' hashes come
from the tree's manifest, so nothing is hashed twice.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .._unpacked.manifest import record_hash

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["INSTALLER", "MARKER", "RecordRows", "hashed_row"]

INSTALLER = b"wheelcache\n"
MARKER = "WHEELCACHE"
"""A file in the ``.dist-info`` directory naming the wheel installed (its SHA-256)."""


def hashed_row(path: str, data: bytes) -> tuple[str, str, int]:
    """``(path, hash, size)`` of a file written with *data*."""
    import hashlib  # imports here: an unchanged install writes no RECORD

    return path, record_hash(hashlib.sha256(data).digest()), len(data)


class RecordRows:
    """The rows of a RECORD being assembled, paths made relative to *root*."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.rows: list[tuple[str, str, str]] = []
        self._prefix = os.path.join(root, "")

    def relative(self, path: str) -> str:
        """*path* relative to the root, ``/``-separated, as RECORD writes it."""
        if path.startswith(self._prefix):  # most files: no need for relpath's normalising
            relative = path[len(self._prefix) :]
        else:
            relative = os.path.relpath(path, self.root)
        return relative.replace(os.sep, "/") if os.sep != "/" else relative

    def add(self, path: str, hash_: str, size: int) -> None:
        self.rows.append((self.relative(path), hash_, str(size)))

    def add_all(self, rows: Iterable[tuple[str, str, int]]) -> None:
        for path, hash_, size in rows:
            self.add(path, hash_, size)

    def encode(self, record_path: str) -> bytes:
        """The RECORD file, ending with its own row (no hash, no size)."""
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=",", quotechar='"', lineterminator="\n")
        writer.writerows(self.rows)
        writer.writerow((self.relative(record_path), "", ""))
        return buffer.getvalue().encode("utf-8")
