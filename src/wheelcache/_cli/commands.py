"""What each ``wheelcache`` command does (build, install, list, prune, remove, ...).

Each command takes the parsed arguments and a :class:`~._cli_console.Console`,
prints its results and returns its exit status (the statuses are described in
:mod:`wheelcache._cli.main`). Bad input raises :class:`InvalidSourceError`; the
commands never catch errors, :func:`wheelcache._cli.main.main` reports them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .._errors import InvalidSourceError
from .._log import get_logger

# Each command imports the reports it prints, and the library parts it uses,
# when it runs: every process pays for this module (the parser names its handlers).
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from .._cache import WheelCache
    from .console import Console, ProgressLine
    from .reports import ListedWheel

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "cmd_build",
    "cmd_clean",
    "cmd_completion",
    "cmd_dir",
    "cmd_info",
    "cmd_install",
    "cmd_list",
    "cmd_prune",
    "cmd_remove",
    "cmd_verify",
]

logger = get_logger()

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_Report = TypeVar("_Report")


def _open(args: argparse.Namespace) -> WheelCache:
    from .remote import open_cache

    return open_cache(args)


def _show(
    console: Console,
    as_json: bool,
    report: _Report,
    to_json: Callable[[_Report], dict[str, Any]],
    to_lines: Callable[[_Report], list[str]],
) -> None:
    """Print *report* as one JSON object, or as lines of text."""
    if as_json:
        console.json(to_json(report))
    else:
        console.lines(to_lines(report))


def cmd_build(args: argparse.Namespace, console: Console) -> int:
    """``wheelcache build``: print the cached wheel's path, building it on a miss."""
    from .._build.from_path import build_from_path
    from .reports import wheel_json

    path = Path(args.source).absolute()
    # WheelCache.build, which also says what it built from and whether it built.
    started = time.monotonic()
    found = build_from_path(_open(args), path, isolation=not args.no_isolation)
    if console.verbosity >= 0:
        done = f"built in {time.monotonic() - started:.1f} s" if found.built else "hit"
        console.err.write(f"wheelcache: {done}: {found.wheel.filename}\n")
    if args.json:
        document = wheel_json(found.wheel)
        document["built"] = found.built
        document["source"] = {"kind": found.kind, "path": str(path), "key": found.source.key}
        console.json(document)
    else:
        console.line(str(found.wheel.path))
    return EXIT_OK


def cmd_install(args: argparse.Namespace, console: Console) -> int:
    """``wheelcache install``: install each SOURCE into one environment, by linking."""
    from .installing import install_source
    from .reports import install_json, install_line

    python, target = _environment(args)
    cache = _open(args)
    documents = []
    for given in args.sources:
        path = Path(given).absolute()
        result, wheel, source, built = install_source(
            cache,
            path,
            (python, target),
            link_mode=args.link_mode,
            compile_bytecode=args.compile,
            isolation=not args.no_isolation,
        )
        if result.unsatisfied:
            logger.warning(
                "%s %s requires %s, not installed (dependencies are not installed)",
                result.name,
                result.version,
                ", ".join(result.unsatisfied),
            )
        if args.json:
            documents.append(install_json(result, wheel, source, built))
        else:
            console.line(install_line(result))
    if args.json:
        console.json({"installed": documents, "python": python, "target": target})
    return EXIT_OK


