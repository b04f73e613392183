"""Freshness of a local project directory: a fingerprint of its source tree.

A wheel built from a project directory may be reused only while the token
returned by :func:`fingerprint_tree` is unchanged, so the one promise that
matters is: *any* edit, addition, removal or rename of a source file changes
the token. A needless change (a rebuild nobody needed) is acceptable; a missed
change (a stale wheel) is a bug. Every choice below leans that way.

What is hashed, per entry (walked with :func:`os.scandir`, children sorted by
their name as bytes, relative paths ``/``-separated and kept as bytes so names
that are not valid UTF-8 work):

* the relative path and the entry type, so that adding, removing or renaming
  anything -- or turning a file into a symlink -- changes the token;
* for a regular file, ``st_size`` and ``st_mtime_ns`` (an ordinary edit);
  ``st_ino`` (editors that save by atomically replacing the file and keep its
  mtime); ``st_ctime_ns``, which no program can set back, so a tool that writes
  and then restores the old mtime (``rsync -t``, ``touch -r``) is still seen --
  it also moves on chmod/chown/link, harmless needless rebuilds; and the
  permission bits, because an executable bit can change what a build does;
* for a file whose mtime or ctime is within :data:`RACY_WINDOW_NS` of the
  start of the walk, also a sha256 of its content. Timestamps are coarse (a
  few ms on Linux, 2 s on FAT): a same-size edit in the same tick as the last
  one leaves every stat field equal. Hashing the content of such "racy" files
  (the trick git uses for its index) closes that gap, and as soon as a file
  settles its record changes shape, so the token changes once more, harmlessly;
* for a symlink, the target string (:func:`os.readlink`) and, when it resolves
  to a file, that file's record as above, so editing the linked file is seen.
  Symlinked directories are *not* followed (no loops, no walking the world);
  only their own stat is folded in, which notices entries added to or removed
  from the linked directory but not edits inside it -- a documented limit.
  A dangling or looping link is recorded with its error and never raises. A
  symlink to a directory, named like an ignored directory (``.venv`` pointing
  at a shared environment), is skipped like the directory it stands for;
* for a directory, its relative path. Hence adding an *empty* directory
  changes the token: it rarely matters to a build, but it can (namespace
  package discovery, backends that list directories), and a needless rebuild
  is the safe side of the promise.

Not hashed: ``st_atime`` (every build reads every file; the token would never
settle), owner, link count and device (a remount must not matter much, and the
key of the source is its path anyway).

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

import errno
import hashlib
import logging
import os
import time
from operator import attrgetter
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import TYPE_CHECKING

from .._errors import InvalidSourceError
from .cache_keys import compile_key, matches

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .cache_keys import KeyPattern

__all__ = [
    "BUILD_OUTPUT_DIR_NAMES",
    "IGNORED_DIR_NAMES",
    "RACY_WINDOW_NS",
    "TOKEN_PREFIX",
    "fingerprint_tree",
]

logger = logging.getLogger("wheelcache")

TOKEN_PREFIX = "tree-v1:"

#: Directory names skipped at any depth: VCS data (.git .hg .svn .bzr .jj),
#: caches (__pycache__ .mypy_cache .pytest_cache .ruff_cache .hypothesis),
#: tool environments (.tox .nox .venv .eggs node_modules). Also skipped: names
#: ending in ".egg-info" and any directory containing a ``pyvenv.cfg``, which
#: is how a virtualenv named ``venv`` (a valid package name) is recognised.
IGNORED_DIR_NAMES: frozenset[str] = frozenset(
    {
        ".git", ".hg", ".svn", ".bzr", ".jj",
        "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis",
        ".tox", ".nox", ".venv", ".eggs", "node_modules",
    }
)  # fmt: skip

#: Build output directories, skipped in the root and beside a project file.
BUILD_OUTPUT_DIR_NAMES: frozenset[str] = frozenset({"build", "dist"})

#: Files changed this recently (before the walk starts) also get their content hashed.
RACY_WINDOW_NS = 3_000_000_000

_IGNORED = frozenset(os.fsencode(name) for name in IGNORED_DIR_NAMES)
_BUILD_OUTPUTS = frozenset(os.fsencode(name) for name in BUILD_OUTPUT_DIR_NAMES)
_PROJECT_FILES = frozenset({b"pyproject.toml", b"setup.py", b"setup.cfg"})
_VENV_MARKER = b"pyvenv.cfg"

_by_name = attrgetter("name")
_now_ns: Callable[[], int] = time.time_ns  # replaced by tests to pin racy-ness


def fingerprint_tree(root: Path, cache_keys: Sequence[str] | None = None) -> str:
    """Return an opaque freshness token (``"tree-v1:"`` + hex sha256) for the project at root.

    With ``cache_keys`` (paths or globs relative to root, ``*``, ``?``, ``[]``
    within a name and ``**`` for any depth, hidden names included), only
    matching files count, and a key naming a directory covers everything below
    it; the ignore rules still apply. The keys' text is hashed too, so a key
    that matches nothing still counts and a file that starts to match changes
    the token. An empty sequence makes the token depend on nothing but that
    (empty) list. Raises :class:`InvalidSourceError` if root is not a
    directory, a key is absolute or climbs out with ``..``, or a directory in
    the tree cannot be listed.
    """
    started = time.perf_counter()
    root = Path(root)
    if not root.is_dir():
        raise InvalidSourceError(root, "not a directory")
    digest = hashlib.sha256(TOKEN_PREFIX.encode())
    if cache_keys is None:
        digest.update(b"\0all\0")
        patterns = None
    else:
        if isinstance(cache_keys, str):
            raise TypeError("cache_keys must be a sequence of strings, not a string")
        patterns = [compile_key(root, key) for key in cache_keys]
        digest.update(b"\0keys\0%d\0" % len(patterns))
        digest.update(b"".join(os.fsencode(key) + b"\0" for key in cache_keys))
    records = _walk(os.fsencode(root), patterns) if patterns != [] else []
    digest.update(b"".join(records))
    elapsed = (time.perf_counter() - started) * 1000
    logger.debug("fingerprinted %s: %d entries in %.1f ms", root, len(records), elapsed)
    return TOKEN_PREFIX + digest.hexdigest()


def _walk(root: bytes, patterns: list[KeyPattern] | None) -> list[bytes]:
    """Return one record per entry that counts, in a deterministic order."""
    racy_from = _now_ns() - RACY_WINDOW_NS
    records: list[bytes] = []
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
        names = {entry.name for entry in entries}
        if rel and _VENV_MARKER in names:
            continue
        if rel and everything:
            records.append(b"d\0%b\0" % rel)
        is_project = not rel or not names.isdisjoint(_PROJECT_FILES)
        subdirs: list[tuple[bytes, bytes, bool]] = []
        for entry in entries:
            name = entry.name
            child = rel + b"/" + name if rel else name
            if entry.is_dir(follow_symlinks=False):
                if _skipped_dir(name, is_project):
                    continue
                below = everything or matches(patterns, child, whole=True)
                if below or matches(patterns, child, whole=False):
                    subdirs.append((entry.path, child, below))
                continue
            if name.endswith((b".pyc", b".pyo")):
                continue
            is_link = entry.is_symlink()
            if is_link and _skipped_dir(name, is_project) and _links_to_dir(entry):
                continue  # e.g. a .venv symlink: treated like the directory it stands for
            if not (everything or matches(patterns, child, whole=True)):
                continue
            try:
                if is_link:
                    records.append(_link_record(entry.path, child, racy_from))
                    continue
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
            if S_ISREG(st.st_mode) and mtime < racy_from and ctime < racy_from:  # the hot path
                fields = (child, st.st_size, mtime, ctime, st.st_ino, st.st_mode & 0o7777)
                records.append(b"e\0%b\0f\0%d\0%d\0%d\0%d\0%o\0" % fields)
            else:
                records.append(b"e\0%b\0" % child + _stat_record(entry.path, st, racy_from))
        stack.extend(reversed(subdirs))
    return records


def _skipped_dir(name: bytes, is_project: bool) -> bool:
    """Tell whether a directory called name is ignored (in a project directory or not)."""
    if name in _IGNORED or name.endswith(b".egg-info"):
        return True
    return is_project and name in _BUILD_OUTPUTS


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


def _link_record(path: bytes, rel: bytes, racy_from: int) -> bytes:
    """Return the record of the symlink at path: its target and what it resolves to."""
    target = os.readlink(path)
    try:
        resolved = os.stat(path)  # follows the link, on purpose
    except OSError as error:  # dangling, a loop, or not allowed
        return b"l\0%b\0%b\0!%b\0" % (rel, target, _errno_name(error))
    return b"l\0%b\0%b\0" % (rel, target) + _stat_record(path, resolved, racy_from)


def _stat_record(path: bytes, st: os.stat_result, racy_from: int) -> bytes:
    """Return the fields of st that a build could notice, plus content if racy."""
    if S_ISDIR(st.st_mode):  # only reached through a symlink, never followed
        return b"d\0%d\0%d\0%d\0" % (st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if not S_ISREG(st.st_mode):
        return b"o\0%o\0" % st.st_mode
    fields = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode & 0o7777)
    record = b"f\0%d\0%d\0%d\0%d\0%o\0" % fields  # the same as the hot path in _walk
    if max(st.st_mtime_ns, st.st_ctime_ns) >= racy_from:
        record += b"c\0%b\0" % _content_digest(path)
    return record


def _content_digest(path: bytes) -> bytes:
    """Return the hex sha256 of the file at path, or its error name if unreadable."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as error:
        return b"!" + _errno_name(error)
    return digest.hexdigest().encode()


def _errno_name(error: OSError) -> bytes:
    """Return a stable name for the errno of error (e.g. ``ENOENT``)."""
    code = error.errno if error.errno is not None else 0
    return errno.errorcode.get(code, str(code)).encode()
