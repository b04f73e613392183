"""The ``wheelcache`` command: build, dir, info, list, prune, clean and verify.

:func:`build_parser` builds the argument parser; :func:`main` runs one command
and returns its exit status (tests call it in-process). The library raises and
logs; this module alone configures logging and turns exceptions into one-line
messages and exit statuses (:func:`_report`):

* 0: success;
* 1: the operation found problems (``verify``) or failed (a build, the disk);
* 2: usage errors and bad input (a missing path, neither an sdist nor a
  project, a malformed size or duration);
* 130: interrupted.

Errors are one line on stderr, ``wheelcache: error: ...``; ``-v`` adds the
traceback. Logging goes to stderr: INFO by default (build backends' output
included), WARNING with ``-q``, DEBUG with ``-v``. Stdout carries only results,
so ``pip install "$(wheelcache build .)"`` works.

``--json`` prints one JSON object on stdout. Keys are stable: later versions
may add keys, never rename or remove them. Sizes are in bytes; a time is given
twice, as ISO 8601 UTC (``last_used``) and as seconds since the epoch
(``last_used_timestamp``). Each command's help lists its keys.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import stat
import sys
import traceback
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TextIO

from ._cache import WheelCache
from ._cli_output import (
    ListedWheel,
    ProgressLine,
    info_json,
    info_lines,
    list_json,
    list_summary,
    list_table,
    parse_duration,
    parse_size,
    prune_json,
    prune_lines,
    render_table,
    use_color,
    verify_json,
    verify_lines,
    wheel_json,
)
from ._errors import CacheError, InvalidSourceError
from ._source import Source
from ._version import __version__

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence


__all__ = ["build_parser", "main"]

PROG = "wheelcache"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_SDIST_SUFFIXES = (".tar.gz", ".zip")
_LOGGERS = ("wheelcache", "build")  # ours, and pypa/build's progress messages

_EPILOGS = {
    "build": (
        "The last line of stdout is the cached wheel's path:"
        ' pip install "$(wheelcache build .)". JSON keys: path, filename, name, version,'
        " sha256, size, built (false on a cache hit), source {kind: tree|sdist, path, key}."
    ),
    "info": (
        "JSON keys: root, layout_version, wheels, wheel_bytes, sources, referenced_entries,"
        " referenced_bytes, reclaimable_bytes, staging_items, staging_bytes, trash_items,"
        " trash_bytes, quarantine_items."
    ),
    "list": (
        "A wheel named by several sources is listed once per source; a wheel no source names"
        " has source null and its last_used is when it was last handed out or published."
        " JSON keys: wheels [{name, version, filename, size, sha256, path, source,"
        " source_name, last_used, last_used_timestamp}], count, total_bytes."
    ),
    "prune": (
        "DURATION: a number and a unit s, m, h, d or w (30m, 12h, 7d). SIZE: a number and a"
        " unit K, M, G or T, powers of 1000 (500M, 5G), or KiB, MiB, GiB, TiB. JSON keys:"
        " dry_run, removed_entries, freed_bytes, kept_entries, kept_bytes, referenced_entries,"
        " referenced_bytes, retired_sources [keys], reclaimed_staging, reclaimed_trash,"
        " restored_entries, seconds."
    ),
    "verify": (
        "Exit status 1 when anything is corrupt, dangling or unreadable, even once repaired."
        " JSON keys: sound, entries_checked, bytes_checked, corrupt [{sha256, path, problem}],"
        " dangling [{key, pointer, missing}], unreadable_pointers, repaired, quarantined,"
        " mended_pointers."
    ),
}


class _Console:
    """Where a command's results (stdout) and progress (stderr) go."""

    # A plain class: importing dataclasses would slow down every warm hit.
    def __init__(self, out: TextIO, err: TextIO, verbosity: int) -> None:
        self.out = out
        self.err = err
        self.verbosity = verbosity

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def lines(self, texts: Sequence[str]) -> None:
        for text in texts:
            self.line(text)

    def json(self, document: dict[str, Any]) -> None:
        self.out.write(json.dumps(document, indent=2) + "\n")

    def table(
        self, headers: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int]
    ) -> None:
        self.lines(render_table(headers, rows, right=right, bold_header=use_color(self.out)))

    def progress(self) -> ProgressLine:
        isatty = getattr(self.err, "isatty", None)
        return ProgressLine(self.err, enabled=self.verbosity >= 0 and bool(isatty and isatty()))


