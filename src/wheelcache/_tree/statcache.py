r"""The stat cache: content digests of a tree's files, remembered by their stat data.

Hashing every file of a project on every
:func:`~wheelcache._tree.fingerprint.fingerprint_tree` would cost far more than
walking it, so, like git's index, each tree has a stat cache: for each file,
its stat data (size, ``mtime_ns``, ``ctime_ns``, inode, device, mode), its
executable bit and the SHA-256 of its bytes. A file whose stat data is
unchanged and settled (older than the racy window) is not read again.

It is an accelerator only. Whatever this module cannot read -- a missing,
truncated, corrupt or foreign file -- is an empty table, and a file it cannot
write is left as it was; the fingerprint is the same either way, just slower.

One file per tree, ``<cache root>/statcache-v1/<bb>/<digest>.stat``, named by
the tree's source key digest (:func:`wheelcache._paths.source_digest` of its
resolved path). The format::

    wheelcache-statcache-v1\n
    <tree path>\0<count>\0
    <relative path>//<stat key>\0<x or -><hex sha256>\0     count times
    <CRC-32 of everything above, 8 hex digits>

The stat key is ``size:mtime_ns:ctime_ns:inode:device:mode`` in hexadecimal;
``//`` never occurs in a relative path, so the path and stat key together
(:func:`entry_key`, which keeps the ``\0`` that ends it) are one key. The value
is what the fingerprint records for the file: ``x`` or ``-`` for its
executable bit, then its digest, :data:`VALUE_LENGTH` bytes with the ``\0``.
Entries are written in the order of the walk, so the next walk of an unchanged
tree finds each one right after the one before (:meth:`Remembered.lookup`)
and parses nothing; only a walk that meets a change builds a dictionary of them.

The file is written whole to a temp file and renamed over the old one
(:meth:`StatCache.save`), so concurrent writers never interleave: the last
rename wins, and every version is complete. It is not fsynced: a crash can
leave a damaged file, which the checksum rejects.
"""

from __future__ import annotations

import os
import zlib

from .._errors import CacheError
from .._fs.nofollow import O_NOFOLLOW, refuse_links
from .._log import get_logger
from .._paths import source_digest, unique_token

TYPE_CHECKING = False  # no typing, logging or pathlib at run time: the warm path loads this
if TYPE_CHECKING:
    from pathlib import Path

    from .._layout import Layout
    from .._paths import Paths

__all__ = [
    "MAGIC",
    "MAX_ENTRIES",
    "VALUE_LENGTH",
    "Remembered",
    "StatCache",
    "entry_key",
    "read_tree_path",
    "serialize",
]

logger = get_logger()

MAGIC = b"wheelcache-statcache-v1\n"

MAX_ENTRIES = 500_000
"""The most entries one stat cache holds; a bigger tree is fingerprinted without one."""

VALUE_LENGTH = 66
r"""Length of a remembered value: executable bit, hex SHA-256, and the ``\0`` after them."""

_CHECKSUM_LENGTH = 8
_MAX_HEADER = 1 << 16  # longer than any path


def entry_key(rel: bytes, st: os.stat_result) -> bytes:
    """Return the key a file's digest is remembered by: its relative path and stat data."""
    fields = (rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_mode)
    return b"%b//%x:%x:%x:%x:%x:%x\0" % fields


class Remembered:
    """The entries of one stat cache, met in walk order, and what to remember next time.

    The walk asks for each file's entry in turn. While the tree is unchanged,
    each is right after the one before: a *run* of entries to keep, which is
    copied as it is into the next version (:meth:`chunks`). What breaks a run
    -- a file that changed, an entry out of order, a file read anew -- ends it.
    """

    __slots__ = (
        "_body",
        "_new",
        "_run_start",
        "_table",
        "chunks_kept",
        "data",
        "end",
        "entries",
        "out_of_order",
        "position",
    )

    def __init__(
        self, data: bytes = b"", position: int = 0, entries: int = 0, end: int = 0
    ) -> None:
        self.data = data  # may go on after the entries: they end at self.end
        self.end = end
        self.position = position  # where the entry the walk should meet next starts
        self.entries = entries
        self.out_of_order = False  # whether a lookup had to search
        self.chunks_kept: list[bytes] = []  # keys and values to keep, in walk order
        self._body = self._run_start = position
        self._new: list[bytes] = []
        self._table: dict[bytes, bytes] | None = None

    def lookup(self, key: bytes, rel: bytes) -> bytes | None:
        """Return the value of *key* (a file at *rel*), or None if it is not remembered.

        The next entry in order is tried first (the walk does that much
        inline); if it is *rel*'s with other stat data, the file changed: its
        entry is passed over and there is nothing to find. Otherwise the entry
        is searched for in a table of all of them, built on first use.
        """
        data, position = self.data, self.position
        if data.startswith(key, position):
            start = position + len(key)
            self.position = start + VALUE_LENGTH
            return data[start : self.position]
        if self.skip(rel) or not self.entries:
            return None
        self.out_of_order = True
        table = self._table
        if table is None:
            table = self._table = self.table()
        value = table.get(key)
        if value is not None:
            self._end_run()
            self.chunks_kept += (key, value)
        return value

    def skip(self, rel: bytes) -> bool:
        """Pass over the next entry if it is *rel*'s (a file that changed); tell if it was."""
        data, position = self.data, self.position
        if not data.startswith(rel + b"//", position):
            return False
        self._end_run()
        key_end = data.find(b"\0", position, self.end)
        self.position = self._run_start = self.end if key_end < 0 else key_end + 1 + VALUE_LENGTH
        return True

    def add(self, key: bytes, value: bytes) -> None:
        r"""Remember a digest just read (*key* and *value* each end with ``\0``)."""
        self._end_run()
        self.chunks_kept += (key, value)
        self._new += (key, value)

    def chunks(self, *, merge: bool) -> list[bytes]:
        """Return the entries to write: those met and added, or (*merge*) all, updated.

        Either way there is at most one entry per relative path, which is why
        :meth:`lookup` need not search further once it passed over a path's
        entry.
        """
        self._end_run()
        if not merge:
            return self.chunks_kept
        renewed = {key.split(b"//", 1)[0] for key in self._new[0::2]}
        table = {
            key: value
            for key, value in self.table().items()
            if key.split(b"//", 1)[0] not in renewed
        }
        table.update(zip(self._new[0::2], self._new[1::2]))
        return [field for item in table.items() for field in item]

    def consumed(self) -> bool:
        """Tell whether the walk met every entry, in order."""
        return not self.out_of_order and self.position == self.end

    def table(self) -> dict[bytes, bytes]:
        r"""Return every entry: key (with its ``\0``) -> value (with its ``\0``)."""
        if not self.entries:
            return {}
        split = self.data[self._body : self.end - 1].split(b"\0")
        return dict(zip([key + b"\0" for key in split[0::2]], [v + b"\0" for v in split[1::2]]))

    def _end_run(self) -> None:
        if self.position > self._run_start:
            self.chunks_kept.append(self.data[self._run_start : self.position])
        self._run_start = self.position


