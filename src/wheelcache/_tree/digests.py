"""The content digests of one walk of a tree: remembered by the stat cache, or read.

:class:`Digests` is what :func:`wheelcache._tree.fingerprint.fingerprint_tree`
asks for a file's digest when the hot path of its walk could not take it from
the stat cache: it reads the file, and remembers the digest only if the file
was settled when read, under the stat data of the open file (see
docs/design.md, section 8.2, for why that can never lend an old digest to
new bytes). :func:`read_digest` is the one place a file's bytes are read.
"""

from __future__ import annotations

import errno
import os
from stat import S_IFMT, S_ISREG, S_IXUSR

from .._fs.hashing import sha256
from .statcache import MAX_ENTRIES, entry_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .statcache import Remembered

__all__ = ["Digests", "errno_name", "read_digest", "record_value"]

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO put in a file's place must not block the walk
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CHUNK = 1 << 20


class Digests:
    """The content digests of one walk: remembered ones reused, the others read."""

    __slots__ = ("racy_from", "read", "remembered", "stored")

    def __init__(self, remembered: Remembered, racy_from: int) -> None:
        self.remembered = remembered
        self.racy_from = racy_from
        self.stored = 0  # files read that were settled: new entries
        self.read = 0

    def changed(self, *, whole_tree: bool) -> bool:
        """Tell whether the stat cache is worth writing again.

        When a file was read and can be remembered; or, after a walk of the
        whole tree, when it did not meet every entry in order (files deleted,
        or a narrowed walk wrote them in another order). Entries of files that
        changed since do no harm until then: they are never found again, since
        the stat key of a file that changed is another one.
        """
        return bool(self.stored) or (whole_tree and not self.remembered.consumed())

    def chunks(self, *, whole_tree: bool) -> list[bytes]:
        """Return what to remember: what this walk used or read, and if narrowed, the rest."""
        remembered = self.remembered
        merge = not whole_tree and remembered.entries + self.stored <= MAX_ENTRIES
        return remembered.chunks(merge=merge)

    def of_file(self, path: bytes, rel: bytes, follow: bool) -> tuple[int, bytes] | None:
        """Read the file at path: return its mode and digest (or error), None if it vanished.

        The stat data is taken from the open file before reading it, so it is
        that of the very bytes read, or older: remembered under it, the digest
        can only be found again for a file that has not changed since.
        """
        try:
            fd = os.open(path, _OPEN_FLAGS if follow else _OPEN_FLAGS | _NO_FOLLOW)
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno == errno.ELOOP and not follow:  # replaced by a symlink meanwhile
                return None
            return 0, b"!" + errno_name(error)
        try:
            st = os.fstat(fd)
            if not S_ISREG(st.st_mode):
                return st.st_mode, b""
            self.read += 1
            hexdigest = read_digest(fd, st.st_size)
        except OSError as error:
            return 0, b"!" + errno_name(error)
        finally:
            os.close(fd)
        if st.st_mtime_ns < self.racy_from and st.st_ctime_ns < self.racy_from:
            executable = b"x" if st.st_mode & S_IXUSR else b"-"
            self.remembered.add(entry_key(rel, st), executable + hexdigest + b"\0")
            self.stored += 1
        return st.st_mode, hexdigest

    def of_stat(self, path: bytes, rel: bytes, st: os.stat_result) -> bytes | None:
        """Return the record value of the file at path (stat st), remembered or read."""
        if st.st_mtime_ns < self.racy_from and st.st_ctime_ns < self.racy_from:
            value = self.remembered.lookup(entry_key(rel, st), rel)
            if value is not None:
                return value[:-1]
        else:
            self.remembered.skip(rel)
        found = self.of_file(path, rel, follow=True)
        return None if found is None else record_value(*found)


def record_value(mode: int, hexdigest: bytes) -> bytes:
    """Return what a record says of a file: its executable bit and digest, or its type."""
    if mode and not S_ISREG(mode):
        return b"o%o" % S_IFMT(mode)
    return (b"x" if mode & S_IXUSR else b"-") + hexdigest


def read_digest(fd: int, size: int) -> bytes:
    """Return the hex sha256 of the rest of the open file fd, which had *size* bytes."""
    data = os.read(fd, size if 0 < size <= _CHUNK else _CHUNK)
    digest = sha256(data, expected_size=size)
    if len(data) == size:  # all of it (bytes written since will move the ctime)
        return digest.hexdigest().encode()
    while data:
        data = os.read(fd, _CHUNK)
        digest.update(data)
    return digest.hexdigest().encode()


def errno_name(error: OSError) -> bytes:
    """Return a stable name for the errno of error (e.g. ``ENOENT``)."""
    code = error.errno if error.errno is not None else 0
    return errno.errorcode.get(code, str(code)).encode()
