"""The ``wheelcache`` command: build, install, dir, info, list, prune, clean and verify.

:func:`build_parser` (:mod:`wheelcache._cli.parser`) builds the argument
parser; :func:`main` runs one command (:mod:`wheelcache._cli.commands`) and
returns its exit status (tests call it in-process). The library raises and
logs; this module alone configures logging and turns exceptions into one-line
messages and exit statuses (:func:`_report`):

* 0: success;
* 1: the operation found problems (``verify``) or failed (a build, the disk);
* 2: usage errors and bad input (a missing path, neither an sdist nor a
  project, a malformed size or duration);
* 130: interrupted.

Errors are one line on stderr, ``wheelcache: error: ...``; ``-v`` adds the
traceback. Logging goes to stderr: INFO by default, WARNING with ``-q``, DEBUG
with ``-v``. Build backends' output (and pypa/build's progress) is shown only
with ``-v``; when a build fails, its last lines come before the error line.
Stdout carries only results, so ``pip install "$(wheelcache build .)"``
works; ``--json`` output is described in :mod:`wheelcache._cli.reports` and
:mod:`wheelcache._cli.maintenance_reports`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import TYPE_CHECKING, TextIO

from .._errors import CacheError, InvalidSourceError
from .commands import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE
from .console import Console, use_color
from .parser import PROG, build_parser

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence


__all__ = ["build_parser", "main"]

_LOGGERS = ("wheelcache", "build")  # ours, and pypa/build's progress messages


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``wheelcache`` command with *argv* (default ``sys.argv[1:]``); return its status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, and usage errors (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    console = Console(sys.stdout, sys.stderr, args.verbosity)
    with _logging_to(console.err, args.verbosity):
        try:
            status: int = args.handler(args, console)
        except BrokenPipeError:
            _discard_stdout()
            return EXIT_FAILED
        except (Exception, KeyboardInterrupt) as exc:
            return _report(exc, console)
        return status


def _report(exc: BaseException, console: Console) -> int:
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
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=console.err)
    elif console.verbosity == 0:
        # A failed build's last lines (BuildFailedError.output), hidden while it ran.
        output = getattr(exc, "output", None)
        if isinstance(output, tuple) and output:
            console.err.write(f"{PROG}: the build's last lines:\n")
            console.err.writelines(f"  {line}\n" for line in output)
    prefix = f"{PROG}: error:"
    if use_color(console.err):
        prefix = f"\x1b[1;31m{prefix}\x1b[0m"
    console.err.write(f"{prefix} {' '.join(message.split())}\n")
    return status


def _discard_stdout() -> None:
    """After a closed pipe (``wheelcache list | head``), stop Python's exit-time flush failing."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class _QuietBuilds(logging.Filter):
    """Hide build backends' output and pypa/build's progress (shown with ``-v``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        if name in ("build", "wheelcache.build") or name.startswith(
            ("build.", "wheelcache.build.")
        ):
            return False
        # The command says what happened once the build is done (cmd_build).
        return not (name == "wheelcache" and record.msg == "building %s")


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
    if verbosity <= 0:
        handler.addFilter(_QuietBuilds())
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
