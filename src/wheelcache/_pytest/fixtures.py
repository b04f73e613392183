"""The pytest plugin's fixtures: ``wheel_cache``, ``wheel_for`` and ``project_wheel``.

All are session-scoped. Building goes through ``get_or_build``, which is
single-flight across processes sharing a cache directory, so the workers of a
pytest-xdist run (which share the default cache, ``$WHEELCACHE_DIR`` or the
user cache, as well as any configured one) build each source once, and a
second run finds it built. A failed build is shared through the failure
record (:mod:`wheelcache._pytest.failures`). Nothing here imports the build
machinery until a fixture is used and a wheel is missing.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .settings import Settings, settings_of

if TYPE_CHECKING:
    import os
    from collections.abc import Iterator, Sequence

    from .._cache import WheelCache
    from .._errors import CacheError
    from .._wheel import CachedWheel
    from .failures import FailureRecords
    from .venvs import ProjectVenv

__all__ = ["WheelFor", "project_venv", "project_wheel", "wheel_cache", "wheel_for"]

_RECORDS_DIRECTORY = "wheelcache-failed-builds"


class WheelFor:
    """``wheel_for(path, *, isolation=None, cache_keys=None)``: the wheel of a project or sdist.

    *path* is a project directory or an sdist (``.tar.gz``, ``.zip``); a
    relative path is taken from the rootdir. *isolation* None means the
    configured default (``--wheelcache-no-isolation``). *cache_keys* narrows a
    project's fingerprint (see ``Source.from_tree``). Any failure fails the
    calling test or fixture with one message.
    """

    def __init__(self, cache: WheelCache, settings: Settings, failures: FailureRecords) -> None:
        self.cache = cache
        self.settings = settings
        self.failures = failures

    def __call__(
        self,
        path: str | os.PathLike[str],
        *,
        isolation: bool | None = None,
        cache_keys: Sequence[str] | None = None,
    ) -> CachedWheel:
        from .._build.from_path import builder_for, source_at
        from .._errors import BuildFailedError, CacheError

        where = Path(self.settings.rootdir, path)
        isolated = self.settings.isolation if isolation is None else isolation
        try:
            source, _kind = source_at(where, cache_keys, cache=self.cache)
            record = self.failures.record_for(source, isolation=isolated)
            build = builder_for(where, isolation=isolated)

            def build_once_per_run(output_dir: Path) -> None:
                record.raise_if_recorded()  # the build lock is held: see failures.py
                try:
                    build(output_dir)
                except BuildFailedError as exc:
                    record.write(exc)
                    raise

            return self.cache.get_or_build(source, build_once_per_run)
        except CacheError as exc:
            message = _describe(where, exc)
        # Outside the except clause: one message, no chain of tracebacks behind it.
        pytest.fail(message, pytrace=False)

    def __repr__(self) -> str:
        return f"<wheel_for {self.cache!r}>"


def _describe(path: Path, error: CacheError) -> str:
    """One clear message: what could not be built, why, and what the backend said last."""
    from .._errors import BuildFailedError, InvalidSourceError

    if isinstance(error, InvalidSourceError):  # its message starts with the path
        return f"wheelcache: no wheel for {error}"
    message = f"wheelcache: no wheel for {path}: {error}"
    if isinstance(error, BuildFailedError):
        if error.output:
            lines = "\n".join(f"    {line}" for line in error.output)
            message += f"\nthe last lines of the build's output:\n{lines}"
        message += (
            "\n(every test needing this wheel reports this failure without building again;"
            " the next test run builds it again)"
        )
    return message


@pytest.fixture(scope="session")
def wheel_cache(pytestconfig: pytest.Config) -> WheelCache:
    """The :class:`~wheelcache.WheelCache` the wheelcache fixtures use."""
    from .._cache import WheelCache

    return WheelCache(settings_of(pytestconfig).cache_dir)


@pytest.fixture(scope="session")
def wheel_for(
    wheel_cache: WheelCache,
    pytestconfig: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
) -> WheelFor:
    """A callable: ``wheel_for(path, *, isolation=None, cache_keys=None) -> CachedWheel``.

    Each source is built at most once per test run, whatever the number of
    pytest-xdist workers; a build that fails, fails once.
    """
    from .failures import FailureRecords

    worker_input = getattr(pytestconfig, "workerinput", None)
    shared = tmp_path_factory.getbasetemp()
    if worker_input is not None:  # a pytest-xdist worker
        run_id = str(worker_input["testrunuid"])
        shared = shared.parent  # the run's basetemp; each worker has a directory in it
    else:
        run_id = uuid.uuid4().hex
    records = FailureRecords(shared / _RECORDS_DIRECTORY, run_id)
    return WheelFor(wheel_cache, settings_of(pytestconfig), records)


@pytest.fixture(scope="session")
def project_wheel(wheel_for: WheelFor, pytestconfig: pytest.Config) -> CachedWheel:
    """The wheel of the project at the rootdir (or ini ``wheelcache_project``)."""
    return wheel_for(settings_of(pytestconfig).project)


@pytest.fixture(scope="session")
def project_venv(
    project_wheel: CachedWheel,
    wheel_cache: WheelCache,
    pytestconfig: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProjectVenv]:
    """A fresh virtual environment (one per session: per pytest-xdist worker) holding the project.

    The project is ``project_wheel``'s, installed by linking from the cache
    (see :mod:`wheelcache._pytest.venvs`). At the end of the session, a file
    that a test wrote through a link into the cache fails the session's last
    test, and its tree is quarantined.
    """
    from .._errors import CacheError
    from .venvs import make_project_venv

    root = tmp_path_factory.mktemp("project-venv")
    project = settings_of(pytestconfig).project
    message = ""
    try:
        made = make_project_venv(root, wheel_cache, project_wheel, project)
    except CacheError as exc:
        message = f"wheelcache: cannot install {project_wheel.filename} into {root}: {exc}"
    if message:
        pytest.fail(message, pytrace=False)
    yield made
    written = made.check_links()
    if written:
        pytest.fail(
            "wheelcache: tests wrote to files of project_venv that are linked from the cache:"
            f" {', '.join(written)}; the cache's unpacked tree was moved to quarantine and will"
            " be unpacked again",
            pytrace=False,
        )
