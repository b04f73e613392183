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

An sdist is unpacked into a temporary directory first. Archives are untrusted
input: no member may land outside that directory. Tar archives go through the
standard library's ``"data"`` extraction filter where this Python has it
(3.12+, and 3.9.17+/3.10.12+/3.11.4+); elsewhere, and for zip sdists, members
are checked here and written one by one, and anything but a regular file or a
directory (links, devices) is refused.
"""

from __future__ import annotations

import collections
import errno
import functools
import gzip
import logging
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING

from ._errors import CacheError, InvalidSourceError, cache_error
from ._tree import project_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = ["BuildFailedError", "BuildFrontendMissingError", "build_wheel", "extract_sdist"]

logger = logging.getLogger("wheelcache")
backend_output = logging.getLogger("wheelcache.build")
"""Receives each line build backends print, at INFO level."""

_KEPT_LINES = 20
_PROJECT_FILES = ("pyproject.toml", "setup.py")
# What reading a damaged or truncated compressed archive raises.
_DAMAGED_ARCHIVE = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


class BuildFrontendMissingError(CacheError):
    """pypa/build is not installed, so nothing can be built."""

    def __init__(
        self, message: str = "building needs pypa/build: pip install 'wheelcache[build]'"
    ) -> None:
        super().__init__(message)


class BuildFailedError(CacheError):
    """A build backend, or the preparation of its environment, failed.

    ``output`` holds the last lines the failing process printed, if any.
    """

    def __init__(self, message: str, output: tuple[str, ...] = ()) -> None:
        super().__init__(message, output)
        self.message = message
        self.output = output

    def __str__(self) -> str:
        return self.message


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


# -- unpacking sdists -----------------------------------------------------------------


def extract_sdist(archive: Path, destination: Path) -> Path:
    """Unpack the sdist *archive* into the empty directory *destination*.

    Returns the project directory: the archive's single top-level directory
    (``name-version/``), or *destination* itself for an archive without one.
    Raises :class:`~wheelcache.InvalidSourceError` when the archive is damaged,
    tries to write outside *destination*, holds links or special files (where
    the extraction filter is not available), or holds no ``pyproject.toml`` or
    ``setup.py`` at the top of the project.
    """
    if archive.name.lower().endswith(".zip"):
        _extract_zip(archive, destination)
    else:
        _extract_tar(archive, destination)
    try:
        top = list(destination.iterdir())
    except OSError as exc:
        raise cache_error(destination, "list", exc) from exc
    project = top[0] if len(top) == 1 and top[0].is_dir() else destination
    if not any((project / name).is_file() for name in _PROJECT_FILES):
        raise InvalidSourceError(
            archive, "not an sdist: no pyproject.toml or setup.py at the top of the project"
        )
    return project


def _extract_tar(archive: Path, destination: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(destination, filter="data")
                return
            for member in tar:
                opener = functools.partial(tar.extractfile, member)
                _unpack(archive, destination, member.name, _tar_kind(member), member.mode, opener)
    except InvalidSourceError:
        raise
    except _DAMAGED_ARCHIVE as exc:
        raise InvalidSourceError(archive, f"cannot unpack the sdist: {exc}") from None
    except OSError as exc:
        raise _unpack_error(archive, destination, exc) from exc


def _extract_zip(archive: Path, destination: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                mode = info.external_attr >> 16
                opener = functools.partial(bundle.open, info)
                _unpack(archive, destination, info.filename, _zip_kind(info), mode, opener)
    except InvalidSourceError:
        raise
    except (zipfile.BadZipFile, NotImplementedError, ValueError, *_DAMAGED_ARCHIVE) as exc:
        raise InvalidSourceError(archive, f"cannot unpack the sdist: {exc}") from None
    except OSError as exc:
        raise _unpack_error(archive, destination, exc) from exc


def _unpack_error(archive: Path, destination: Path, exc: OSError) -> CacheError:
    """Members that collide are the archive's fault; a full disk is not."""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
        return InvalidSourceError(archive, f"cannot unpack the sdist: conflicting members ({exc})")
    return cache_error(destination, "unpack the sdist into", exc)


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.isdir():
        return "dir"
    if member.isfile():
        return "file"
    return "link" if member.issym() or member.islnk() else "special file"


def _zip_kind(info: zipfile.ZipInfo) -> str:
    if info.is_dir():
        return "dir"
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type in (0, stat.S_IFREG):  # 0: written by a tool that records no Unix mode
        return "file"
    return "link" if file_type == stat.S_IFLNK else "special file"


def _unpack(
    archive: Path,
    destination: Path,
    name: str,
    kind: str,
    mode: int,
    open_member: Callable[[], IO[bytes] | None],
) -> None:
    """Write one member: a directory, or a regular file with tame permissions."""
    target = _contained(archive, destination, name)
    if kind == "dir":
        target.mkdir(parents=True, exist_ok=True)
        return
    if kind != "file":
        raise InvalidSourceError(archive, f"the sdist holds a {kind}, refused: {name!r}")
    if target == destination:
        raise InvalidSourceError(archive, f"the sdist holds a file without a name: {name!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    stream = open_member()
    if stream is None:  # pragma: no cover - a regular member always has data
        raise InvalidSourceError(archive, f"cannot read member {name!r}")
    with stream, open(target, "wb") as output:
        shutil.copyfileobj(stream, output)
    # The owner may read and write; an executable bit survives; nothing else does.
    os.chmod(target, 0o755 if mode & 0o111 else 0o644)


def _contained(archive: Path, destination: Path, name: str) -> Path:
    """The path member *name* unpacks to; refuses any name that could escape."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if (
        "\0" in name
        or name.startswith(("/", "\\"))
        or (parts and len(parts[0]) >= 2 and parts[0][1] == ":")
        or ".." in parts
    ):
        raise InvalidSourceError(archive, f"the sdist holds an unsafe path, refused: {name!r}")
    target = destination.joinpath(*parts)
    root = os.path.realpath(destination)
    if os.path.commonpath([root, os.path.realpath(target)]) != root:
        raise InvalidSourceError(archive, f"the sdist holds an unsafe path, refused: {name!r}")
    return target
