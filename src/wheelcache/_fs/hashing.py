"""SHA-256 without loading OpenSSL for a few small inputs.

:mod:`hashlib` loads OpenSSL's libcrypto, which costs a warm ``wheelcache
build`` more than the hashing it does (a source key, a small sdist). CPython
also has its own SHA-256 module (``_sha256``, ``_sha2`` since 3.12): slower
per byte, free to load. :func:`sha256` uses it for inputs under
:data:`SMALL` bytes while :mod:`hashlib` is not loaded yet; once it is, or
for anything larger, or where the interpreter lacks the module, it is
:func:`hashlib.sha256`. Both give the same digests.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from hashlib import _Hash

__all__ = ["SMALL", "file_sha256", "sha256"]

SMALL = 1 << 20
"""Inputs of at least this many bytes are hashed by OpenSSL: faster per byte."""

CHUNK_SIZE = 1 << 20
"""Bytes per read/write when hashing or copying files: large enough to amortise syscalls."""


def _builtin_sha256() -> Callable[[bytes], _Hash] | None:
    """CPython's own SHA-256 constructor, or None where this interpreter has none."""
    for name in ("_sha2", "_sha256"):  # 3.12 and later; up to 3.11
        try:
            constructor: Callable[[bytes], _Hash] = __import__(name).sha256
        except (ImportError, AttributeError):
            continue
        return constructor
    return None  # pragma: no cover - depends on the interpreter


_builtin = _builtin_sha256()


def sha256(data: bytes = b"", *, expected_size: int = 0) -> _Hash:
    """A new SHA-256 hash of *data*; *expected_size*: how many bytes it will be given in all."""
    small = max(len(data), expected_size) < SMALL
    if small and _builtin is not None and "hashlib" not in sys.modules:
        return _builtin(data)
    import hashlib

    return hashlib.sha256(data)


def file_sha256(
    path: str | os.PathLike[str], *, follow: bool = True, dir_fd: int | None = None
) -> str:
    """Hex SHA-256 of a file's bytes, read in :data:`CHUNK_SIZE` pieces into one buffer.

    Without *follow*, a link at *path* is not followed (``OSError``, ELOOP):
    what the cache hashes of its own is never outside it. With *dir_fd*,
    *path* is relative to that open directory.
    """
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | (0 if follow else _NO_FOLLOW)
    with open(os.open(path, flags, dir_fd=dir_fd), "rb", buffering=0) as handle:
        digest = sha256(expected_size=os.fstat(handle.fileno()).st_size)
        buffer = bytearray(CHUNK_SIZE)
        view = memoryview(buffer)
        while count := handle.readinto(buffer):
            digest.update(view[:count])
    return digest.hexdigest()


_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
