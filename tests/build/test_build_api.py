"""``WheelCache.build``: the one-call build of a project directory or an sdist.

Builds run for real with pypa/build and the sample project's in-tree backend
(tests/sampleproject.py), which counts its builds in ``$SAMPLE_BUILD_LOG``.
"""

from __future__ import annotations

import logging
import pickle
import re
import threading
from typing import TYPE_CHECKING

import pytest
from packaging.tags import Tag

import wheelcache
from sampleproject import BUILD_LOG_VARIABLE, break_build, builds, make_sdist, write_project
from wheelcache import BuildFailedError, CacheError, InvalidSourceError, NoCompatibleWheelError

if TYPE_CHECKING:
    from pathlib import Path

    from wheelcache import WheelCache

pytestmark = pytest.mark.e2e

pytest.importorskip("build", reason="building needs pypa/build (the 'build' extra)")


@pytest.fixture
def build_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "builds.log"
    monkeypatch.setenv(BUILD_LOG_VARIABLE, str(log))
    return log


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("project") / "sample")


def test_build_of_a_project_twice_builds_once(
    cache: WheelCache, project: Path, build_log: Path
) -> None:
    first = cache.build(project, isolation=False)
    second = cache.build(project, isolation=False)

    assert builds(build_log) == 1
    assert second == first
    assert (first.name, str(first.version), first.path.is_file()) == ("sample", "1.0", True)


def test_build_with_isolation_needs_no_network_for_a_backend_without_requirements(
    cache: WheelCache, project: Path, build_log: Path
) -> None:
    wheel = cache.build(project)

    assert builds(build_log) == 1
    assert wheel.filename == "sample-1.0-py3-none-any.whl"


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_build_of_an_sdist_twice_builds_once(
    cache: WheelCache, project: Path, build_log: Path, tmp_path: Path, kind: str
) -> None:
    sdist = make_sdist(project, tmp_path / "dist", kind)

    first = cache.build(sdist, isolation=False)
    second = cache.build(str(sdist), isolation=False)

    assert builds(build_log) == 1
    assert second == first
    assert first.name == "sample"


@pytest.mark.usefixtures("tarfile_without_filters")
def test_build_of_a_tar_sdist_works_without_tarfile_filters(
    cache: WheelCache, project: Path, build_log: Path, tmp_path: Path
) -> None:
    sdist = make_sdist(project, tmp_path / "dist")

    wheel = cache.build(sdist, isolation=False)

    assert (builds(build_log), wheel.name) == (1, "sample")


def test_build_edited_project_builds_again(
    cache: WheelCache, build_log: Path, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "edited")
    cache.build(project, isolation=False)
    (project / "src" / "sample" / "__init__.py").write_text("VALUE = 2\n")

    cache.build(project, isolation=False)

    assert builds(build_log) == 2


def test_build_with_cache_keys_ignores_files_outside_them(
    cache: WheelCache, build_log: Path, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "keyed")
    keys = ["pyproject.toml", "src/**/*.py"]
    cache.build(project, isolation=False, cache_keys=keys)
    (project / "NOTES.txt").write_text("not part of the wheel\n")

    cache.build(project, isolation=False, cache_keys=keys)

    assert builds(build_log) == 1


def test_build_from_threads_builds_once(cache: WheelCache, project: Path, build_log: Path) -> None:
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.build(project, isolation=False)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(results) == 4
    assert len(set(results)) == 1
    assert builds(build_log) == 1


def test_build_backend_output_goes_to_the_build_logger_never_stdout_or_stderr(
    cache: WheelCache,
    project: Path,
    build_log: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="wheelcache.build"):
        cache.build(project, isolation=False)

    assert capfd.readouterr() == ("", "")
    said = [r.getMessage() for r in caplog.records if r.name == "wheelcache.build"]
    assert "sample backend: building sample 1.0" in said
    assert "sample backend: a line on stderr" in said


def test_build_failure_raises_build_failed_error_with_the_last_lines(
    cache: WheelCache, build_log: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    project = write_project(tmp_path / "broken")
    break_build(project)

    with pytest.raises(BuildFailedError) as caught:
        cache.build(project, isolation=False)

    error = caught.value
    assert isinstance(error, CacheError)
    assert str(error).startswith("building sample failed: ")
    assert str(error).endswith("RuntimeError: the sample backend broke on purpose")
    assert "sample backend: compiling things..." in error.output
    assert 0 < len(error.output) <= 20
    assert pickle.loads(pickle.dumps(error)).output == error.output
    assert capfd.readouterr() == ("", "")
    assert list(cache.sources()) == []  # nothing half-built


def test_build_failed_error_is_public() -> None:
    assert "BuildFailedError" in wheelcache.__all__
    assert wheelcache.BuildFailedError is BuildFailedError


def test_build_refuses_cache_keys_for_an_sdist(
    cache: WheelCache, project: Path, build_log: Path, tmp_path: Path
) -> None:
    sdist = make_sdist(project, tmp_path / "dist", "zip")

    with pytest.raises(InvalidSourceError, match="cache_keys apply to a project directory"):
        cache.build(sdist, cache_keys=["pyproject.toml"])

    assert builds(build_log) == 0


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("missing", "no such file or directory"),
        ("empty-dir", "not a Python project"),
        ("notes.txt", "not an sdist (.tar.gz or .zip) or a project directory"),
    ],
)
def test_build_refuses_what_is_neither_a_project_nor_an_sdist(
    cache: WheelCache, tmp_path: Path, name: str, problem: str
) -> None:
    (tmp_path / "empty-dir").mkdir()
    (tmp_path / "notes.txt").write_text("hello")

    with pytest.raises(InvalidSourceError, match=re.escape(problem)):
        cache.build(tmp_path / name)


def test_build_with_tags_nothing_matches_raises_no_compatible_wheel(
    cache: WheelCache, project: Path, build_log: Path
) -> None:
    with pytest.raises(NoCompatibleWheelError):
        cache.build(project, isolation=False, tags=[Tag("cp27", "cp27m", "win32")])

    assert builds(build_log) == 1
