r"""A tree's remote freshness in a git checkout: git's blob ids, hashing only what git says changed.

Two checkouts of one commit on two machines must agree, and an edit must not:
so the freshness is made of file contents, named the way git names them. One
``git ls-files -z -v -s -c -m -d -o --directory`` in the project directory
lists, in one process and without reading a clean file, every tracked file
with its mode and blob id (``H``), the tracked files whose worktree differs
from the index (``C``, modified; ``R``, deleted), and every untracked path
(``?``; an untracked directory as one ``dir/`` line). No ``--exclude-standard``:
``.gitignore`` does not decide what counts; the rules of
:mod:`wheelcache._tree.rules` do, exactly as for the local freshness, so the
remote never overlooks a file the local fingerprint counts (a git-ignored
``_version.py`` that a build reads, say).

A clean tracked file counts by the blob id git has (no read). A modified or
untracked file, and each file below an untracked directory, is read and
hashed the way git hashes a blob (``"blob <size>\0"`` + bytes, SHA-1 or the
repository's SHA-256), so its id agrees with a checkout where it is tracked
and clean. An untracked directory in which nothing counts counts itself (an
empty directory can matter to a build, as locally); one with files counts by
them, so it agrees with a checkout where they are tracked. A symlink counts
by its target, as git stores it. ``cache_keys`` narrow what counts, as locally.

:func:`git_freshness` answers None -- not portable -- for what blob ids cannot
vouch for: a submodule, or a symlink resolving outside the project (the
local fingerprint hashes what it points at; the other machine's target is
another file).
"""

from __future__ import annotations

import hashlib
import logging
import os
from stat import S_IFMT, S_ISDIR, S_ISLNK, S_ISREG, S_IXUSR
from typing import TYPE_CHECKING

from .cache_keys import compile_key, matches
from .rules import PROJECT_FILES, VENV_MARKER, skipped_dir, skipped_file

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from .cache_keys import KeyPattern
    from .gitquery import Checkout

__all__ = ["GIT_TOKEN_PREFIX", "blob_id", "git_freshness"]

logger = logging.getLogger("wheelcache")

GIT_TOKEN_PREFIX = "tree-git-v1:"
_CHUNK = 1 << 20
_SUBMODULE = b"160000"
_LINK = b"120000"
_SEP = os.sep.encode()


def git_freshness(
    tree: Path, checkout: Checkout, listing: bytes, cache_keys: Sequence[str] | None = None
) -> str | None:
    """The content-only freshness of the project at *tree*, from git's *listing*.

    None when the tree is not portable.
    """
    patterns = None if cache_keys is None else [compile_key(tree, key) for key in cache_keys]
    digest = hashlib.sha256(f"{GIT_TOKEN_PREFIX}{checkout.algorithm}\0".encode())
    if patterns is None:
        digest.update(b"all\0")
    else:
        digest.update(b"keys\0%d\0" % len(patterns))
        digest.update(b"".join(os.fsencode(key) + b"\0" for key in cache_keys or ()))
    records = _Records(os.fsencode(tree), patterns, checkout.algorithm)
    try:
        if not records.collect(listing):
            return None
    except OSError as error:  # a directory that cannot be listed, say: the build will tell
        logger.debug("%s: %s; not portable", tree, error)
        return None
    digest.update(b"\0".join(sorted(records.found)))
    logger.debug(
        "git freshness of %s: %d entries, %d files read", tree, len(records.found), records.read
    )
    return GIT_TOKEN_PREFIX + digest.hexdigest()


