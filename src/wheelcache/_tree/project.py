"""What a project directory declares about itself: its distribution name.

:func:`project_name` reads ``[project] name`` from ``pyproject.toml``, or
``[metadata] name`` from ``setup.cfg``, and runs nothing (``setup.py`` is not
read). The name is what listings show for a tree source and what build errors
call the project; a name that cannot be read for sure is None. A minimal
reader that understands only the plain ``name = "..."`` form, and gives up on
anything else, answers first: it costs a line scan where importing a TOML
parser costs more than a whole cache hit (``wheelcache build .`` reads the
name every time). Where it gives up, TOML is parsed with :mod:`tomllib`
(Python 3.11+), else ``tomli`` when it is installed.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["project_name"]

_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def _find_toml_loads() -> Callable[[str], dict[str, Any]]:
    """Return a TOML parser: tomllib, else tomli if installed, else the minimal one."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads
    try:
        tomli = importlib.import_module("tomli")
    except ImportError:
        return _minimal_toml_loads
    loads: Callable[[str], dict[str, Any]] = tomli.loads
    return loads


def project_name(root: Path) -> str | None:
    """Return the project's name as declared, or None.

    Looks at ``pyproject.toml`` ``[project] name``, then (only if there is no
    ``[project]`` table) ``setup.cfg`` ``[metadata] name``. A missing,
    unreadable or malformed file, or a name that is not a valid distribution
    name, gives None; this never raises.
    """
    root = Path(root)
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = None
    if text is not None:
        try:
            project = _parse_toml(text).get("project")
        except ValueError:  # TOMLDecodeError is a ValueError, and so is "unsure"
            return None
        if project is not None:
            return _valid_name(project.get("name") if isinstance(project, dict) else None)
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(root / "setup.cfg", encoding="utf-8")
        return _valid_name(parser.get("metadata", "name", fallback=None))
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None


def _valid_name(value: object) -> str | None:
    """Return value if it is a valid distribution name, else None."""
    return value if isinstance(value, str) and _NAME.match(value) else None


_TABLE = re.compile(r"^\s*\[\s*([^\[\]]*?)\s*\]\s*(#.*)?$")
_ARRAY_TABLE = re.compile(r"^\s*\[\[\s*([^\[\]]*?)\s*\]\]\s*(#.*)?$")
_NAME_KEY = re.compile(r"""^\s*name\s*=\s*(?:"([^"\\]*)"|'([^']*)')\s*(#.*)?$""")


def _minimal_toml_loads(text: str) -> dict[str, Any]:
    """Read just ``[project] name`` from TOML text, for Python < 3.11 without tomli.

    Returns ``{"project": {"name": ...}}``, ``{"project": {}}`` or ``{}``. Only
    the plain form ``name = "..."`` under a ``[project]`` header is read, and
    whatever this cannot be sure about -- a repeated table or name (invalid
    TOML, which tomllib would also refuse), a multi-line string before the
    name (a header inside one would fool a line scanner), a quoted or dotted
    spelling -- raises ValueError, so the caller answers None rather than a
    wrong name. A header-like line inside a multi-line string after the name
    can still look like a repeat; that errs the same safe way.
    """
    found: dict[str, Any] = {}
    in_project = False
    for line in text.splitlines():
        multi_line = '"""' in line or "'''" in line
        if multi_line and "name" in found.get("project", {}):
            continue  # the name is known; a later string cannot change it
        if multi_line or re.match(r"\s*[\"']?project[\"']?\s*[.=]", line):
            raise ValueError("too complex for the minimal TOML reader")
        table = _TABLE.match(line)
        if table is None and line.lstrip().startswith("["):
            if not _ARRAY_TABLE.match(line):
                raise ValueError("malformed table header")
            in_project = False
            continue
        if table:
            in_project = table.group(1) == "project"
            if not in_project and table.group(1).strip("\"' ") == "project":
                raise ValueError("quoted table name")
            if in_project:
                if "project" in found:
                    raise ValueError("[project] defined twice")
                found["project"] = {}
            continue
        key = _NAME_KEY.match(line) if in_project else None
        if key:
            if "name" in found["project"]:
                raise ValueError("[project] name given twice")
            found["project"]["name"] = key.group(1) if key.group(1) is not None else key.group(2)
    return found


_toml_loads: Callable[[str], dict[str, Any]] | None = None


def _parse_toml(text: str) -> dict[str, Any]:
    """The TOML document, as far as the name goes: the minimal reader if it is sure."""
    global _toml_loads
    try:
        found = _minimal_toml_loads(text)
    except ValueError:
        pass
    else:
        if "name" in found.get("project", {}) or "project" not in found:
            return found
    if _toml_loads is None:
        _toml_loads = _find_toml_loads()
    return _toml_loads(text)
