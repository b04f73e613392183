"""The command's warm path: ``wheelcache build SOURCE`` answered from the cache, cheaply.

The ``wheelcache`` console script and ``python -m wheelcache`` start here
(:func:`run`). When the arguments are a plain build --
``[--cache-dir DIR] [-q] build SOURCE [--no-isolation]``, each at most once,
nothing else -- and SOURCE's wheel is cached, :func:`warm_build` prints what
``wheelcache build`` prints on a hit and the process ends. It imports only
what a hit needs (:mod:`wheelcache._store.lookup` and the modules of a
source's key and freshness): no argparse, logging, typing or pathlib, whose
imports cost more than the lookup itself. Anything else -- other arguments
or commands, ``--help``, ``-v``, ``--json``, a remote, a miss, a record the
library logs at INFO or above, an error of any kind -- goes to the full
command (:func:`wheelcache._cli.main.main`), which redoes the work from the
start, so every message, exit status and side effect is the full command's.
tests/cli/test_cli_warm.py checks that both paths print the same.
"""

from __future__ import annotations

import os
import sys
from stat import S_ISDIR, S_ISREG

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["WarmBuild", "parse_warm_build", "run", "warm_build"]

_PROG = "wheelcache"  # _cli.parser.PROG, which imports argparse


class WarmBuild:
    """A plain ``wheelcache build``: the cache directory given, SOURCE, and ``-q``."""

    __slots__ = ("cache_dir", "quiet", "source")

    def __init__(self, cache_dir: str | None, source: str, quiet: bool) -> None:
        self.cache_dir = cache_dir
        self.source = source
        self.quiet = quiet

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WarmBuild):
            return NotImplemented
        mine = (self.cache_dir, self.source, self.quiet)
        return mine == (other.cache_dir, other.source, other.quiet)

    def __repr__(self) -> str:
        return f"WarmBuild({self.cache_dir!r}, {self.source!r}, quiet={self.quiet})"


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command with *argv* (default ``sys.argv[1:]``); return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    request = parse_warm_build(args)
    if request is not None:
        status = warm_build(request)
        if status is not None:
            return status
    elif "install" in args:
        from .warm_install import parse_warm_install, warm_install

        install = parse_warm_install(args)
        status = None if install is None else warm_install(install)
        if status is not None:
            return status
    from .main import main

    return main(args)


def parse_warm_build(args: Sequence[str]) -> WarmBuild | None:
    """The plain build *args* ask for, or None when the full parser must read them.

    Accepted, in any order argparse accepts them: ``--cache-dir DIR`` (or
    ``--cache-dir=DIR``) and ``-q``/``--quiet`` before or after ``build``,
    ``--no-isolation`` after it (it matters only to a build), and one SOURCE
    after it. Each at most once; a SOURCE or DIR that is empty or starts with
    ``-`` is left to argparse, as is every other option or abbreviation.
    """
    cache_dir: str | None = None
    source: str | None = None
    quiet = isolation_flag = command = False
    position = 0
    while position < len(args):
        arg = args[position]
        position += 1
        if arg == "--cache-dir" or arg.startswith("--cache-dir="):
            if arg == "--cache-dir":
                if position == len(args):
                    return None
                value = args[position]
                position += 1
            else:
                value = arg[len("--cache-dir=") :]
            if cache_dir is not None or not value or value.startswith("-"):
                return None
            cache_dir = value
        elif arg in ("-q", "--quiet") and not quiet:
            quiet = True
        elif arg == "--no-isolation" and command and not isolation_flag:
            isolation_flag = True
        elif arg == "build" and not command:
            command = True
        elif command and source is None and arg and not arg.startswith("-"):
            source = arg
        else:
            return None
    return WarmBuild(cache_dir, source, quiet) if source is not None else None


def warm_build(request: WarmBuild) -> int | None:
    """Print the wheel of a hit as ``wheelcache build`` does and return 0; None otherwise."""
    from .._log import hold, release

    hold()
    try:
        found = _hit(request)
    except KeyboardInterrupt as exc:
        release()
        return _reported(exc, request)
    except Exception:  # the full command meets it again, and says what it is
        found = None
    if release() or found is None:
        return None
    location, filename = found
    err_line = "" if request.quiet else f"{_PROG}: hit: {filename}\n"
    if not (_writable(sys.stdout, location) and _writable(sys.stderr, err_line)):
        return None  # also without a stdout or stderr at all: the full command's error
    try:
        sys.stderr.write(err_line)
        sys.stdout.write(location + "\n")
    except BrokenPipeError:
        from .main import _discard_stdout

        _discard_stdout()
        return 1
    except OSError as exc:
        return _reported(exc, request)
    return 0


