"""Cache keys: which paths of a project a ``cache_keys`` entry selects.

A key is a path or glob relative to the project root, ``/``-separated (or
``os.sep``). :func:`compile_key` validates it -- no NUL, nothing absolute, no
drive, no ``..`` -- and splits it into one matcher per name: ``*``, ``?`` and
``[]`` match within a name (:func:`fnmatch.translate`, so hidden names too),
and ``**`` matches any number of names. Empty and ``.`` parts are dropped, so
the key ``.`` compiles to an empty pattern, which the walk takes to mean the
whole tree.

:func:`matches` answers the two questions the tree walk asks of a relative
path: does a key select it (*whole*), and could a key select something below
it (not *whole*: worth descending into)?
"""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path, PureWindowsPath

from .._errors import InvalidSourceError

__all__ = ["KeyPattern", "compile_key", "matches"]

KeyPattern = list["re.Pattern[str] | None"]  # one matcher per name; None stands for "**"


def compile_key(root: Path, key: str) -> KeyPattern:
    """Validate a cache key and split it into per-name matchers."""
    if "\0" in key:
        raise InvalidSourceError(root, f"cache key {key!r} contains a NUL character")
    posix = key.replace(os.sep, "/") if os.sep != "/" else key
    if (
        not posix
        or posix.startswith(("/", "\\"))
        or PureWindowsPath(key).drive
        or Path(key).is_absolute()
        or ".." in posix.split("/")
    ):
        raise InvalidSourceError(root, f"cache key {key!r} must be relative to the project")
    parts = [part for part in posix.split("/") if part not in ("", ".")]
    return [None if part == "**" else re.compile(fnmatch.translate(part)) for part in parts]


def matches(patterns: list[KeyPattern] | None, rel: bytes, *, whole: bool) -> bool:
    """Tell whether a pattern matches rel (whole) or could match something below it."""
    if patterns is None:
        return True
    names = os.fsdecode(rel).split("/")
    return any(_match(pattern, 0, names, 0, whole) for pattern in patterns)


def _match(pattern: KeyPattern, i: int, names: list[str], j: int, whole: bool) -> bool:
    """Match pattern[i:] against names[j:]; if not whole, names may be a prefix."""
    if j == len(names) and not whole:
        return True
    if i == len(pattern):
        return j == len(names)
    part = pattern[i]
    if part is None:
        return not whole or any(
            _match(pattern, i + 1, names, k, whole) for k in range(j, len(names) + 1)
        )
    return (
        j < len(names)
        and part.match(names[j]) is not None
        and _match(pattern, i + 1, names, j + 1, whole)
    )
