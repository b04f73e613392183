"""The command's warm path for ``wheelcache install``: sources already cached, trees unpacked.

When the arguments are a plain install --
``[--cache-dir DIR] [-q] install SOURCE... [--python PYTHON | --target DIR]
[--link-mode MODE] [--no-isolation]``, each option at most once, the SOURCEs
one run of arguments, nothing else -- and every SOURCE's wheel is in the
cache with its unpacked tree, :func:`warm_install` installs them as
``wheelcache install`` does and prints what it prints. It skips what the
full command spends most of its time importing: argparse, logging, the
:class:`~wheelcache.WheelCache` facade with its store, locks and remote tier,
and :mod:`packaging`. The install itself is the library's
(:func:`~wheelcache._install.install.install_tree`, the same call
:meth:`WheelCache.install <wheelcache.WheelCache.install>` makes).

Nothing is installed until every SOURCE has been found. Until then anything
else -- other arguments, ``--json``, ``-v``, ``--compile``, a remote, a
wheel that is not cached or has no tree yet (a build or an unpacking), a
record the library logs at INFO or above, an error of any kind -- goes to
the full command, which redoes the work from the start. Once installing has
begun, the work is not redone: a record the library logs is replayed through
the full command's logging set-up, an error is reported as the full command
reports it, and a SOURCE whose tree vanished meanwhile (garbage collection)
is installed as the full command installs it
(:mod:`~wheelcache._cli.warm_vanished`): its wheel through the cache, added
or built again if it went too, then unpacked again.
tests/cli/test_cli_warm_install.py checks that both paths print the same.
"""

from __future__ import annotations

import os
import sys

from .._install.linking import LINK_MODES
from .warm_lookup import has_wheel, hit, warm_root, writable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from .._install.install import Installed
    from .._install.result import InstallResult
    from .._install.scheme import Target
    from .._unpacked.trees import Tree

__all__ = ["WarmInstall", "parse_warm_install", "warm_install"]

_VALUED = ("--cache-dir", "--python", "--target", "--link-mode")


class WarmInstall:
    """A plain ``wheelcache install``: what it installs, where, how, ``-q`` and isolation."""

    __slots__ = ("cache_dir", "isolation", "link_mode", "python", "quiet", "sources", "target")

    def __init__(
        self,
        cache_dir: str | None,
        sources: Sequence[str],
        *,
        python: str | None = None,
        target: str | None = None,
        link_mode: str = "auto",
        quiet: bool = False,
        isolation: bool = True,
    ) -> None:
        self.cache_dir = cache_dir
        self.sources = tuple(sources)
        self.python = python
        self.target = target
        self.link_mode = link_mode
        self.quiet = quiet
        self.isolation = isolation

    def _key(self) -> tuple[object, ...]:
        mine = (self.cache_dir, self.sources, self.python, self.target, self.link_mode)
        return (*mine, self.quiet, self.isolation)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WarmInstall):
            return NotImplemented
        return self._key() == other._key()

    def __repr__(self) -> str:
        return f"WarmInstall{self._key()!r}"


def parse_warm_install(args: Sequence[str]) -> WarmInstall | None:
    """The plain install *args* ask for, or None when the full parser must read them.

    ``--cache-dir`` and ``-q``/``--quiet`` go before or after ``install``;
    ``--python``, ``--target``, ``--link-mode`` (``--option VALUE`` or
    ``--option=VALUE``) and ``--no-isolation`` after it. Each at most once,
    not both ``--python`` and ``--target``, a known link mode; the SOURCEs
    one unbroken run. A value or SOURCE that is empty or starts with ``-``
    is left to argparse, as is every other option or abbreviation.
    """
    values: dict[str, str] = {}
    sources: list[str] = []
    quiet = isolation_flag = command = False
    run_ended = False  # the SOURCEs' run was interrupted by an option
    position = 0
    while position < len(args):
        arg = args[position]
        position += 1
        option, equals, value = arg.partition("=")
        if option in _VALUED and (command or option == "--cache-dir"):
            if not equals:
                if position == len(args):
                    return None
                value = args[position]
                position += 1
            if option in values or not value or value.startswith("-"):
                return None
            values[option] = value
            run_ended = bool(sources)
        elif arg in ("-q", "--quiet") and not quiet:
            quiet = True
            run_ended = bool(sources)
        elif arg == "--no-isolation" and command and not isolation_flag:
            isolation_flag = True
            run_ended = bool(sources)
        elif arg == "install" and not command:
            command = True
        elif command and not run_ended and arg and not arg.startswith("-"):
            sources.append(arg)
        else:
            return None
    link_mode = values.get("--link-mode", "auto")
    if not sources or link_mode not in LINK_MODES:
        return None
    if "--python" in values and "--target" in values:
        return None
    return WarmInstall(
        values.get("--cache-dir"),
        sources,
        python=values.get("--python"),
        target=values.get("--target"),
        link_mode=link_mode,
        quiet=quiet,
        isolation=not isolation_flag,
    )


