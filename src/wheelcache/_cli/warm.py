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
tests/cli/test_cli_warm.py checks that both paths print the same. A plain
``install`` has its own warm path (:mod:`wheelcache._cli.warm_install`).
"""

from __future__ import annotations

import sys

from .warm_lookup import hit, writable

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
        found = hit(request.cache_dir, request.source)
    except KeyboardInterrupt as exc:
        release()
        return _reported(exc, request)
    except Exception:  # the full command meets it again, and says what it is
        found = None
    if release() or found is None:
        return None
    location, filename = found
    err_line = "" if request.quiet else f"{_PROG}: hit: {filename}\n"
    if not (writable(sys.stdout, location) and writable(sys.stderr, err_line)):
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


def _reported(exc: BaseException, request: WarmBuild) -> int:
    """Report *exc* as the full command does; return its exit status."""
    from .console import Console
    from .main import _report

    return _report(exc, Console(sys.stdout, sys.stderr, -1 if request.quiet else 0))
