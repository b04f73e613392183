"""Freshness of a local project directory: a fingerprint of its source tree's content.

A wheel built from a project directory is reused only while the token of
:func:`fingerprint_tree` is unchanged, so *any* edit, addition, removal or
rename of a source file must change it (a needless change costs a rebuild; a
missed one serves a stale wheel). And it depends on content only: an unchanged
tree keeps its token for ever, and equal trees have equal tokens anywhere.

What is hashed, per entry (walked with :func:`os.scandir`, children sorted by
their name as bytes, relative paths ``/``-separated and kept as bytes so names
that are not valid UTF-8 work):

* the relative path and the entry type, so that adding, removing or renaming
  anything -- or turning a file into a symlink -- changes the token;
* for a regular file, the SHA-256 of its bytes and its executable bit
  (``S_IXUSR``, as git records it: an executable bit can change what a build
  does, while the other permission bits depend on the umask);
* for a symlink, its target string and what it resolves to: a file's digest
  and executable bit; a directory's sorted names (symlinked directories are
  *not* walked, so edits inside one are not seen -- a documented limit); the
  error of a dangling or looping link. A symlink to a directory named like
  an ignored directory (``.venv``) is skipped like the directory;
* for a directory, its relative path: an *empty* directory counts (it can
  matter to a build, and a needless rebuild is the safe side);
* for anything else (a FIFO, a socket, a device), its path and file type;
* for a file that cannot be read, its error name: a build will say more.

Reading every file is what makes a token portable; the stat cache
(:mod:`wheelcache._tree.statcache`) keeps it fast: a file whose stat key is
exactly the one remembered and that is settled (both timestamps before
:data:`RACY_WINDOW_NS` before the walk) is only ``lstat``-ed;
:mod:`wheelcache._tree.digests` reads the others. docs/design.md, section 8,
says why no edit can hide behind that, not even a same-size one in one tick.

What is skipped: every directory named in :data:`IGNORED_DIR_NAMES` or ending
in ``.egg-info`` (VCS data, caches, tool environments, metadata), anywhere in
the tree; every directory holding a ``pyvenv.cfg`` (a virtualenv under any
name; the project root itself is always walked); files ending in ``.pyc`` or
``.pyo``. Directories named in :data:`BUILD_OUTPUT_DIR_NAMES` (``build``,
``dist``) are build *outputs* when they sit in the project root or beside a
``pyproject.toml``/``setup.py``/``setup.cfg`` at any depth (a nested project),
and are skipped there, so building into them never changes the token. Anywhere
else they are hashed: packages named ``build`` exist
(``pip/_internal/operations/build``), and ignoring them would serve stale wheels.

Files that vanish during the walk are skipped: the next walk differs anyway. A
directory that cannot be listed raises :class:`InvalidSourceError`: silently
skipping it could hide edits, and a build could not read it either.

With ``cache_keys`` only matching entries count; see :func:`fingerprint_tree`,
and :mod:`wheelcache._tree.cache_keys` for what a key selects.
Keys are matched against the paths of this same walk rather than with
:meth:`pathlib.Path.glob`: so the ignore rules and the error handling (``glob``
silently skips unreadable directories) are the same, and so is the meaning of
``**`` on every supported Python.
The token starts with :data:`TOKEN_PREFIX`; a change of algorithm must bump it.
"""

from __future__ import annotations

import os
import time
from operator import attrgetter

from .._errors import InvalidSourceError
from .._fs.hashing import sha256
from .._log import get_logger
from .digests import Digests, record_value
from .records import slow_record
from .rules import (
    BUILD_OUTPUT_DIR_NAMES,
    IGNORED_DIR_NAMES,
    PROJECT_FILES,
    VENV_MARKER,
    skipped_dir,
    skipped_file,
)
from .statcache import VALUE_LENGTH, Remembered

# No typing, logging, pathlib or hashlib at run time: a warm ``wheelcache build``
# of a project runs this, and importing them would cost it more than the walk.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from .cache_keys import KeyPattern
    from .statcache import StatCache

