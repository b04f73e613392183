"""The argument parser of the ``wheelcache`` command: its commands, options and help.

:func:`build_parser` builds a fresh parser each call. Each command's parser
names its handler (in :mod:`wheelcache._cli.commands`) as the ``handler``
default; the global options (``--cache-dir``, ``-q``, ``-v``) are accepted
before the command and after it.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable

from .._version import __version__
from .commands import (
    cmd_build,
    cmd_clean,
    cmd_completion,
    cmd_dir,
    cmd_info,
    cmd_install,
    cmd_list,
    cmd_prune,
    cmd_remove,
    cmd_verify,
)
from .completion import SHELLS
from .remote import CONFIGURED, cmd_push
from .units import parse_duration, parse_size

__all__ = ["PROG", "build_parser"]

PROG = "wheelcache"

_EPILOGS = {
    "build": (
        "The last line of stdout is the cached wheel's path; stderr says hit or built in N s"
        " (backend output only with -v, or its last lines when the build fails). To install"
        ' it, again after an edit: wheel="$(wheelcache build .)" && pip install'
        ' --force-reinstall --no-deps "$wheel". JSON keys: path, filename, name, version,'
        " sha256, size, built (false on a cache hit), source {kind: tree|sdist, path, key}."
    ),
    "install": (
        "Dependencies are not installed: the ones the environment lacks are listed as a"
        " warning. The environment: --python's, --target, else $VIRTUAL_ENV's. One line per"
        " distribution: 'installed NAME VERSION (LINK MODE, TIME)' or 'unchanged NAME VERSION'."
        " JSON keys: installed [{name, version, action, link_mode, files, seconds, dist_info,"
        " replaced, unsatisfied, wheel {path, filename, name, version, sha256, size}, built,"
        " source {kind: tree|sdist|wheel, path, key}}], python, target."
    ),
    "info": (
        "JSON keys: root, layout_version, wheels, wheel_bytes, sources, referenced_entries,"
        " referenced_bytes, reclaimable_bytes, staging_items, staging_bytes, trash_items,"
        " trash_bytes, quarantine_items, trees, tree_bytes, remote (null, or {url, mode,"
        " answered, problem, rejected_objects})."
    ),
    "list": (
        "Unpacked: the size of the wheel's unpacked tree (made by wheelcache install), or '-'."
        " A wheel named by several sources is listed once per source; a wheel no source names"
        " has source null and its last_used is when it was last handed out or published."
        " PATTERN matches six, six-1.17.0, 1.17.0, six-1.17.0-py2.py3-none-any.whl and"
        " six-1.17.0.tar.gz alike. JSON keys: wheels [{name, version, filename, size, sha256,"
        " path, source, source_name, source_file, last_used, last_used_timestamp, tree_bytes}],"
        " count, total_bytes."
    ),
    "prune": (
        "DURATION: a number and a unit s, m, h, d or w (30m, 12h, 7d). SIZE: a number and a"
        " unit K, M, G or T, powers of 1000 (500M, 5G), or KiB, MiB, GiB, TiB. JSON keys:"
        " dry_run, removed_entries, freed_bytes, kept_entries, kept_bytes, referenced_entries,"
        " referenced_bytes, retired_sources [keys], reclaimed_staging, reclaimed_trash,"
        " restored_entries, removed_quarantine, waiting_entries, waiting_bytes, waiting_until,"
        " waiting_until_timestamp (when the waiting wheels become removable), grace, seconds,"
        " removed_trees, kept_trees, kept_tree_bytes."
        " With --remote (the configured remote, or the URL given):"
        " expire remote records older than --max-age (default 30d), then wheel objects no"
        " record names older than --grace (default 1h); JSON keys: dry_run, removed_records,"
        " removed_wheels, freed_bytes, kept_records, kept_wheels, kept_bytes."
    ),
    "push": "JSON keys: sources, wheels, uploaded, skipped.",
    "remove": (
        "PATTERN: a shell glob matched against project names (normalised: 'Django*' matches"
        " django), sdist file names and project directories. Exit status 1 when no source"
        " matches. JSON keys: dry_run, removed_entries, freed_bytes, referenced_entries,"
        " referenced_bytes, retired_sources [keys], waiting_entries, waiting_bytes,"
        " waiting_until, waiting_until_timestamp, grace."
    ),
    "completion": (
        "Install it where your shell looks: bash: wheelcache completion bash >"
        " ~/.local/share/bash-completion/completions/wheelcache; zsh: wheelcache completion"
        " zsh > ~/.zfunc/_wheelcache, with fpath+=(~/.zfunc) before compinit in ~/.zshrc;"
        " fish: wheelcache completion fish > ~/.config/fish/completions/wheelcache.fish."
    ),
    "clean": (
        "JSON keys: dry_run, removed_entries, removed_sources, removed_quarantine, freed_bytes."
    ),
    "verify": (
        "Exit status 1 when anything is corrupt, dangling or unreadable, even once repaired."
        " JSON keys: sound, entries_checked, bytes_checked, corrupt [{sha256, path, problem,"
        " sources}], dangling [{key, pointer, missing}], unreadable_pointers, links,"
        " not_permitted, repaired, quarantined, mended_pointers, corrupt_trees [{sha256, path,"
        " problem}]."
    ),
}


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, told the width as shutil would find it, without importing shutil.

    argparse makes a formatter for every argument it adds, and the default
    one imports shutil (with bz2, lzma and zlib) to ask the terminal's width:
    more than parsing a warm ``wheelcache build`` costs.
    """

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_columns() - 2)


