"""The library's loggers, with :mod:`logging` imported only when a record could be shown.

A warm ``wheelcache build`` does all its work in less time than importing
:mod:`logging` takes, and on that path it only ever logs at DEBUG level. A
:class:`LazyLogger` stands for ``logging.getLogger(name)`` and forwards every
call to it, with one shortcut: while :mod:`logging` has not been imported in
the process, nothing can have configured it, so DEBUG and INFO records would
be dropped by the default WARNING threshold; they are dropped without
importing it. WARNING and above always go through :mod:`logging`, whose
last-resort handler prints them as usual.

:func:`hold` lets the command's warm path (:mod:`wheelcache._cli.warm`) try a
lookup before it has set up logging: records of INFO and above are kept back
instead of logged, and if any was, the command redoes the work on its full
path, where logging is set up and the records are logged afresh (or, once
the warm path has changed something, it logs them then: :mod:`wheelcache._cli.warm_install`).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from typing import Any

__all__ = ["LazyLogger", "get_logger", "hold", "release"]

_DEBUG, _INFO, _WARNING, _ERROR = 10, 20, 30, 40  # logging's levels, without importing it

_held: list[tuple[str, int, str, tuple[Any, ...]]] | None = None


class LazyLogger:
    """``logging.getLogger(name)``, imported on the first record that could be shown."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"LazyLogger({self.name!r})"

    def real(self) -> logging.Logger:
        """The logger this one stands for (importing :mod:`logging`)."""
        import logging

        return logging.getLogger(self.name)

    def _log(self, level: int, msg: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if _held is not None and level >= _INFO:
            _held.append((self.name, level, msg, args))
            return
        if level < _WARNING and "logging" not in sys.modules:
            return  # unconfigured: below the default threshold
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 2  # the caller's line, not ours
        self.real().log(level, msg, *args, **kwargs)

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        """``Logger.debug``."""
        self._log(_DEBUG, msg, args, kwargs)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        """``Logger.info``."""
        self._log(_INFO, msg, args, kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        """``Logger.warning``."""
        self._log(_WARNING, msg, args, kwargs)

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        """``Logger.error``."""
        self._log(_ERROR, msg, args, kwargs)


def get_logger(name: str = "wheelcache") -> LazyLogger:
    """The lazy stand-in for ``logging.getLogger(name)``."""
    return LazyLogger(name)


def hold() -> None:
    """Keep back records of INFO and above until :func:`release` (the command's warm path)."""
    global _held
    _held = []


def release() -> list[tuple[str, int, str, tuple[Any, ...]]]:
    """Stop holding records; return (logger name, level, message, args) of those kept back."""
    global _held
    held, _held = _held or [], None
    return held
