"""The manifest of an unpacked tree: every file of the wheel, described once.

An installer links files from a tree without walking or re-hashing it: the
manifest lists each file with the hash it has in RECORD form
(``sha256=<urlsafe base64>``), its size, whether it is executable, and the
install scheme it belongs to (``purelib`` or ``platlib`` for the wheel's root,
else the ``.data/<scheme>/`` directory it sits in), plus what the wheel says
about itself (its ``.dist-info`` directory, ``Root-Is-Purelib``, its entry
points). It is written as ``manifest.json`` next to the tree's ``files/``.
"""

from __future__ import annotations

import base64
from typing import Any, NamedTuple

from .._pointers.parsing import loads

__all__ = ["MANIFEST_VERSION", "Manifest", "TreeFile", "decode_manifest", "record_hash"]

MANIFEST_VERSION = 1


def record_hash(digest: bytes) -> str:
    """A SHA-256 digest as RECORD writes it: ``sha256=`` and unpadded urlsafe base64."""
    return "sha256=" + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class TreeFile(NamedTuple):
    """One file of a tree: its path in the wheel and what an installer needs to know.

    A named tuple, not a frozen dataclass: a manifest makes hundreds of them,
    and an install reads one, so making them must cost next to nothing.
    """

    path: str
    """The archive path (``/``-separated), which is also its path below ``files/``."""
    hash: str
    """``sha256=...`` as in RECORD."""
    size: int
    executable: bool
    scheme: str
    """``purelib``, ``platlib``, ``scripts``, ``headers`` or ``data``."""
    relative: str
    """The path below the scheme's directory (without ``<name>.data/<scheme>/``)."""


class Manifest(NamedTuple):
    """What an unpacked tree holds (see the module docstring).

    A named tuple too: every install reads one, and :mod:`dataclasses` and
    :mod:`json` would cost a warm ``wheelcache install`` more than that.
    """

    wheel_sha256: str
    name: str
    version: str
    dist_info: str
    root_is_purelib: bool
    files: tuple[TreeFile, ...]
    entry_points: tuple[tuple[str, str, str, str], ...]
    """``(script name, module, attribute, "console" or "gui")`` for each script to generate."""

    @property
    def size(self) -> int:
        """Bytes of all the tree's files."""
        return sum(file.size for file in self.files)

    def encode(self) -> bytes:
        """The manifest as ``manifest.json`` holds it."""
        document = {
            "version": MANIFEST_VERSION,
            "wheel_sha256": self.wheel_sha256,
            "name": self.name,
            "dist_version": self.version,
            "dist_info": self.dist_info,
            "root_is_purelib": self.root_is_purelib,
            "files": [
                [f.path, f.hash, f.size, int(f.executable), f.scheme, f.relative]
                for f in self.files
            ],
            "entry_points": [list(e) for e in self.entry_points],
        }
        import json

        return json.dumps(document, separators=(",", ":")).encode()


def decode_manifest(data: bytes) -> Manifest | None:
    """Parse ``manifest.json``; None when it is damaged or of another version."""
    try:
        document: Any = loads(data)
        if document.get("version") != MANIFEST_VERSION:
            return None
        files = tuple(
            TreeFile(str(p), str(h), int(s), bool(x), str(scheme), str(rel))
            for p, h, s, x, scheme, rel in document["files"]
        )
        entry_points = tuple(
            (str(n), str(m), str(a), str(k)) for n, m, a, k in document["entry_points"]
        )
        return Manifest(
            wheel_sha256=str(document["wheel_sha256"]),
            name=str(document["name"]),
            version=str(document["dist_version"]),
            dist_info=str(document["dist_info"]),
            root_is_purelib=bool(document["root_is_purelib"]),
            files=files,
            entry_points=entry_points,
        )
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
