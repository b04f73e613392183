"""Fixtures shared by the whole suite: hermetic environment, caches, child reaping."""

from __future__ import annotations

import os
import sys
import warnings
from typing import TYPE_CHECKING

import pytest

from installkit import Venv, make_venv
from procs import SRC, SyncPoints, reap_all
from sampleproject import write_flit_project
from wheelcache import Source, WheelCache
from wheelcache._fs import syncpoints as _syncpoints
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# pytester: tests/test_pytest_plugin.py runs pytest itself. netfs.rig: the
# two-host rig (one directory mounted twice with sshfs) for tests/netfs and
# the stress run across hosts in tests/torture.
pytest_plugins = ["pytester", "netfs.rig"]

NOT_INHERITED = (
    "NO_COLOR",
    "FORCE_COLOR",
    "TERM",
    "COLUMNS",
    "PYTHONWARNINGS",
    "WHEELCACHE_SYNCPOINTS",
    "WHEELCACHE_LOCK_MODE",
)
"""Environment variables that would change what the code under test (or a child) does."""


@pytest.fixture(autouse=True)
def _hermetic(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """No test sees the developer's cache, terminal and colour settings or sync points."""
    monkeypatch.setenv("WHEELCACHE_DIR", str(tmp_path_factory.mktemp("default-cache")))
    for name in (*NOT_INHERITED, *REMOTE_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    _syncpoints.reset()
    _forget_remote_failures()
    yield
    _syncpoints.reset()
    _forget_remote_failures()


REMOTE_VARIABLES = (
    "WHEELCACHE_REMOTE",
    "WHEELCACHE_REMOTE_MODE",
    "WHEELCACHE_REMOTE_KEY",
    "WHEELCACHE_REMOTE_TIMEOUT",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT",
    "AWS_PROFILE",
)


def _forget_remote_failures() -> None:
    """A remote found down stays down for the process: not across tests."""
    tier = sys.modules.get("wheelcache._remote.tier")
    if tier is not None:
        tier._DOWN.clear()


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own cache, also the ``wheelcache`` command's default (``WHEELCACHE_DIR``)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("WHEELCACHE_DIR", str(path))
    return path


@pytest.fixture
def hermetic_children(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Children get this test's cache and see this checkout.

    Modules whose tests run the ``wheelcache`` command as a child process use
    it for every test: ``pytestmark = pytest.mark.usefixtures("hermetic_children")``.
    """
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))


@pytest.fixture(autouse=True)
def _reap_children() -> Iterator[None]:
    """Every child process a test started is killed and reaped, pass or fail."""
    yield
    reap_all()


@pytest.fixture
def cache(tmp_path: Path) -> WheelCache:
    return WheelCache(tmp_path / "cache")


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    return make_wheel(tmp_path / "wheels", "demo", "1.0")


@pytest.fixture
def source() -> Source:
    return Source("https://example.invalid/demo-1.0.tar.gz", "rev-1", "demo")


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small project tree, left untouched by tests (its fingerprint is its content's)."""
    return write_flit_project(tmp_path_factory.mktemp("project") / "demo")


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many files a tree fingerprint has read so far (a one-item list; reset it at will)."""
    from wheelcache._tree import digests as _digests

    count = [0]
    real = _digests.read_digest

    def read_digest(fd: int, size: int) -> bytes:
        count[0] += 1
        return real(fd, size)

    monkeypatch.setattr(_digests, "read_digest", read_digest)
    return count


@pytest.fixture
def syncpoints(tmp_path: Path) -> SyncPoints:
    return SyncPoints(tmp_path / "syncpoints")


@pytest.fixture
def tarfile_without_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    """tarfile as Python 3.9-3.11 had it before their 2023 security releases: no filters."""
    import tarfile

    real = tarfile.TarFile.extractall

    def extractall(self: tarfile.TarFile, *args: object, **kwargs: object) -> None:
        if "filter" in kwargs:
            raise TypeError("extractall() got an unexpected keyword argument 'filter'")
        with warnings.catch_warnings():
            # 3.12-3.13 warn when extracting without a filter; the older ones did not.
            warnings.simplefilter("ignore", DeprecationWarning)
            real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    monkeypatch.setattr(tarfile.TarFile, "extractall", extractall)


@pytest.fixture(scope="session")
def base_venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """One real virtual environment (with pip), made once per session; tests use copies."""
    return make_venv(tmp_path_factory.mktemp("base") / "venv")


@pytest.fixture
def venv(base_venv: Venv, tmp_path: Path) -> Venv:
    """A real virtual environment of the test's own (a copy of the session's)."""
    return make_venv(tmp_path / "venv", base_venv)