__all__ = [
    "BUILD_OUTPUT_DIR_NAMES",
    "IGNORED_DIR_NAMES",
    "RACY_WINDOW_NS",
    "TOKEN_PREFIX",
    "fingerprint_tree",
]

logger = get_logger()

TOKEN_PREFIX = "tree-v2:"

#: A file whose mtime or ctime is this recent (before the walk starts) is read
#: on every walk: its digest is neither taken from nor put in the stat cache.
RACY_WINDOW_NS = 3_000_000_000


_by_name = attrgetter("name")
_now_ns: Callable[[], int] = time.time_ns  # replaced by tests to pin racy-ness


def fingerprint_tree(
    root: str | Path, cache_keys: Sequence[str] | None = None, stat_cache: StatCache | None = None
) -> str:
    """Return an opaque freshness token (``"tree-v2:"`` + hex sha256) for the project at root.

    With ``cache_keys`` (paths or globs relative to root, ``*``, ``?``, ``[]``
    within a name and ``**`` for any depth, hidden names included), only
    matching files count, and a key naming a directory covers everything below
    it; the ignore rules still apply. The keys' text is hashed too, so a key
    that matches nothing still counts and a file that starts to match changes
    the token. An empty sequence makes the token depend on nothing but that
    (empty) list. ``stat_cache`` only makes this faster: the token is the same
    without it. Raises :class:`InvalidSourceError` if root is not a directory,
    a key is absolute or climbs out with ``..``, or a directory in the tree
    cannot be listed.
    """
    started = time.perf_counter()
    if not os.path.isdir(root):
        raise InvalidSourceError(_normalized(root), "not a directory")
    head = [TOKEN_PREFIX.encode()]
    if cache_keys is None:
        head.append(b"\0all\0")
        patterns = None
    else:
        if isinstance(cache_keys, str):
            raise TypeError("cache_keys must be a sequence of strings, not a string")
        from pathlib import Path

        from .cache_keys import compile_key

        patterns = [compile_key(Path(root), key) for key in cache_keys]
        head.append(b"\0keys\0%d\0" % len(patterns))
        head.append(b"".join(os.fsencode(key) + b"\0" for key in cache_keys))
    tree = os.fsencode(os.path.realpath(root))
    remembered = stat_cache.load(tree) if stat_cache is not None else Remembered()
    digests = Digests(remembered, _now_ns() - RACY_WINDOW_NS)
    records, entries = _walk(os.fsencode(root), patterns, digests) if patterns != [] else ([], 0)
    digest = sha256(b"".join([*head, *records]))
    if stat_cache is not None and digests.changed(whole_tree=patterns is None):
        stat_cache.save(tree, digests.chunks(whole_tree=patterns is None))
    elapsed = (time.perf_counter() - started) * 1000
    logger.debug(
        "fingerprinted %s: %d entries, %d files read, in %.1f ms",
        root,
        entries,
        digests.read,
        elapsed,
    )
    return TOKEN_PREFIX + digest.hexdigest()