class _Records:
    """The records of one project's entries that count, from git's listing and the disk."""

    def __init__(self, root: bytes, patterns: list[KeyPattern] | None, algorithm: str) -> None:
        self.root = root
        self.real_root = os.path.realpath(root)
        self.patterns = patterns
        self.algorithm = algorithm
        self.found: list[bytes] = []
        self.read = 0
        self._dirs: dict[bytes, bool] = {b"": True}  # directory -> whether its entries count

    def collect(self, listing: bytes) -> bool:
        """Add the record of every entry that counts; False when the tree is not portable.

        A file's record is ``<mode> <id> 0<TAB><path>``: for a clean tracked file
        that is git's own line, taken as it is.
        """
        clean: dict[bytes, bytes] = {}  # path -> its record
        dirty: set[bytes] = set()
        untracked: list[bytes] = []
        for line in listing.split(b"\0"):
            tag = line[:1]
            if tag == b"?":
                untracked.append(line[2:])
                continue
            if not line:
                continue
            tab = line.find(b"\t")
            path, mode = line[tab + 1 :], line[2:8]
            if mode == _SUBMODULE:
                logger.debug("%s holds a submodule: not portable", os.fsdecode(self.root))
                return False
            if tag == b"H" and line[tab - 1 : tab] == b"0" and mode != _LINK:
                clean.setdefault(path, line[2:])
            else:  # changed, deleted, unmerged, skip-worktree, assume-unchanged, a link: look
                dirty.add(path)
        clean = {path: record for path, record in clean.items() if path not in dirty}
        existing = [p for p in dirty if os.path.lexists(os.path.join(self.root, p))]
        self._note_markers([*clean, *existing, *untracked])
        found, dirs, dir_counts, patterns = self.found, self._dirs, self._dir_counts, self.patterns
        for path, record in clean.items():
            parent, _, name = path.rpartition(b"/")
            counts = dirs.get(parent)
            if counts is None:
                counts = dir_counts(parent)
            if counts and not skipped_file(name) and (patterns is None or self._keyed(path)):
                found.append(record)
        if untracked == [b"./"]:  # the whole project is untracked (or ignored)
            return self._walk(b"")
        return all(self._on_disk(path.rstrip(b"/")) for path in sorted(dirty) + untracked)

    def _note_markers(self, paths: list[bytes]) -> None:
        """Learn which directories hold a project file or a virtualenv marker."""
        self._projects = {b""}
        self._venvs: set[bytes] = set()
        for path in paths:
            parent, _, name = path.rpartition(b"/")
            if name in PROJECT_FILES:
                self._projects.add(parent)
            elif name == VENV_MARKER and parent:
                self._venvs.add(parent)

    def _counts(self, path: bytes, *, is_dir: bool) -> bool:
        """Whether path counts: no skipped directory above it, and selected by the keys."""
        parent, _, name = path.rpartition(b"/")
        if not self._dir_counts(parent) or (not is_dir and skipped_file(name)):
            return False
        return self.patterns is None or self._keyed(path)

    def _keyed(self, path: bytes) -> bool:
        """Whether a cache key selects path or a directory above it."""
        return self._below_key(path.rpartition(b"/")[0]) or self._selected(path)

    def _dir_counts(self, directory: bytes) -> bool:
        known = self._dirs.get(directory)
        if known is None:
            parent, _, name = directory.rpartition(b"/")
            known = (
                self._dir_counts(parent)
                and not skipped_dir(name, parent in self._projects)
                and directory not in self._venvs
            )
            self._dirs[directory] = known
        return known

    def _selected(self, path: bytes) -> bool:
        return matches(self.patterns, path, whole=True)

    def _below_key(self, directory: bytes) -> bool:
        """Whether a cache key names *directory* or a directory above it."""
        while directory:
            if self._selected(directory):
                return True
            directory = directory.rpartition(b"/")[0]
        return False

    def _escapes(self, path: bytes) -> bool:
        """Whether the symlink at path resolves outside the project (then: not portable)."""
        target = os.path.realpath(os.path.join(self.root, path))
        inside = target == self.real_root or target.startswith(self.real_root + _SEP)
        if not inside:
            logger.debug("%s leads outside the project: not portable", os.fsdecode(path))
        return not inside

    def _on_disk(self, path: bytes) -> bool:
        """Add the records of a changed or untracked path as it is now; False: not portable."""
        parent, _, name = path.rpartition(b"/")
        try:
            st = os.lstat(os.path.join(self.root, path))
        except FileNotFoundError:
            return True  # deleted: it does not count
        if S_ISDIR(st.st_mode):
            if not self._dir_counts(parent) or skipped_dir(name, parent in self._projects):
                return True
            return self._walk(path)
        if (
            S_ISLNK(st.st_mode)
            and skipped_dir(name, parent in self._projects)
            and os.path.isdir(os.path.join(self.root, path))
        ):
            return True  # e.g. a .venv symlink: skipped like the directory
        if not self._counts(path, is_dir=False):
            return True
        if S_ISLNK(st.st_mode):
            if self._escapes(path):
                return False
            target = os.readlink(os.path.join(self.root, path))
            self.found.append(b"%b %b 0\t%b" % (_LINK, self._hash(target), path))
        elif S_ISREG(st.st_mode):
            mode = b"100755" if st.st_mode & S_IXUSR else b"100644"
            self.found.append(b"%b %b 0\t%b" % (mode, self._file_id(path), path))
        else:
            self.found.append(b"o\t%b\t%o" % (path, S_IFMT(st.st_mode)))
        return True

    def _walk(self, directory: bytes) -> bool:
        """Add the records below an untracked directory, by the local rules."""
        try:
            names = sorted(os.listdir(os.path.join(self.root, directory)))
        except FileNotFoundError:
            return True
        if directory and VENV_MARKER in names:
            return True
        if any(name in PROJECT_FILES for name in names):
            self._projects.add(directory)
        prefix = directory + b"/" if directory else b""
        before = len(self.found)
        if not all(self._on_disk(prefix + name) for name in names):
            return False
        selected = self.patterns is None or self._below_key(directory)
        if len(self.found) == before and directory and selected:  # nothing below counts
            self.found.append(b"d\t%b" % directory)
        return True

    def _file_id(self, path: bytes) -> bytes:
        """Git's blob id of the file at path (read now)."""
        self.read += 1
        try:
            return blob_id(os.path.join(self.root, path), self.algorithm)
        except OSError as error:  # unreadable: its error counts, as in the local fingerprint
            return b"!%d" % (error.errno or 0)

    def _hash(self, data: bytes) -> bytes:
        blob = hashlib.new(self.algorithm, b"blob %d\0" % len(data))
        blob.update(data)
        return blob.hexdigest().encode()


def blob_id(path: str | bytes | os.PathLike[str], algorithm: str = "sha1") -> bytes:
    """Git's id for the bytes of the file at path, as ``git hash-object`` gives it."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    try:
        size = os.fstat(fd).st_size
        blob = hashlib.new(algorithm, b"blob %d\0" % size)
        total = 0
        while True:
            data = os.read(fd, _CHUNK)
            if not data:
                break
            total += len(data)
            blob.update(data)
    finally:
        os.close(fd)
    if total != size:  # written while read: a value no checkout has; the next look differs
        return b"!changed"
    return blob.hexdigest().encode()
