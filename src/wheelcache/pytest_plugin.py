"""wheelcache's pytest plugin: build the wheels a test suite needs once per test run.

Registered under the ``pytest11`` entry point as ``wheelcache``, so installing
wheelcache enables it (``-p no:wheelcache`` disables it). Loading it imports
no build machinery; only a fixture that finds a wheel missing does.

Options (command line, then ini): ``--wheelcache-dir`` / ``wheelcache_dir``
(default: ``$WHEELCACHE_DIR``, else the user cache directory, so the next run
is a hit), ``--wheelcache-no-isolation`` / ``wheelcache_no_isolation``, and ini
``wheelcache_project`` (the directory ``project_wheel`` builds; default: the
rootdir).

Session fixtures: ``wheel_cache`` (the :class:`~wheelcache.WheelCache`),
``wheel_for(path, *, isolation=None, cache_keys=None)`` (the
:class:`~wheelcache.CachedWheel` of a project directory or sdist; relative
paths from the rootdir), ``project_wheel`` and ``project_venv`` (a fresh
virtual environment per session, that is per worker, with the project
installed by linking from the cache). With pytest-xdist, each source
is built once for the whole run, and a failing build runs once: the other
workers report the same error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._pytest.fixtures import project_venv, project_wheel, wheel_cache, wheel_for
from ._pytest.settings import add_options

if TYPE_CHECKING:
    import pytest

__all__ = ["project_venv", "project_wheel", "pytest_addoption", "wheel_cache", "wheel_for"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--wheelcache-*`` options and the ``wheelcache_*`` ini keys."""
    add_options(parser)
