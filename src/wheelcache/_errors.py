"""The exceptions wheelcache raises.

Every error the library raises derives from :class:`CacheError`. Errors about
bad input also derive from the builtin a caller would naturally catch
(:class:`ValueError`). All of them pickle, so they cross process boundaries
(``multiprocessing``, ``concurrent.futures``) intact.
"""

from __future__ import annotations

import errno
import os

TYPE_CHECKING = False  # no typing at run time: the warm path imports this module
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar

    _F = TypeVar("_F", bound=Callable[..., Any])

__all__ = [
    "BuildFailedError",
    "CacheError",
    "DiskFullError",
    "InvalidSourceError",
    "InvalidWheelError",
    "LockTimeout",
    "NoCompatibleWheelError",
]


class CacheError(Exception):
    """The root of every error wheelcache raises."""


class InvalidWheelError(CacheError, ValueError):
    """A file offered to the cache is not a valid wheel.

    ``path`` names the file and ``problem`` says what is wrong with it.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(path, problem)

    def __str__(self) -> str:
        return f"{self.path}: not a valid wheel: {self.problem}"


class InvalidSourceError(CacheError, ValueError):
    """A path given as a source distribution or project tree cannot be used."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(path, problem)

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


class NoCompatibleWheelError(CacheError):
    """A build finished but wrote no wheel compatible with the requested tags."""


class LockTimeout(CacheError, TimeoutError):
    """A lock could not be acquired within the allowed time (``lock_timeout``).

    ``lock`` is the lock file's path, ``guards`` what the lock protects (the
    work another process is doing under it, such as "updating the pointer of
    the same source"), ``waited`` the seconds spent waiting.
    """

    def __init__(self, lock: str | os.PathLike[str], guards: str, waited: float) -> None:
        self.lock = os.fspath(lock)
        self.guards = guards
        self.waited = waited
        super().__init__(self.lock, guards, waited)

    def __str__(self) -> str:
        return (
            f"gave up after {self.waited:.0f}s waiting for another process to finish"
            f" {self.guards} (the lock {self.lock} guards that; another process holds it)"
        )


class BuildFailedError(CacheError):
    """A build backend, or the preparation of its environment, failed.

    ``message`` is one line: what failed, and the last thing the failing
    process said. ``output`` holds the last lines it printed (at most 20), if any.
    """

    def __init__(self, message: str, output: tuple[str, ...] = ()) -> None:
        super().__init__(message, output)
        self.message = message
        self.output = tuple(output)

    def __str__(self) -> str:
        return self.message


class DiskFullError(CacheError, OSError):
    """The filesystem holding the cache has no space (or quota) left."""

    def __init__(self, path: str | os.PathLike[str], cause: OSError) -> None:
        self.path = os.fspath(path)
        self.cause = cause
        super().__init__(cause.errno, cause.strerror)

    def __reduce__(self) -> tuple[type[DiskFullError], tuple[str, OSError]]:
        return (type(self), (self.path, self.cause))

    def __str__(self) -> str:
        return f"the disk is full: cannot write {self.path} ({self.cause.strerror})"


_DISK_FULL_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT} if hasattr(errno, "EDQUOT") else {errno.ENOSPC}
)


def cache_error(path: str | os.PathLike[str], action: str, cause: OSError) -> CacheError:
    """Wrap a filesystem failure into the :class:`CacheError` that describes it.

    A full disk (or exhausted quota) becomes :class:`DiskFullError`; anything
    else a plain :class:`CacheError` naming the path, the action and the cause.
    """
    if cause.errno in _DISK_FULL_ERRNOS:
        return DiskFullError(path, cause)
    reason = cause.strerror or str(cause)
    if isinstance(cause, PermissionError):
        reason = f"{reason} ({_access(cause.filename or path)})"
    return CacheError(f"cannot {action} {os.fspath(path)}: {reason}")


def _access(path: str | os.PathLike[str]) -> str:
    """Who may do what with *path* (or its nearest existing parent), and who we are.

    Says which permission is missing, as far as the modes tell: the owner,
    group and mode of the file or directory the system refused, and this
    process's user and groups.
    """
    import stat

    place = os.fspath(path)
    while True:
        try:
            info = os.lstat(place)
            break
        except OSError:
            parent = os.path.dirname(place)
            if parent == place:
                return "nothing on its path can be examined"
            place = parent
    mode = stat.filemode(info.st_mode)
    if not hasattr(os, "geteuid"):  # pragma: no cover - Windows
        return f"{place} is {mode}"
    return (
        f"{place} is {mode}, owner uid {info.st_uid}, group gid {info.st_gid};"
        f" this process runs as uid {os.geteuid()} with groups"
        f" {', '.join(str(g) for g in sorted({os.getegid(), *os.getgroups()}))}"
    )


def naming_permissions(action: str) -> Callable[[_F], _F]:
    """Make a bare ``PermissionError`` from the decorated operation a :class:`CacheError`.

    The error names the path the system refused, its owner, group and mode,
    and this process's user and groups (:func:`cache_error`), so the user of
    a shared cache learns which permission is missing.
    """

    def decorate(function: _F) -> _F:
        import functools

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except PermissionError as exc:
                raise cache_error(exc.filename or "the cache", action, exc) from exc

        return wrapper  # type: ignore[return-value]

    return decorate