def _hit(request: WarmBuild) -> tuple[str, str] | None:
    """The hit's wheel path and file name, or None for anything but a plain hit."""
    root = _root(request.cache_dir)
    if (
        root is None
        or os.environ.get("WHEELCACHE_REMOTE")
        or os.environ.get("WHEELCACHE_LOCK_MODE", "") not in ("", "flock", "lease")
    ):
        return None  # a remote, or a lock mode it refuses: for the full command to judge
    try:
        if not S_ISDIR(os.stat(root).st_mode):
            return None  # WheelCache() refuses it, with its message
        # Path(SOURCE).absolute(): joined, not normalised ("link/.." is physical).
        path = os.path.join(os.getcwd(), request.source)
        mode = os.stat(path).st_mode
    except OSError:
        return None
    from .._paths import Paths
    from .._source import PROJECT_FILES, SDIST_SUFFIXES, Source
    from .._store.lookup import Finder
    from .._tags import ranks_for

    paths = Paths(root)
    if S_ISDIR(mode):  # Source.from_tree, less the project name a hit does not need
        if not any(os.path.isfile(os.path.join(path, name)) for name in PROJECT_FILES):
            return None
        from .._tree.fingerprint import fingerprint_tree
        from .._tree.statcache import StatCache

        tree = os.path.realpath(path)
        source = Source(tree, fingerprint_tree(tree, None, StatCache(paths)))
    elif S_ISREG(mode) and os.path.basename(path).lower().endswith(SDIST_SUFFIXES):
        from .._fs.hashing import file_sha256

        source = Source(f"sha256:{file_sha256(path)}")  # Source.from_archive's key
    else:
        return None
    found = Finder(paths, None).find(source.key, source.freshness, source.digest, ranks_for(None))
    return None if found is None else (found[0], found[1].filename)


def _root(cache_dir: str | None) -> str | None:
    """The cache root ``WheelCache(cache_dir)`` would use, as a string; None: ask it."""
    chosen = cache_dir or os.environ.get("WHEELCACHE_DIR")
    if not chosen:
        quick = _xdg_cache_root()
        if quick is not None:
            return quick
        from .._layout import default_root  # platformdirs: pathlib, typing, ...

        return str(default_root())
    expanded = os.path.expanduser(chosen)
    if expanded.startswith("~"):
        return None  # no such user: Path.expanduser raises, and the full command says so
    return os.path.abspath(expanded)


def _writable(stream: object, text: str) -> bool:
    """Whether *text* can be written to *stream* without an encoding error."""
    if stream is None:
        return False
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding, getattr(stream, "errors", None) or "strict")
    except (UnicodeError, LookupError):
        return False
    return True


def _reported(exc: BaseException, request: WarmBuild) -> int:
    """Report *exc* as the full command does; return its exit status."""
    from .console import Console
    from .main import _report

    return _report(exc, Console(sys.stdout, sys.stderr, -1 if request.quiet else 0))


def _xdg_cache_root() -> str | None:
    """``platformdirs.user_cache_path("wheelcache")`` where its versions all agree; else None.

    On Linux with an absolute ``$HOME`` and ``$XDG_CACHE_HOME`` either unset,
    empty or an absolute path, every platformdirs release this package
    accepts gives the XDG Base Directory answer (``$XDG_CACHE_HOME``, else
    ``~/.cache``, plus the application name); importing platformdirs would
    cost a warm build about twice ``python -c pass``. Anything else — a
    relative or padded value, another platform — is platformdirs' to judge
    (``tests/cli/test_cli_warm.py`` compares both on each case).
    """
    if sys.platform != "linux":
        return None
    configured = os.environ.get("XDG_CACHE_HOME", "")
    if configured:
        if not configured.startswith("/") or configured != configured.strip():
            return None
        return os.path.abspath(os.path.join(configured, "wheelcache"))
    home = os.environ.get("HOME", "")
    if not home.startswith("/"):
        return None
    return os.path.abspath(os.path.join(home, ".cache", "wheelcache"))