class StatCache:
    """The stat caches of one wheelcache root (created on first write)."""

    __slots__ = ("_paths",)

    def __init__(self, paths: Paths) -> None:
        self._paths = paths  # a Layout, or (the warm path) the bare strings of one

    def __repr__(self) -> str:
        return f"StatCache({str(_layout(self._paths).statcache)!r})"

    def file_for(self, tree: bytes) -> Path:
        """The stat cache file of the tree at *tree* (an absolute, resolved path)."""
        return _layout(self._paths).stat_cache_file(source_digest(os.fsdecode(tree)))

    def load(self, tree: bytes) -> Remembered:
        """Return the remembered digests of *tree*; none if there is no sound stat cache."""
        path = self._paths.stat_cache_file_str(source_digest(os.fsdecode(tree)))
        try:  # a link below the cache root is damage, never followed (_fs.nofollow)
            fd = os.open(path, os.O_RDONLY | O_NOFOLLOW | getattr(os, "O_BINARY", 0))
            with open(fd, "rb") as file:
                data = file.read()
        except OSError as error:
            if not isinstance(error, FileNotFoundError):
                logger.debug("cannot read the stat cache %s: %s", path, error)
            return Remembered()
        remembered = parse(data, tree)
        if remembered is None:
            logger.debug("ignoring a damaged or foreign stat cache: %s", path)
            return Remembered()
        return remembered

    def save(self, tree: bytes, chunks: list[bytes]) -> None:
        """Replace the stat cache of *tree* by the entries in *chunks*, joined.

        Failing only logs (at debug level): the stat cache is an accelerator.
        """
        layout = _layout(self._paths)
        path = self.file_for(tree)
        body = b"".join(chunks)
        count = body.count(b"\0") // 2
        if count > MAX_ENTRIES:
            logger.debug("not writing a stat cache of %d entries: %s", count, path)
            return
        temp = path.with_name(f".{path.name}.{unique_token()}.tmp")
        try:
            if not path.parent.is_dir():
                layout.ensure_root()
            refuse_links(layout.root, path)  # nothing below the root is followed
            os.makedirs(path.parent, exist_ok=True)
            with open(temp, "xb") as file:
                file.writelines(serialize(tree, body, count))
            os.replace(temp, path)
        except (OSError, CacheError) as error:
            logger.debug("cannot write the stat cache %s: %s", path, error)
            import contextlib

            with contextlib.suppress(OSError):
                os.unlink(temp)


def _layout(paths: Paths) -> Layout:
    """*paths* as a full :class:`~wheelcache._layout.Layout` (the warm path gives bare strings)."""
    from .._layout import Layout

    if isinstance(paths, Layout):
        return paths
    from pathlib import Path

    return Layout(Path(paths.root_str))


def serialize(tree: bytes, body: bytes, count: int) -> list[bytes]:
    """Return the parts of a stat cache file for *tree* holding *count* entries, *body*."""
    header = b"%b%b\0%d\0" % (MAGIC, tree, count)
    return [header, body, b"%08x" % zlib.crc32(body, zlib.crc32(header))]


def parse(data: bytes, tree: bytes | None) -> Remembered | None:
    """Return the entries in *data*, or None if it is damaged or (given *tree*) another tree's."""
    end = len(data) - _CHECKSUM_LENGTH
    if end < len(MAGIC) or not data.startswith(MAGIC):
        return None
    if data[end:] != b"%08x" % zlib.crc32(memoryview(data)[:end]):
        return None
    path_end = data.find(b"\0", len(MAGIC), end)
    count_end = data.find(b"\0", path_end + 1, end)
    if path_end < 0 or count_end < 0 or (tree is not None and data[len(MAGIC) : path_end] != tree):
        return None
    count = data[path_end + 1 : count_end]
    if not count.isdigit():
        return None
    return Remembered(data, count_end + 1, int(count), end)


def read_tree_path(path: Path) -> bytes | None:
    """Return the tree a stat cache file names in its header, or None if it has none.

    Only the header is read (the rest may be large): a file damaged further on
    is ignored by :meth:`StatCache.load` and replaced by the next walk.
    """
    try:
        with open(path, "rb") as file:
            head = file.read(len(MAGIC) + _MAX_HEADER)
    except OSError:
        return None
    end = head.find(b"\0", len(MAGIC))
    return head[len(MAGIC) : end] if head.startswith(MAGIC) and end > len(MAGIC) else None
