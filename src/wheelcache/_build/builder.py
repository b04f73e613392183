"""Building a wheel with pypa/build, from a project directory or an sdist.

This is the only module that uses a build front-end, and it imports pypa/build
only when a build actually runs: the library does not depend on it (it comes
with the ``wheelcache[build]`` extra), and a cache hit never pays for it.

Build backends run in subprocesses. Their output (stdout and stderr, merged)
is read line by line and logged to the ``wheelcache.build`` logger at INFO
level, never written to this process's stdout, so a command that prints a
wheel's path keeps its stdout clean. The last lines are kept to explain a
failure in one line. Warnings raised while building (pyproject_hooks relays
the backend's own as ``BuildBackendWarning``) are logged the same way; the
capture uses :func:`warnings.catch_warnings`, which is process-wide, so builds
are best not run from several threads at once.

An sdist is unpacked into a temporary directory first, by
:func:`wheelcache._build.sdist.extract_sdist`, which refuses any member that could
land outside it.
"""

from __future__ import annotations

import collections
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import BuildFailedError, CacheError
from .._tree.project import project_name
from .sdist import extract_sdist

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = ["BuildFailedError", "BuildFrontendMissingError", "build_wheel"]

logger = logging.getLogger("wheelcache")
backend_output = logging.getLogger("wheelcache.build")
"""Receives each line build backends print, at INFO level."""

_KEPT_LINES = 20


class BuildFrontendMissingError(CacheError):
    """pypa/build is not installed, so nothing can be built."""

    def __init__(
        self, message: str = "building needs pypa/build: pip install 'wheelcache[build]'"
    ) -> None:
        super().__init__(message)


def build_wheel(source_path: Path, output_dir: Path, *, isolation: bool) -> None:
    """Build a wheel of the project or sdist at *source_path* into *output_dir*.

    With *isolation*, the backend and its requirements are installed from the
    package index into a fresh, temporary virtual environment; without it the
    backend must be importable by this interpreter (missing requirements are
    reported, not installed).

    Raises :class:`BuildFrontendMissingError` when pypa/build is not installed,
    :class:`~wheelcache.InvalidSourceError` for an sdist that cannot be
    unpacked safely or holds no project, and :class:`BuildFailedError` when
    the build fails.
    """
    try:
        import build  # noqa: F401 - only a build pays for importing it
    except ImportError as exc:
        raise BuildFrontendMissingError() from exc
    if source_path.is_dir():
        _build_project(source_path.resolve(), output_dir, isolation=isolation)
        return
    with tempfile.TemporaryDirectory(prefix="wheelcache-sdist-") as temporary:
        project = extract_sdist(source_path, Path(temporary))
        _build_project(project, output_dir, isolation=isolation)


def _build_project(project: Path, output_dir: Path, *, isolation: bool) -> None:
    # pyproject_hooks re-raises the backend's warnings here as BuildBackendWarning:
    # they are the backend's output, so they are logged with it, and never become
    # errors (python -W error) that would fail a build that worked.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _run_build(project, output_dir, isolation=isolation)
        finally:
            for warning in caught:
                backend_output.info(
                    "%s:%s: %s: %s",
                    warning.filename,
                    warning.lineno,
                    warning.category.__name__,
                    warning.message,
                )


def _run_build(project: Path, output_dir: Path, *, isolation: bool) -> None:
    import build
    import build.env

    runner = _BackendRunner()
    label = project_name(project) or project.name
    try:
        if isolation:
            with build.env.DefaultIsolatedEnv() as env:
                builder = build.ProjectBuilder.from_isolated_env(env, project, runner=runner)
                env.install(builder.build_system_requires)
                env.install(builder.get_requires_for_build("wheel"))
                builder.build("wheel", output_dir)
        else:
            builder = build.ProjectBuilder(project, python_executable=sys.executable, runner=runner)
            # The backend itself first: asking it for more needs it importable.
            requires = builder.build_system_requires
            _require(label, {unmet for r in requires for unmet in build.check_dependency(r)})
            _require(label, builder.check_dependencies("wheel"))
            builder.build("wheel", output_dir)
    except build.BuildBackendException as exc:
        raise _failure(label, str(exc), runner.lines) from exc
    except build.FailedProcessError as exc:
        process = exc.exception
        captured = b"".join(s for s in (process.stdout, process.stderr) if isinstance(s, bytes))
        lines = captured.decode(errors="replace").splitlines()
        raise _failure(label, str(exc), lines) from exc
    except build.BuildException as exc:
        raise _failure(label, str(exc), ()) from exc


def _require(label: str, missing: set[tuple[str, ...]]) -> None:
    """Refuse a build without isolation whose requirements are not installed here."""
    if missing:
        needed = ", ".join(sorted(" -> ".join(chain) for chain in missing))
        raise BuildFailedError(
            f"building {label} without isolation needs {needed} installed in this"
            " environment (or build with isolation)"
        )


def _failure(label: str, reason: str, lines: Iterable[str]) -> BuildFailedError:
    """A one-line error: what failed, and the last thing the process said."""
    output = tuple(line.rstrip() for line in lines)
    said = next((line.strip() for line in reversed(output) if line.strip()), None)
    message = f"building {label} failed: {_one_line(reason)}"
    if said is not None and said not in message:
        message += f": {said}"
    return BuildFailedError(message, output[-_KEPT_LINES:])


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _BackendRunner:
    """Runs a backend hook, logging its output and remembering the last lines."""

    def __init__(self) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=_KEPT_LINES)

    def __call__(
        self,
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        environment = {**os.environ, **(extra_environ or {})}
        backend_output.debug("running %s", subprocess.list2cmdline(cmd))
        with subprocess.Popen(
            cmd,
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            encoding="utf-8",
            errors="replace",
        ) as process:
            assert process.stdout is not None  # for the type checker: stdout=PIPE
            for line in process.stdout:
                text = line.rstrip("\r\n")
                self.lines.append(text)
                backend_output.info("%s", text)
            returncode = process.wait()
        if returncode:
            raise subprocess.CalledProcessError(returncode, list(cmd))
