"""The pytest plugin's options: command line and ini, and where they point.

Every option has a command-line form and an ini form; the command line wins.
Paths in the ini file are relative to the file's directory, paths on the
command line to the directory pytest was started in, and the paths given to
``wheel_for`` (and ``wheelcache_project``) to the rootdir.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import pytest

__all__ = ["Settings", "add_options", "settings_of"]


class Settings(NamedTuple):
    """What the options say, resolved."""

    cache_dir: Path | None
    """The cache root; None: ``$WHEELCACHE_DIR``, else the user cache directory."""
    isolation: bool
    """Whether builds are isolated unless a ``wheel_for`` call says otherwise."""
    rootdir: Path
    project: Path
    """The project ``project_wheel`` builds."""


def add_options(parser: pytest.Parser) -> None:
    """Register the plugin's command-line and ini options."""
    group = parser.getgroup("wheelcache", "wheelcache: build each wheel once per test run")
    group.addoption(
        "--wheelcache-dir",
        metavar="DIR",
        default=None,
        help="the wheel cache the wheelcache fixtures use (default: ini wheelcache_dir, else"
        " $WHEELCACHE_DIR, else the user cache directory)",
    )
    group.addoption(
        "--wheelcache-no-isolation",
        action="store_true",
        default=False,
        help="build without isolation: the build backends must be installed here",
    )
    parser.addini("wheelcache_dir", "the wheel cache the wheelcache fixtures use", default="")
    parser.addini(
        "wheelcache_no_isolation", "build wheels without isolation", type="bool", default=False
    )
    parser.addini(
        "wheelcache_project",
        "the project directory project_wheel builds (default: the rootdir)",
        default="",
    )


def settings_of(config: pytest.Config) -> Settings:
    """The settings in force for this test run."""
    rootdir = Path(config.rootpath)
    ini_base = Path(config.inipath).parent if config.inipath is not None else rootdir
    cache_dir: Path | None = None
    given = config.getoption("wheelcache_dir")
    if given:
        cache_dir = _absolute(config.invocation_params.dir, given)
    elif config.getini("wheelcache_dir"):
        cache_dir = _absolute(ini_base, str(config.getini("wheelcache_dir")))
    no_isolation = bool(config.getoption("wheelcache_no_isolation")) or bool(
        config.getini("wheelcache_no_isolation")
    )
    project = _absolute(rootdir, str(config.getini("wheelcache_project") or "."))
    return Settings(cache_dir, not no_isolation, rootdir, project)


def _absolute(base: Path, path: str) -> Path:
    """*path* (``~`` expanded) taken from *base*, with ``..`` resolved."""
    return Path(os.path.normpath(Path(base, Path(path).expanduser())))
