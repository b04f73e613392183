"""Records of the entries the hot path of a tree walk leaves: symlinks, new or changed files.

:func:`wheelcache._tree.fingerprint._walk` records an unchanged, settled file
from the stat cache inline; everything else comes here (:func:`slow_record`).
See :mod:`wheelcache._tree.fingerprint` for what each record holds.
"""

from __future__ import annotations

import os
from stat import S_IFMT, S_ISDIR, S_ISREG

from .._errors import InvalidSourceError
from .._log import get_logger
from .digests import errno_name, record_value
from .statcache import entry_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .digests import Digests

__all__ = ["slow_record"]

logger = get_logger()


def slow_record(
    entry: os.DirEntry[bytes],
    rel: bytes,
    st: os.stat_result | None,
    racy_from: int,
    digests: Digests,
) -> bytes | None:
    """Return the record of what the hot path of :func:`_walk` left (st: its lstat, if any)."""
    if entry.is_symlink():
        return _link_record(entry.path, rel, digests)
    remembered = digests.remembered
    if st is not None:
        if st.st_mtime_ns < racy_from and st.st_ctime_ns < racy_from:
            value = remembered.lookup(entry_key(rel, st), rel)
            if value is not None:
                return b"f\0%b\0%b" % (rel, value)
        else:
            remembered.skip(rel)  # racy: read it, whatever was remembered
    return _other_record(entry, rel, digests)


def _other_record(entry: os.DirEntry[bytes], rel: bytes, digests: Digests) -> bytes | None:
    """Return the record of a file not found in the stat cache, or None if it vanished."""
    if entry.is_file(follow_symlinks=False):
        found = digests.of_file(entry.path, rel, follow=False)
        if found is not None:
            return b"f\0%b\0%b\0" % (rel, record_value(*found))
    else:
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            pass
        except OSError as error:
            reason = error.strerror or str(error)
            raise InvalidSourceError(os.fsdecode(entry.path), f"cannot stat: {reason}") from error
        else:
            return b"o\0%b\0%o\0" % (rel, S_IFMT(st.st_mode))
    logger.debug("file vanished during the walk: %s", os.fsdecode(entry.path))
    return None


def _link_record(path: bytes, rel: bytes, digests: Digests) -> bytes:
    """Return the record of the symlink at path: its target and what it resolves to."""
    try:
        target = os.readlink(path)
    except OSError as error:  # vanished or replaced meanwhile: the next walk differs
        return b"l\0%b\0!%b\0" % (rel, errno_name(error))
    head = b"l\0%b\0%b\0" % (rel, target)
    try:
        resolved = os.stat(path)  # follows the link, on purpose
    except OSError as error:  # dangling, a loop, or not allowed
        return head + b"!%b\0" % errno_name(error)
    if S_ISDIR(resolved.st_mode):  # only listed, never walked
        try:
            names = sorted(os.listdir(path))
        except OSError as error:
            return head + b"D\0!%b\0" % errno_name(error)
        return head + b"D\0%d\0" % len(names) + b"".join(name + b"\0" for name in names)
    if not S_ISREG(resolved.st_mode):
        return head + b"o\0%o\0" % S_IFMT(resolved.st_mode)
    value = digests.of_stat(path, rel, resolved)
    return head + b"f\0%b\0" % (b"!ENOENT" if value is None else value)
