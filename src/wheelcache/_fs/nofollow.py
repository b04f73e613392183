"""Nothing below the cache root is followed: links there are damage, never directions.

A cache directory is shared state that other users, other tools and
accidents can reach. A symbolic link planted anywhere below the root (a
bucket, a shard, an entry, a pointer, a lock, the prune stamp) could send a
write, ``chmod``, ``utime``, delete or rename outside the cache, and could
make a reader and the garbage collector disagree about what exists. So the
one rule is: **nothing in the layout is followed for a change**. The root is the
user's choice and may be a link; everything below it must be a real
directory or file where the layout expects one.

* Readers open a pointer with ``O_NOFOLLOW`` and ``lstat`` a wheel: a link
  there is a miss. The hit path does not look at the directories above them
  (each look is a system call on every hit); listings and ``find()`` do
  (:func:`real_ancestors`), and prune refuses to run while a lookup could
  follow a link (``wheelcache._gc.links.refuse_followed_links``), so what a
  reader reaches through one it only reads, and nothing deletes it under it
  (docs/design.md §2).
* Scans (:func:`list_real_dir`) list real directories only and skip links.
* Writers call :func:`refuse_links` before acting on a path; it raises
  :class:`~wheelcache.CacheError` naming the link.
* ``verify`` reports links and ``verify(repair=True)`` moves them aside.

The checks are ``lstat`` calls made just before the operation: they stop a
link that is *there*, not one swapped in by a hostile process in the
microseconds between the check and the use (docs/design.md, assumption A4).
"""

from __future__ import annotations

import os
import stat

from .._errors import CacheError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "O_NOFOLLOW",
    "allow_owner_write",
    "chmod_nofollow",
    "is_link",
    "link_error",
    "list_real_dir",
    "real_ancestors",
    "refuse_links",
]

O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
"""Open flag: fail (``ELOOP``) rather than follow a link in the last component."""

_REPAIR_HINT = "run 'wheelcache verify --repair' to move it aside"


def is_link(path: str | os.PathLike[str]) -> bool:
    """True when *path* is a symbolic link."""
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def real_ancestors(path: str, levels: int) -> bool:
    """True when the *levels* directories above *path* are real directories.

    The lookup path's check, one ``lstat`` per level: a link or a missing
    directory is a miss. *path* itself is not looked at.
    """
    for _ in range(levels):
        path = path[: path.rindex(os.sep)]
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return False
        if not stat.S_ISDIR(mode):
            return False
    return True


def link_error(path: str | os.PathLike[str]) -> CacheError:
    """The error a writer raises on meeting a link inside the cache."""
    return CacheError(
        f"{os.fspath(path)} is a symbolic link inside the cache; wheelcache never"
        f" follows links there ({_REPAIR_HINT})"
    )


def refuse_links(root: Path, path: Path) -> None:
    """Raise :class:`CacheError` if *path* or a directory between *root* and it is a link.

    Components that do not exist yet are fine: the caller creates them, and
    ``mkdir`` never follows a link. Also refused: a non-directory where a
    directory is expected.
    """
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return
    current = root
    for depth, part in enumerate(parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return
        except OSError:
            return  # the operation itself reports what is wrong
        if stat.S_ISLNK(mode):
            raise link_error(current)
        if depth < len(parts) - 1 and not stat.S_ISDIR(mode):
            raise CacheError(f"{current} is not a directory; the cache layout expects one there")


def list_real_dir(path: str | os.PathLike[str]) -> list[os.DirEntry[str]]:
    """The entries of the directory *path*; nothing when it is missing, unreadable or a link."""
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            return []
        with os.scandir(path) as items:
            return list(items)
    except OSError:
        return []


def chmod_nofollow(path: str | os.PathLike[str], mode: int) -> bool:
    """``chmod`` the directory or file *path*, never a link's target; say whether it worked.

    Opens with ``O_NOFOLLOW`` and changes the open file, so a link swapped in
    after a check is not followed either; falls back to a checked ``chmod``
    when the object cannot be opened (a directory without read permission).
    """
    try:
        if not hasattr(os, "fchmod"):  # pragma: no cover - Windows before 3.13
            raise OSError("no fchmod")
        fd = os.open(path, os.O_RDONLY | O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return False
            os.chmod(path, mode)
        except OSError:
            return False
        return True
    try:
        os.fchmod(fd, mode)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def allow_owner_write(path: str | os.PathLike[str]) -> bool:
    """Give the owner write permission on *path*, keeping every other mode bit.

    For a directory that must move to another parent (the trash, the
    quarantine). Group write and set-group-ID stay: in a cache shared by a
    group, another member must still be able to empty it later. Never
    follows a link; says whether it worked.
    """
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISLNK(info.st_mode):
        return False
    return chmod_nofollow(path, stat.S_IMODE(info.st_mode) | stat.S_IWUSR)
