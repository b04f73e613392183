"""Scripts for the target interpreter: generated entry points and ``.data/scripts`` shebangs.

An entry point's launcher is a few lines of Python behind a shebang naming
the target interpreter; on POSIX this module writes it
(:func:`entry_point_scripts`), because importing pypa/installer (its
package imports its whole installer: email parsing, zip files, CSV, ...)
costs a ``wheelcache install`` more than placing 500 files. A shebang that
the kernel would not run -- a path with a space, or longer than the 127
bytes a ``#!`` line may have on Linux -- becomes a ``/bin/sh`` line that
execs the interpreter on the script, inside a string Python ignores (the
form pip and pypa/installer write too). Windows launchers (``.exe`` files)
and the ``#!python`` shebangs of ``.data/scripts``
(:func:`installer.utils.fix_shebang`) come from pypa/installer. Scripts
are the only files an install writes rather than links: their bytes depend
on the environment.
"""

from __future__ import annotations

import io
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["entry_point_scripts", "launcher", "rewrite_shebang", "shebang"]

_SHEBANG_LIMIT = 127  # bytes of "#!" + interpreter + "\n" every Unix kernel runs


def entry_point_scripts(
    entry_points: Iterable[tuple[str, str, str, str]], executable: str
) -> list[tuple[str, bytes]]:
    """``(file name, bytes)`` of the launcher of each ``(name, module, attr, section)``."""
    wanted = list(entry_points)
    if not wanted:
        return []  # most wheels: pypa/installer is not even imported
    if sys.platform != "win32":
        return [(name, launcher(module, attr, executable)) for name, module, attr, _ in wanted]
    from installer.scripts import Script  # pragma: no cover - Windows only
    from installer.utils import get_launcher_kind  # pragma: no cover

    kind = get_launcher_kind()  # pragma: no cover
    return [  # pragma: no cover
        Script(name, module, attr, section).generate(executable, kind)  # type: ignore[arg-type,unused-ignore]
        for name, module, attr, section in wanted
    ]


def launcher(module: str, attr: str, executable: str) -> bytes:
    """A POSIX script that calls ``module:attr`` and exits with what it returns."""
    head = attr.split(".", 1)[0]
    body = (
        "import sys\n"
        f"from {module} import {head}\n"
        "if __name__ == '__main__':\n"
        f"    sys.exit({attr}())\n"
    )
    return shebang(executable) + body.encode("utf-8")


def shebang(executable: str) -> bytes:
    """The first line(s) of a script run by *executable*, however long or spaced its path."""
    path = executable.encode("utf-8")
    if b" " not in path and len(path) + 3 <= _SHEBANG_LIMIT:
        return b"#!" + path + b"\n"
    import shlex  # only for such a path: it imports re

    # sh runs the second line, which replaces it with the interpreter reading this
    # file; to Python the same lines are one triple-quoted string, which does nothing.
    quoted = shlex.quote(executable).encode("utf-8")
    return b"#!/bin/sh\n'''exec' " + quoted + b' "$0" "$@"\n' + b"' '''\n"


def rewrite_shebang(data: bytes, executable: str) -> bytes:
    """*data* with a ``#!python`` shebang replaced by one naming *executable*."""
    from installer.utils import fix_shebang

    with fix_shebang(io.BytesIO(data), executable) as stream:
        return stream.read()