# -- the parser ------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``wheelcache`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Build wheels from sdists and projects once, and share them through a cache.",
        epilog="Exit status: 0 success, 1 problems found or failure, 2 usage error or bad input.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_global_options(parser, top=True)
    # The global options are accepted after the command as well.
    common = argparse.ArgumentParser(add_help=False)
    _add_global_options(common, top=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Callable[..., int], text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, parents=[common], help=text, description=text, epilog=_EPILOGS.get(name)
        )
        sub.set_defaults(handler=handler)
        return sub

    build = command("build", _cmd_build, "Print the path of SOURCE's wheel, building it if needed.")
    build.add_argument(
        "source", metavar="SOURCE", help="an sdist (.tar.gz, .zip) or a project directory"
    )
    build.add_argument(
        "--no-isolation",
        action="store_true",
        help="build with the backend installed here instead of in a fresh environment",
    )
    _add_json(build)
    command("dir", _cmd_dir, "Print the cache directory.")
    _add_json(command("info", _cmd_info, "Summarise what the cache holds."))
    listing = command("list", _cmd_list, "List cached wheels.")
    listing.add_argument(
        "pattern", metavar="PATTERN", nargs="?", help="project name glob, e.g. 'django*'"
    )
    _add_json(listing)
    prune = command("prune", _cmd_prune, "Delete wheels no process needs any more.")
    prune.add_argument(
        "--grace",
        metavar="DURATION",
        type=parse_duration,
        help="keep unreferenced wheels used more recently than this (default: 1h)",
    )
    prune.add_argument(
        "--max-size",
        metavar="SIZE",
        type=parse_size,
        help="retire least recently used sources until the referenced wheels fit",
    )
    prune.add_argument(
        "--max-age",
        metavar="DURATION",
        type=parse_duration,
        help="retire sources unused for longer",
    )
    prune.add_argument("--dry-run", action="store_true", help="report, change nothing")
    _add_json(prune)
    command("clean", _cmd_clean, "Empty the cache.")
    verify = command("verify", _cmd_verify, "Re-hash every wheel and check every pointer.")
    verify.add_argument(
        "--repair",
        action="store_true",
        help="move corrupt wheels to quarantine and drop dangling references",
    )
    _add_json(verify)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # After the command, an absent option must not override one given before it.
    default: Any = argparse.SUPPRESS
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=None if top else default,
        help="the cache directory (default: $WHEELCACHE_DIR, else the user cache directory)",
    )
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-q",
        "--quiet",
        dest="verbosity",
        action="store_const",
        const=-1,
        default=0 if top else default,
        help="show only warnings and errors",
    )
    loudness.add_argument(
        "-v",
        "--verbose",
        dest="verbosity",
        action="store_const",
        const=1,
        default=0 if top else default,
        help="show debug messages, and tracebacks with errors",
    )


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


# -- main and the one place errors become exit statuses ----------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``wheelcache`` command with *argv* (default ``sys.argv[1:]``); return its status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, and usage errors (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    console = _Console(sys.stdout, sys.stderr, args.verbosity)
    with _logging_to(console.err, args.verbosity):
        try:
            status: int = args.handler(args, console)
        except BrokenPipeError:
            _discard_stdout()
            return EXIT_FAILED
        except (Exception, KeyboardInterrupt) as exc:
            return _report(exc, console)
        return status


def _report(exc: BaseException, console: _Console) -> int:
    """Print one line about *exc* (and with -v, its traceback); return the exit status."""
    status = EXIT_FAILED
    if isinstance(exc, KeyboardInterrupt):
        status, message = EXIT_INTERRUPTED, "interrupted"
    elif isinstance(exc, InvalidSourceError):
        status, message = EXIT_USAGE, str(exc)
    elif isinstance(exc, CacheError):
        message = str(exc)
    elif isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename is not None else ""
        message = f"{where}{exc.strerror or exc}"
    else:
        message = f"unexpected {type(exc).__name__}: {exc}"
        if console.verbosity <= 0:
            message += " (run with -v to see the traceback)"
    if console.verbosity > 0 and status != EXIT_INTERRUPTED:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=console.err)
    prefix = f"{PROG}: error:"
    if use_color(console.err):
        prefix = f"\x1b[1;31m{prefix}\x1b[0m"
    console.err.write(f"{prefix} {' '.join(message.split())}\n")
    return status


def _discard_stdout() -> None:
    """After a closed pipe (``wheelcache list | head``), stop Python's exit-time flush failing."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class _Formatter(logging.Formatter):
    """``wheelcache: message``; a build backend's output verbatim."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.name == "wheelcache.build" and record.levelno == logging.INFO:
            return message
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        text = f"{record.name.split('.')[0]}: {level}{message}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


