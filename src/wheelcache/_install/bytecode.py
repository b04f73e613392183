"""Optional bytecode compilation, by the target interpreter (its magic number, its cache tag)."""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING

from .._errors import CacheError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["compile_bytecode"]

_COMPILE = r"""
import json, py_compile, sys
written = []
for path in json.load(sys.stdin):
    try:
        written.append(py_compile.compile(path, doraise=True))
    except py_compile.PyCompileError as exc:
        sys.stderr.write("%s\n" % exc)
print(json.dumps(written))
"""


def compile_bytecode(executable: str, sources: Sequence[str]) -> list[str]:
    """Compile *sources* with *executable*; return the ``.pyc`` files written.

    A source that does not compile is skipped (as pip does), not an error.
    """
    if not sources:
        return []
    completed = subprocess.run(
        [executable, "-I", "-c", _COMPILE],
        input=json.dumps(list(sources)),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise CacheError(f"compiling bytecode with {executable} failed: {completed.stderr[-500:]}")
    written: list[str] = json.loads(completed.stdout)
    return written
