"""Record every lock a piece of code takes, whichever primitive it goes through.

A test of "takes no lock" that watches one primitive passes when the code
takes another (the POSIX hit path never calls ``FileLock.acquire``). This
watches them all: the operating system's (``fcntl.flock``, ``fcntl.lockf``,
``msvcrt.locking``), filelock's (every lock class inherits
``BaseFileLock.acquire``), and wheelcache's own ``hold`` and ``try_hold``
wherever a module has imported them. Calls go through to the real primitive,
so the code under test behaves as it would; the test asserts on the record.
"""

from __future__ import annotations

import functools
import importlib
import sys
from typing import TYPE_CHECKING, Any, Callable

import filelock

from wheelcache._fs import locking

if TYPE_CHECKING:
    import pytest

__all__ = ["record_locks"]

_OS_PRIMITIVES = {"fcntl": ("flock", "lockf"), "msvcrt": ("locking",)}


def record_locks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, append the name of every lock primitive called to the list returned."""
    taken: list[str] = []

    def recorded(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(real)
        def call(*args: Any, **kwargs: Any) -> Any:
            taken.append(name)
            return real(*args, **kwargs)

        return call

    for module_name, names in _OS_PRIMITIVES.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # fcntl off POSIX, msvcrt off Windows
            continue
        for name in names:
            real = getattr(module, name)
            monkeypatch.setattr(module, name, recorded(f"{module_name}.{name}", real))
    monkeypatch.setattr(
        filelock.BaseFileLock,
        "acquire",
        recorded("filelock acquire", filelock.BaseFileLock.acquire),
    )
    ours = {id(locking.hold): "hold", id(locking.try_hold): "try_hold"}
    for module_name, module in list(sys.modules.items()):
        if module_name != "wheelcache" and not module_name.startswith("wheelcache."):
            continue
        for attribute, value in list(vars(module).items()):
            if id(value) in ours:
                monkeypatch.setattr(module, attribute, recorded(ours[id(value)], value))
    return taken