def warm_install(request: WarmInstall) -> int | None:
    """Install as ``wheelcache install`` does and return its status; None: run the full command."""
    from .._log import hold, release

    hold()
    try:
        found = _find(request)
    except KeyboardInterrupt as exc:
        release()
        return _reported(exc, request, [])
    except Exception:  # the full command meets it again, and says what it is
        found = None
    if release() or found is None or not writable(sys.stdout, "installed\n"):
        return None
    environment, planned = found
    hold()  # from here on the work is done once: what the library logs is replayed
    try:
        for source, tree, direct_url in planned:
            result = _install(request, environment, source, tree, direct_url)
            if result.unsatisfied:
                from .._log import get_logger

                get_logger().warning(
                    "%s %s requires %s, not installed (dependencies are not installed)",
                    result.name,
                    result.version,
                    ", ".join(result.unsatisfied),
                )
            from .reports import install_line

            sys.stdout.write(install_line(result) + "\n")
    except BrokenPipeError:
        _replay(release(), request)
        from .main import _discard_stdout

        _discard_stdout()
        return 1
    except (Exception, KeyboardInterrupt) as exc:
        return _reported(exc, request, release())
    _replay(release(), request)
    return 0


def _find(
    request: WarmInstall,
) -> tuple[_Environment, list[tuple[str, Tree, dict[str, Any]]]] | None:
    """The environment, and each SOURCE's tree and ``direct_url.json``; None unless all found."""
    root = warm_root(request.cache_dir)
    if root is None or not all(
        os.path.isfile(os.path.join(root, name))
        for name in ("CACHEDIR.TAG", "wheelcache-layout.json")
    ):
        return None  # WheelCache.install writes them first (Layout.ensure_root)
    import importlib.util

    if importlib.util.find_spec("installer") is None:
        return None  # WheelCache.install says which extra to install
    environment = _environment(request)
    if environment is None:
        return None
    planned = []
    for given in request.sources:
        found = _tree(root, given, request)
        if found is None:
            return None
        planned.append(found)
    return environment, planned


class _Environment:
    """Where ``cmd_install`` installs: its *python* and *target* arguments, and the Target."""

    __slots__ = ("python", "scheme", "target")

    def __init__(self, python: str | None, target: str | None, scheme: Target) -> None:
        self.python = python
        self.target = target
        self.scheme = scheme


def _environment(request: WarmInstall) -> _Environment | None:
    """The environment ``cmd_install`` would install into; None: let it say what is wrong."""
    from .._install import scheme

    if request.target is not None:
        from pathlib import Path

        target = str(Path(request.target).absolute())
        return _Environment(None, target, scheme.for_directory(target))
    python = request.python
    if python is None:
        venv = os.environ.get("VIRTUAL_ENV")
        if not venv or os.name == "nt":
            return None
        python = os.path.join(venv, "bin", "python")
        if not os.path.exists(python):
            return None
    return _Environment(python, None, scheme.for_interpreter(python))


def _tree(root: str, given: str, request: WarmInstall) -> tuple[str, Tree, dict[str, Any]] | None:
    """SOURCE's cached wheel's published tree and ``direct_url.json``, or None."""
    from pathlib import Path

    from .._fs.nofollow import refuse_links
    from .._paths import LAYOUT_VERSION
    from .._unpacked.trees import MANIFEST_NAME, published_tree

    path = Path(given).absolute()  # as cmd_install has it
    digest = None
    if path.name.endswith(".whl") and not path.is_dir():
        from .._fs.hashing import file_sha256

        digest = file_sha256(path)
        sha256 = digest if has_wheel(root, digest) else None
    else:
        found = hit(request.cache_dir, given)
        sha256 = None if found is None else os.path.basename(os.path.dirname(found[0]))
    if sha256 is None:
        return None  # not cached: the full command adds or builds it
    directory = Path(root, f"trees-v{LAYOUT_VERSION}", sha256[:2], sha256)
    refuse_links(Path(root), directory / MANIFEST_NAME)
    tree = published_tree(str(directory), sha256)
    if tree is None:
        return None  # not unpacked yet, or damaged: the full command unpacks it
    from .._install.api import direct_url

    return str(path), tree, direct_url(path, digest)


def _install(
    request: WarmInstall,
    environment: _Environment,
    source: str,
    tree: Tree,
    direct_url: dict[str, Any],
) -> Installed | InstallResult:
    """Install one tree, as :meth:`WheelCache.install` does; as the full command if it vanished."""
    from .._install.install import TreeVanishedError, install_tree

    try:
        return install_tree(
            tree,
            environment.scheme,
            link_mode=request.link_mode,
            compile_bytecode=False,
            direct_url=direct_url,
        )
    except TreeVanishedError:
        from .._log import hold, release
        from .warm_vanished import install_as_the_full_command

        # What earlier SOURCEs logged comes first, and this one logs as it goes
        # (partly through logging itself): stderr in the full command's order.
        _replay(release(), request)
        try:
            return install_as_the_full_command(
                source,
                (environment.python, environment.target),
                cache_dir=request.cache_dir,
                link_mode=request.link_mode,
                quiet=request.quiet,
                isolation=request.isolation,
            )
        finally:
            hold()


def _replay(records: list[tuple[str, int, str, tuple[object, ...]]], request: WarmInstall) -> None:
    """Log *records* kept back while installing, through the full command's logging."""
    if not records:
        return
    import logging

    from .main import _logging_to

    with _logging_to(sys.stderr, -1 if request.quiet else 0):
        for name, level, message, args in records:
            logging.getLogger(name).log(level, message, *args)


def _reported(
    exc: BaseException,
    request: WarmInstall,
    records: list[tuple[str, int, str, tuple[object, ...]]],
) -> int:
    """Report *exc* as the full command does (after what was logged); return its exit status."""
    from .console import Console
    from .main import _report

    _replay(records, request)
    return _report(exc, Console(sys.stdout, sys.stderr, -1 if request.quiet else 0))
