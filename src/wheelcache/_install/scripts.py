"""Scripts for the target interpreter: generated entry points and ``.data/scripts`` shebangs.

Both come from pypa/installer: :class:`installer.scripts.Script` writes the
launcher of a console or GUI entry point, and :func:`installer.utils.fix_shebang`
rewrites a ``#!python`` shebang to name the target interpreter. Scripts are
the only files an install writes rather than links: their bytes depend on
the environment.
"""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["entry_point_scripts", "rewrite_shebang"]


def _launcher_kind() -> str:
    if sys.platform != "win32":
        return "posix"
    from installer.utils import get_launcher_kind  # pragma: no cover - Windows only

    return str(get_launcher_kind())  # pragma: no cover


def entry_point_scripts(
    entry_points: Iterable[tuple[str, str, str, str]], executable: str
) -> list[tuple[str, bytes]]:
    """``(file name, bytes)`` of the launcher of each ``(name, module, attr, section)``."""
    from installer.scripts import Script

    kind = _launcher_kind()
    return [
        Script(name, module, attr, section).generate(executable, kind)  # type: ignore[arg-type]
        for name, module, attr, section in entry_points
    ]


def rewrite_shebang(data: bytes, executable: str) -> bytes:
    """*data* with a ``#!python`` shebang replaced by one naming *executable*."""
    from installer.utils import fix_shebang

    with fix_shebang(io.BytesIO(data), executable) as stream:
        return stream.read()