def _walk(
    root: bytes, patterns: list[KeyPattern] | None, digests: Digests
) -> tuple[list[bytes], int]:
    """Return the records of the entries that count, in a deterministic order, and their number.

    A record is one item of the list, or four for a file the hot path took
    from the stat cache (cheaper than formatting them into one): so the number
    of entries is counted, not ``len(records)``, which would depend on what
    the stat cache held.
    """
    records: list[bytes] = []
    remembered_files = 0  # records of four items
    matches = _no_match if patterns is None else _cache_key_matcher()
    remembered, racy_from = digests.remembered, digests.racy_from
    data, position = remembered.data, remembered.position
    # (absolute path, relative path, whether every entry below counts)
    everything = patterns is None or any(not pattern for pattern in patterns)  # "." is a key
    stack: list[tuple[bytes, bytes, bool]] = [(root, b"", everything)]
    while stack:
        path, rel, everything = stack.pop()
        entries = _list_dir(path)
        if entries is None:
            if not rel:
                raise InvalidSourceError(os.fsdecode(root), "not a directory")
            continue
        names = set(map(_by_name, entries))
        if rel and VENV_MARKER in names:
            continue
        if rel and everything:
            records.append(b"d\0%b\0" % rel)
        is_project = not rel or not names.isdisjoint(PROJECT_FILES)
        subdirs: list[tuple[bytes, bytes, bool]] = []
        prefix = rel + b"/" if rel else b""
        for entry in entries:
            name = entry.name
            child = prefix + name
            if entry.is_file(follow_symlinks=False):  # a regular file, not a symlink
                if skipped_file(name) or not (everything or matches(patterns, child, whole=True)):
                    continue
                if not data:  # nothing remembered: read it
                    found = digests.of_file(entry.path, child, follow=False)
                    if found is not None:
                        records.append(b"f\0%b\0%b\0" % (child, record_value(*found)))
                    continue
                try:  # the hot path: an unchanged, settled file is only lstat-ed
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    logger.debug("file vanished during the walk: %s", os.fsdecode(entry.path))
                    continue
                except OSError as error:
                    reason = error.strerror or str(error)
                    raise InvalidSourceError(
                        os.fsdecode(entry.path), f"cannot stat: {reason}"
                    ) from error
                mtime, ctime = st.st_mtime_ns, st.st_ctime_ns
                if mtime < racy_from and ctime < racy_from:
                    key = b"%b//%x:%x:%x:%x:%x:%x\0" % (  # statcache.entry_key, inlined
                        child,
                        st.st_size,
                        mtime,
                        ctime,
                        st.st_ino,
                        st.st_dev,
                        st.st_mode,
                    )
                    if data.startswith(key, position):  # Remembered.lookup's first case
                        start = position + len(key)
                        position = start + VALUE_LENGTH
                        records += (b"f\0", child, b"\0", data[start:position])
                        remembered_files += 1
                        continue
            elif entry.is_dir(follow_symlinks=False):
                if skipped_dir(name, is_project):
                    continue
                below = everything or matches(patterns, child, whole=True)
                if below or matches(patterns, child, whole=False):
                    subdirs.append((entry.path, child, below))
                continue
            else:  # a symlink, or something that is neither a file nor a directory
                if skipped_file(name):
                    continue
                if entry.is_symlink() and skipped_dir(name, is_project) and _links_to_dir(entry):
                    continue  # e.g. a .venv symlink: treated like the directory it stands for
                if not (everything or matches(patterns, child, whole=True)):
                    continue
                st = None
            remembered.position = position  # the position is a local in the hot path
            record = slow_record(entry, child, st, racy_from, digests)
            position = remembered.position
            if record is not None:
                records.append(record)
        stack.extend(reversed(subdirs))
    remembered.position = position
    return records, len(records) - 3 * remembered_files


def _no_match(patterns: list[KeyPattern] | None, rel: bytes, *, whole: bool) -> bool:
    """Never called when every entry counts (no patterns): ``everything`` is True."""
    return False


def _cache_key_matcher() -> Callable[..., bool]:
    from .cache_keys import matches

    return matches


def _normalized(root: str | Path) -> str:
    """*root* as :class:`pathlib.Path` writes it (in messages)."""
    from pathlib import Path

    return str(Path(root))


def _links_to_dir(entry: os.DirEntry[bytes]) -> bool:
    """Tell whether a symlink entry resolves to a directory."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _list_dir(path: bytes) -> list[os.DirEntry[bytes]] | None:
    """Return the entries of path sorted by name, or None if it has vanished."""
    try:
        with os.scandir(path) as iterator:
            entries = list(iterator)
    except (FileNotFoundError, NotADirectoryError):
        logger.debug("directory vanished during the walk: %s", os.fsdecode(path))
        return None
    except OSError as error:
        reason = error.strerror or str(error)
        raise InvalidSourceError(os.fsdecode(path), f"cannot list directory: {reason}") from error
    entries.sort(key=_by_name)
    return entries
