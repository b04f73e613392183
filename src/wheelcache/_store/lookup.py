"""The hit path: from a source's pointer to the entry it hands out.

:class:`Finder` is what :meth:`WheelCache.get <wheelcache.WheelCache.get>`
(through ``WheelCache._lookup``) and the command's warm path
(:mod:`wheelcache._cli.warm`) share: read the pointer, check it names this
revision, rank its wheels, check the entry, and keep the garbage-collection
promises of a hand-out (:meth:`Finder.handed_out`; docs/design.md §6.3, §13).
It imports only what a hit needs: no :mod:`pathlib`, :mod:`typing` or
:mod:`logging` at run time, and the store only through the *freshen*
callable it is given.
"""

from __future__ import annotations

import os
import time
from stat import S_IRGRP, S_IROTH, S_IRUSR, S_ISREG

from .._errors import CacheError
from .._fs import syncpoints as _syncpoints
from .._log import get_logger
from .._pointers.any_version import USE_INTERVAL
from .._pointers.pointer import open_pointer, read_open_pointer, replaced
from .._tags import ranked_remembered

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .._paths import Paths
    from .._pointers.pointer import Pointer, WheelRef
    from .._tags import TagRanks

__all__ = ["Finder"]

logger = get_logger()

_READABLE_BY_ALL = S_IRUSR | S_IRGRP | S_IROTH


class Finder:
    """Finds the wheel a source's current revision hands out, in one cache.

    *freshen* ``(sha256, filename) -> bool`` freshens an entry (the store's
    :meth:`~wheelcache._store.store.Store.freshen`); None makes every lookup
    that would need it a miss, for a caller that redoes a miss in full.
    """

    __slots__ = ("_freshen", "_network", "_paths")

    def __init__(self, paths: Paths, freshen: Callable[[str, str], bool] | None) -> None:
        self._paths = paths
        self._freshen = freshen
        self._network: bool | None = None  # judged on first hit: see _fs.mounts

    def find(
        self, key: str, freshness: str, digest: str, ranks: TagRanks
    ) -> tuple[str, WheelRef] | None:
        """The entry's wheel file and its record, for the source with this key and digest."""
        pointer_path = self._paths.pointer_file_str(digest)
        fd = open_pointer(pointer_path)
        if fd is None:
            return None
        try:
            pointer = read_open_pointer(fd)
            if pointer is None or pointer.key != key or pointer.freshness != freshness:
                return None
            for ref in ranked_remembered(pointer.wheels, ranks):
                location = self._paths.entry_file_str(ref.sha256, ref.filename)
                try:
                    entry = os.lstat(location)
                except OSError:
                    continue
                # Opened and stat'ed without following a link at the pointer
                # or the wheel. Directories above them are not looked at (a
                # system call each, on every hit): prune refuses to run while
                # one is a link, so what this hands out through one stays
                # protected (docs/design.md §2).
                if not S_ISREG(entry.st_mode) or entry.st_size != ref.size:
                    logger.debug("cached wheel %s is missing or damaged", ref.filename)
                    continue
                # Published entries are read-only for everyone (0o444), which
                # the stat above already shows; only a mode someone changed
                # since needs the kernel's opinion (a second path walk).
                if entry.st_mode & _READABLE_BY_ALL != _READABLE_BY_ALL and not os.access(
                    location, os.R_OK
                ):
                    logger.debug("cached wheel %s cannot be read", ref.filename)
                    continue
                if not self.handed_out(fd, pointer_path, ref, pointer):
                    return None
                return location, ref
            return None
        finally:
            os.close(fd)

    def handed_out(self, fd: int, pointer_path: str, ref: WheelRef, pointer: Pointer) -> bool:
        """Keep the garbage-collection promises for an entry a lookup returns; False: a miss.

        *fd* is the pointer file this lookup read, still open. Record the
        source as used, at most once per :data:`USE_INTERVAL`, and then look at
        the pointer again. If it was replaced or retired since (locally: its
        link count is 0; on a network filesystem, which keeps reporting 1: the
        pointer read again differs), the writer's or prune's freshening may
        predate this hand-out, or prune may have judged the source idle:
        freshen the entry now; if it is gone, or permissions forbid the
        freshen, miss. Otherwise whoever drops it later freshens it then. No
        lock, and on the common path no write (docs/design.md §6.3, §13).
        """
        try:
            current = os.fstat(fd)
        except OSError:
            current = None
        if (
            current is not None
            and current.st_nlink
            and time.time() - current.st_mtime > USE_INTERVAL
        ):
            _syncpoints.reach("lookup.record-use")
            try:
                os.utime(pointer_path)
            except OSError:
                logger.debug("could not record use of %s", pointer_path, exc_info=True)
            try:
                current = os.fstat(fd)  # a prune may have retired it meanwhile
            except OSError:
                current = None
        if (
            current is None
            or current.st_nlink == 0
            or self._replaced_remotely(pointer_path, pointer)
        ):
            if self._freshen is None:
                return False
            try:
                return self._freshen(ref.sha256, ref.filename)
            except CacheError as exc:
                logger.warning("%s; a miss instead", exc)
                return False
        return True

    def _replaced_remotely(self, pointer_path: str, pointer: Pointer) -> bool:
        """On a network filesystem: whether the pointer at the path is no longer *pointer*."""
        if self._network is None:
            from .._fs.mounts import is_network_filesystem

            self._network = is_network_filesystem(self._paths.root_str)
        return self._network and replaced(pointer_path, pointer)