@contextlib.contextmanager
def _logging_to(stream: TextIO, verbosity: int) -> Iterator[None]:
    """Send the library's (and pypa/build's) log records to *stream* while a command runs."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_Formatter())
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    saved = []
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(level)
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger, previous in saved:
            logger.removeHandler(handler)
            logger.setLevel(previous)


# -- commands --------------------------------------------------------------------------


def _open(args: argparse.Namespace) -> WheelCache:
    return WheelCache(args.cache_dir)


def _source(path: Path) -> tuple[Source, str]:
    """The source at *path* and its kind ("tree" or "sdist"); bad input raises."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InvalidSourceError(path, "no such file or directory") from None
    except OSError as exc:
        raise InvalidSourceError(path, f"cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        if not any((path / name).is_file() for name in ("pyproject.toml", "setup.py")):
            raise InvalidSourceError(path, "not a Python project: no pyproject.toml or setup.py")
        return Source.from_tree(path), "tree"
    if stat.S_ISREG(mode) and path.name.lower().endswith(_SDIST_SUFFIXES):
        return Source.from_archive(path), "sdist"
    raise InvalidSourceError(path, "not an sdist (.tar.gz or .zip) or a project directory")


def _cmd_build(args: argparse.Namespace, console: _Console) -> int:
    path = Path(args.source).absolute()
    source, kind = _source(path)
    isolation = not args.no_isolation
    built = False

    def build(output_dir: Path) -> None:
        nonlocal built
        built = True
        from . import _builder  # a cache hit never imports the builder

        _builder.build_wheel(path, output_dir, isolation=isolation)

    wheel = _open(args).get_or_build(source, build)
    if args.json:
        document = wheel_json(wheel)
        document["built"] = built
        document["source"] = {"kind": kind, "path": str(path), "key": source.key}
        console.json(document)
    else:
        console.line(str(wheel.path))
    return EXIT_OK


def _cmd_dir(args: argparse.Namespace, console: _Console) -> int:
    console.line(str(_open(args).root.absolute()))
    return EXIT_OK


def _cmd_info(args: argparse.Namespace, console: _Console) -> int:
    with console.progress() as progress:
        stats = _open(args).stats(progress=progress)
    if args.json:
        console.json(info_json(stats))
    else:
        console.lines(info_lines(stats))
    return EXIT_OK


def _cmd_list(args: argparse.Namespace, console: _Console) -> int:
    from packaging.utils import canonicalize_name

    pattern = canonicalize_name(args.pattern) if args.pattern else "*"
    with console.progress() as progress:
        found = [
            item
            for item in _listing(_open(args), progress)
            if fnmatchcase(item.wheel.name, pattern)
        ]
    found.sort(key=lambda i: (i.wheel.name, i.wheel.version, i.wheel.filename, i.source or ""))
    if args.json:
        console.json(list_json(found))
    elif found:
        console.table(*list_table(found))
        console.line(list_summary(found))
    else:
        console.line("No cached wheels" + (f" match {args.pattern!r}." if args.pattern else "."))
    return EXIT_OK


def _listing(cache: WheelCache, progress: ProgressLine) -> Iterator[ListedWheel]:
    """Each source's wheels, then every wheel no source names."""
    named = set()
    for seen, record in enumerate(cache.sources(), 1):
        if seen % 256 == 0:
            progress("list", seen, 0)
        for wheel in record.wheels:
            named.add(wheel.sha256)
            yield ListedWheel(wheel, record.key, record.name, record.last_used)
    for wheel in cache.wheels():
        if wheel.sha256 not in named:
            try:
                used = os.stat(wheel.path).st_mtime
            except OSError:
                continue  # pruned meanwhile
            yield ListedWheel(wheel, None, None, used)


def _cmd_prune(args: argparse.Namespace, console: _Console) -> int:
    with console.progress() as progress:
        report = _open(args).prune(
            args.grace,
            max_size=args.max_size,
            max_age=args.max_age,
            dry_run=args.dry_run,
            progress=progress,
        )
    if args.json:
        console.json(prune_json(report))
    else:
        console.lines(prune_lines(report))
    return EXIT_OK


def _cmd_clean(args: argparse.Namespace, console: _Console) -> int:
    _open(args).clean()
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace, console: _Console) -> int:
    with console.progress() as progress:
        report = _open(args).verify(repair=args.repair, progress=progress)
    if args.json:
        console.json(verify_json(report))
    else:
        console.lines(verify_lines(report))
    return EXIT_OK if report.sound else EXIT_FAILED