def _environment(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(python, target) to install into: the options, else ``$VIRTUAL_ENV``'s interpreter."""
    if args.python or args.target:
        return args.python, (str(Path(args.target).absolute()) if args.target else None)
    venv = os.environ.get("VIRTUAL_ENV")
    if not venv:
        raise InvalidSourceError(
            "install",
            "no environment: activate a virtual environment, or give --python or --target",
        )
    scripts = "Scripts" if os.name == "nt" else "bin"
    python = Path(venv) / scripts / ("python.exe" if os.name == "nt" else "python")
    if not python.exists():
        raise InvalidSourceError(venv, f"$VIRTUAL_ENV has no {scripts}/{python.name}")
    return str(python), None


def cmd_dir(args: argparse.Namespace, console: Console) -> int:
    """``wheelcache dir``: print the cache directory."""
    console.line(str(_open(args).root.absolute()))
    return EXIT_OK


def cmd_info(args: argparse.Namespace, console: Console) -> int:
    """``wheelcache info``: summarise what the cache holds."""
    from .remote import status_json, status_lines
    from .reports import info_json, info_lines

    cache = _open(args)
    with console.progress() as progress:
        stats = cache.stats(progress=progress)
    remote = cache.remote_status()
    if args.json:
        console.json({**info_json(stats), "remote": status_json(remote)})
    else:
        console.lines([*info_lines(stats), *status_lines(remote)])
    return EXIT_OK


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    """``wheelcache list``: the cached wheels the pattern matches (all without one)."""
    from .reports import list_json, list_summary, list_table

    with console.progress() as progress:
        found = [
            item
            for item in _listing(_open(args), progress)
            if args.pattern is None or _listed_matches(item, args.pattern)
        ]
    found.sort(key=lambda i: (i.wheel.name, i.wheel.version, i.wheel.filename, i.source or ""))
    form = "json" if args.json else args.format
    if form == "json":
        console.json(list_json(found))
    elif form == "path":
        console.lines([str(path) for path in dict.fromkeys(i.wheel.path for i in found)])
    elif found:
        console.table(*list_table(found))
        console.line(list_summary(found))
    else:
        console.line("No cached wheels" + (f" match {args.pattern!r}." if args.pattern else "."))
    return EXIT_OK


def _listed_matches(item: ListedWheel, pattern: str) -> bool:
    """True when *pattern* matches the project name, ``name-version``, the version or a file name.

    Project names are compared normalised; the rest ignoring case.
    """
    from fnmatch import fnmatchcase

    from packaging.utils import canonicalize_name

    wheel = item.wheel
    if fnmatchcase(wheel.name, canonicalize_name(pattern)):
        return True
    folded = pattern.lower()
    texts = (f"{wheel.name}-{wheel.version}", str(wheel.version), wheel.filename, item.source_file)
    return any(text is not None and fnmatchcase(text.lower(), folded) for text in texts)


def _listing(cache: WheelCache, progress: ProgressLine) -> Iterator[ListedWheel]:
    """Each source's wheels, then every wheel no source names."""
    from .._unpacked.trees import read_manifest
    from .reports import ListedWheel

    def tree_bytes(sha256: str) -> int | None:
        manifest = read_manifest(cache._layout.tree_dir(sha256))
        return None if manifest is None else manifest.size

    named = set()
    for seen, record in enumerate(cache.sources(), 1):
        if seen % 256 == 0:
            progress("list", seen, 0)
        for wheel in record.wheels:
            named.add(wheel.sha256)
            yield ListedWheel(
                wheel, record.key, record.name, record.last_used, record.filename,
                tree_bytes(wheel.sha256),
            )  # fmt: skip
    for wheel in cache.wheels():
        if wheel.sha256 not in named:
            try:
                used = os.stat(wheel.path).st_mtime
            except OSError:
                continue  # pruned meanwhile
            yield ListedWheel(wheel, None, None, used, tree_bytes=tree_bytes(wheel.sha256))


def cmd_prune(args: argparse.Namespace, console: Console) -> int:
    """``wheelcache prune``: delete wheels no process needs any more (``--remote``: remotely)."""
    if getattr(args, "remote", None) is not None:
        from .remote import prune_remote

        return prune_remote(args, console)
    from .maintenance_reports import prune_json, prune_lines

    with console.progress() as progress:
        report = _open(args).prune(
            args.grace,
            max_size=args.max_size,
            max_age=args.max_age,
            dry_run=args.dry_run,
            progress=progress,
        )
    _show(console, args.json, report, prune_json, prune_lines)
    return EXIT_OK


def cmd_clean(args: argparse.Namespace, console: Console) -> int:
    """``wheelcache clean``: empty the cache, and say what went."""
    from .maintenance_reports import clean_json, clean_lines

    report = _open(args).clean(dry_run=args.dry_run)
    _show(console, args.json, report, clean_json, clean_lines)
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, console: Console) -> int:
    """``wheelcache remove``: retire the sources a pattern matches; 1 if none does."""
    from .maintenance_reports import remove_json, remove_lines

    with console.progress() as progress:
        report = _open(args).remove(
            *args.patterns, grace=args.grace, dry_run=args.dry_run, progress=progress
        )
    if args.json:
        console.json(remove_json(report))
    elif report.retired_sources:
        console.lines(remove_lines(report))
    else:
        console.line(f"No cached source matches {' '.join(map(repr, args.patterns))}.")
    return EXIT_OK if report.retired_sources else EXIT_FAILED


def cmd_completion(args: argparse.Namespace, console: Console) -> int:
    """``wheelcache completion SHELL``: print the completion script for SHELL."""
    from .completion import completion_script

    console.out.write(completion_script(args.parser, args.shell))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, console: Console) -> int:
    """``wheelcache verify``: re-hash every wheel and check every pointer; 1 if any problem."""
    from .maintenance_reports import verify_json, verify_lines

    with console.progress() as progress:
        report = _open(args).verify(repair=args.repair, progress=progress)
    _show(console, args.json, report, verify_json, verify_lines)
    return EXIT_OK if report.sound else EXIT_FAILED
