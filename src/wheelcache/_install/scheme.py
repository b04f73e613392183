"""Where an environment wants each kind of file: its install scheme, asked of its interpreter.

A :class:`Target` holds the directories of the five wheel schemes
(``purelib``, ``platlib``, ``headers``, ``scripts``, ``data``), the
interpreter that entry-point scripts and rewritten shebangs name, and the
marker environment that requirements are judged against. For an interpreter
(:func:`for_interpreter`) it is asked once, in one short subprocess, for its
``sysconfig`` paths (the running interpreter answers in-process); for a plain
directory (:func:`for_directory`, like ``pip install --target``) libraries go
into the directory itself, scripts into ``bin/``, and scripts name the running
interpreter.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .._errors import InvalidSourceError

__all__ = ["Target", "TargetError", "for_directory", "for_interpreter"]

# Runs in the target interpreter (any Python 3, with -I: its own paths only),
# or in-process when the target is the running interpreter.
_QUERY = r"""
import json, os, platform, sys, sysconfig
def describe():
    info = sys.implementation.version
    version = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    markers = {
        "implementation_name": sys.implementation.name,
        "implementation_version": version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }
    return {
        "paths": sysconfig.get_paths(), "executable": sys.executable, "prefix": sys.prefix,
        "markers": markers, "short_version": "%d.%d" % sys.version_info[:2],
    }
"""


class TargetError(InvalidSourceError):
    """The interpreter or directory to install into cannot be used (bad input: exit status 2)."""


_FIELDS = ("purelib", "platlib", "scripts", "data", "include", "executable", "description")


class Target:
    """An environment to install into (see the module docstring).

    A plain class, not a dataclass (importing :mod:`dataclasses` costs a
    warm ``wheelcache install`` more than finding what is installed); its
    fields are set once. The marker environment is worked out on first use
    when it is the running interpreter's: only a wheel with requirements
    needs it, and it needs :mod:`platform`.
    """

    __slots__ = (*_FIELDS, "_markers")

    purelib: str
    platlib: str
    scripts: str
    data: str
    include: str
    """Headers go to ``<include>/<project name>``."""
    executable: str
    """The interpreter scripts run with, and bytecode is compiled by."""
    description: str

    def __init__(
        self,
        *,
        purelib: str,
        platlib: str,
        scripts: str,
        data: str,
        include: str,
        executable: str,
        markers: dict[str, str] | None,
        description: str,
    ) -> None:
        """*markers* None: the running interpreter's."""
        self.purelib = purelib
        self.platlib = platlib
        self.scripts = scripts
        self.data = data
        self.include = include
        self.executable = executable
        self.description = description
        self._markers = markers

    @property
    def markers(self) -> dict[str, str]:
        """The marker environment requirements are judged against (PEP 508)."""
        if self._markers is None:
            self._markers = _ask(sys.executable)["markers"]
        return self._markers

    def _key(self) -> tuple[object, ...]:
        return (*(getattr(self, name) for name in _FIELDS), self.markers)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Target):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Target({self.description!r}, executable={self.executable!r})"

    def scheme_dir(self, scheme: str, project: str) -> str:
        """The directory of *scheme* (``purelib``, ``headers``...) for *project*."""
        if scheme == "headers":
            return os.path.join(self.include, project)
        path: str = getattr(self, scheme)
        return path

    @property
    def site_dirs(self) -> tuple[str, ...]:
        """Where distributions' ``.dist-info`` directories live."""
        return (self.purelib,) if self.purelib == self.platlib else (self.purelib, self.platlib)


def for_interpreter(python: str) -> Target:
    """The environment of the interpreter *python* (a path, or a command on ``PATH``)."""
    venv = _venv_of_this_interpreter(python)
    answer = _describe_venv(venv, python) if venv is not None else _ask(python)
    paths = answer["paths"]
    include = os.path.join(answer["prefix"], "include", "site", f"python{answer['short_version']}")
    return Target(
        purelib=paths["purelib"],
        platlib=paths["platlib"],
        scripts=paths["scripts"],
        data=paths["data"],
        include=include,
        executable=answer["executable"],
        markers=answer["markers"],
        description=answer["prefix"],
    )


def _venv_of_this_interpreter(python: str) -> str | None:
    """The root of the virtual environment *python* runs in, if the running interpreter made it.

    Such an environment's answers can be worked out here, without starting it:
    its interpreter is ours (the same file, the same version), so its
    ``sysconfig`` scheme is ours with the environment as the prefix.
    """
    path = os.path.abspath(python)
    root = os.path.dirname(os.path.dirname(path))
    try:
        with open(os.path.join(root, "pyvenv.cfg"), encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    config = {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in lines)}
    version = config.get("version") or config.get("version_info")
    base = getattr(sys, "_base_executable", sys.executable)
    if version != python_version() or sys.implementation.name != "cpython":
        return None
    try:
        same = os.path.samefile(path, base)
    except OSError:
        return None
    return root if same else None


def python_version() -> str:
    """:func:`platform.python_version` of CPython (the first word of ``sys.version``).

    Without importing :mod:`platform` (and :mod:`re`), which a warm install
    would not need otherwise.
    """
    return sys.version.split(None, 1)[0]


def _describe_venv(root: str, python: str) -> dict[str, Any]:
    import sysconfig

    names = sysconfig.get_scheme_names()
    scheme = "venv" if "venv" in names else ("nt" if os.name == "nt" else "posix_prefix")
    base = {"base": root, "platbase": root, "installed_base": root, "installed_platbase": root}
    return {
        "paths": sysconfig.get_paths(scheme, vars=base),
        "executable": os.path.abspath(python),
        "prefix": root,
        "markers": None,  # the running interpreter's, worked out if needed
        "short_version": f"{sys.version_info[0]}.{sys.version_info[1]}",
    }


def for_directory(directory: str | os.PathLike[str]) -> Target:
    """A plain directory, like ``pip install --target``: scripts go to ``<directory>/bin``."""
    root = os.path.abspath(directory)
    return Target(
        purelib=root,
        platlib=root,
        scripts=os.path.join(root, "bin"),
        data=root,
        include=os.path.join(root, "include"),
        executable=sys.executable,
        markers=None,
        description=root,
    )


_HERE: dict[str, Any] = {}
"""The running interpreter's answer: it cannot change, so it is worked out once."""


def _ask(python: str) -> dict[str, Any]:
    if os.path.abspath(python) == sys.executable:
        if not _HERE:
            namespace: dict[str, Any] = {}
            exec(_QUERY, namespace)  # the code the subprocess would run
            _HERE.update(namespace["describe"]())
        return dict(_HERE)  # a copy: callers replace some of its keys
    import subprocess  # only for another interpreter: not on a warm install's path

    try:
        completed = subprocess.run(
            [python, "-I", "-c", _QUERY + "print(json.dumps(describe()))"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise TargetError(python, f"cannot run the interpreter ({exc.strerror or exc})") from None
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise TargetError(python, f"the interpreter failed to describe itself: {last}")
    import json

    try:
        result: dict[str, Any] = json.loads(completed.stdout)
    except ValueError:
        raise TargetError(python, "did not answer like a Python interpreter") from None
    return result
