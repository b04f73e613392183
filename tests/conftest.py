"""Fixtures shared by the whole suite: hermetic environment, caches, child reaping."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import wheelcache
from procs import SyncPoints, reap_all
from wheelcache import Source, WheelCache
from wheelcache._fs import syncpoints as _syncpoints
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from collections.abc import Iterator

SRC = Path(wheelcache.__file__).resolve().parent.parent
"""The directory holding the wheelcache under test, for children's PYTHONPATH."""


@pytest.fixture(autouse=True)
def _hermetic(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """No test sees the developer's cache, colour settings or sync points."""
    monkeypatch.setenv("WHEELCACHE_DIR", str(tmp_path_factory.mktemp("default-cache")))
    for name in ("NO_COLOR", "FORCE_COLOR", "WHEELCACHE_SYNCPOINTS"):
        monkeypatch.delenv(name, raising=False)
    _syncpoints.reset()
    yield
    _syncpoints.reset()


@pytest.fixture
def hermetic_children(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Children get their own cache, see this checkout, and no colour settings.

    Modules whose tests run the ``wheelcache`` command as a child process use
    it for every test: ``pytestmark = pytest.mark.usefixtures("hermetic_children")``.
    """
    monkeypatch.setenv("WHEELCACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    for name in ("NO_COLOR", "FORCE_COLOR", "TERM", "PYTHONWARNINGS"):
        monkeypatch.delenv(name, raising=False)


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


@pytest.fixture
def syncpoints(tmp_path: Path) -> SyncPoints:
    return SyncPoints(tmp_path / "syncpoints")