def _terminal_columns() -> int:
    """``$COLUMNS``, else the width of the terminal on stdout, else 80 (as shutil does)."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``wheelcache`` command."""
    from .._install.linking import LINK_MODES  # os, sys, errno: nothing more

    parser = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=_HelpFormatter,
        description="Build wheels from sdists and projects once, and share them through a cache.",
        epilog="Exit status: 0 success, 1 problems found or failure, 2 usage error or bad input.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_global_options(parser, top=True)
    # The global options are accepted after the command as well.
    common = argparse.ArgumentParser(add_help=False, formatter_class=_HelpFormatter)
    _add_global_options(common, top=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Callable[..., int], text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            parents=[common],
            help=text,
            description=text,
            epilog=_EPILOGS.get(name),
            formatter_class=_HelpFormatter,
        )
        sub.set_defaults(handler=handler)
        return sub

    build = command("build", cmd_build, "Print the path of SOURCE's wheel, building it if needed.")
    build.add_argument(
        "source", metavar="SOURCE", help="an sdist (.tar.gz, .zip) or a project directory"
    )
    _add_no_isolation(build)
    _add_json(build)
    install = command(
        "install", cmd_install, "Install SOURCEs without dependencies, linking from the cache."
    )
    install.add_argument(
        "sources",
        metavar="SOURCE",
        nargs="+",
        help="a project directory, an sdist (.tar.gz, .zip) or a wheel (.whl)",
    )
    where = install.add_mutually_exclusive_group()
    where.add_argument(
        "--python", metavar="PYTHON", help="install into this interpreter's environment"
    )
    where.add_argument(
        "--target", metavar="DIR", help="install into this directory (like pip --target)"
    )
    install.add_argument(
        "--link-mode",
        choices=LINK_MODES,
        default="auto",
        help="how files are placed (default: auto, a reflink clone, else a hard link, else a copy)",
    )
    install.add_argument(
        "--compile", action="store_true", help="compile bytecode with the target interpreter"
    )
    _add_no_isolation(install)
    _add_json(install)
    command("dir", cmd_dir, "Print the cache directory.")
    _add_json(command("info", cmd_info, "Summarise what the cache holds."))
    listing = command("list", cmd_list, "List cached wheels.")
    listing.add_argument(
        "pattern",
        metavar="PATTERN",
        nargs="?",
        help="a glob on the project name, name-version, version or file name, e.g. 'django*'",
    )
    listing.add_argument(
        "--format",
        choices=("table", "path", "json"),
        default="table",
        help="a table (default), one wheel path per line, or JSON (as --json)",
    )
    _add_json(listing)
    prune = command("prune", cmd_prune, "Delete wheels no process needs any more.")
    _add_grace(prune)
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
    _add_dry_run(prune)
    _add_json(prune)
    remove = command("remove", cmd_remove, "Forget the sources PATTERN matches, and their wheels.")
    remove.add_argument(
        "patterns", metavar="PATTERN", nargs="+", help="a project name, sdist file or directory"
    )
    _add_grace(remove)
    _add_dry_run(remove)
    _add_json(remove)
    clean = command("clean", cmd_clean, "Empty the cache.")
    _add_dry_run(clean)
    _add_json(clean)
    _add_json(command("push", cmd_push, "Upload every current local revision to the remote."))
    completion = command("completion", cmd_completion, "Print the shell completion script.")
    completion.add_argument("shell", metavar="SHELL", choices=SHELLS, help="bash, zsh or fish")
    completion.set_defaults(parser=parser)  # the script is made from the whole parser
    verify = command("verify", cmd_verify, "Re-hash every wheel and check every pointer.")
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
    parser.add_argument(
        "--remote",
        metavar="URL",
        nargs="?",
        const=CONFIGURED,
        default=None if top else default,
        help="share wheels through this bucket, e.g. s3://bucket/prefix (default:"
        " $WHEELCACHE_REMOTE); with prune and no URL: prune the configured remote",
    )
    parser.add_argument(
        "--remote-mode",
        choices=("read", "write"),
        default=None if top else default,
        help="read: pull from the remote, never write to it (default: $WHEELCACHE_REMOTE_MODE,"
        " else write)",
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


def _add_grace(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--grace",
        metavar="DURATION",
        type=parse_duration,
        help="keep unreferenced wheels used more recently than this (default: 1h)",
    )


def _add_dry_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="report, change nothing")


def _add_no_isolation(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-isolation",
        action="store_true",
        help="build with the backend installed here instead of in a fresh environment",
    )


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
