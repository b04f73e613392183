"""Tree sources through the remote: two clones on two machines share wheels, an edit does not.

Each machine is its own cache root; the project is the sample project (its
in-tree backend counts builds in a log outside the tree) in ``python/sample``
of a git repository, cloned once per machine into unrelated directories. The
public ``WheelCache.build`` and the command's ``build`` pull on a local miss and
push after a build, for trees and sdists alike.
"""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

import pytest

from gitrepos import clone, make_repo
from remote.remote_kit import machine, record_keys, wheel_keys
from sampleproject import BUILD_LOG_VARIABLE, builds, make_sdist, write_project
from wheelcache import Source, WheelCache
from wheelcache._cli.main import main

if TYPE_CHECKING:
    from pathlib import Path

    from remote.conftest import S3
    from wheelcache import CachedWheel

pytestmark = pytest.mark.usefixtures("s3")


@pytest.fixture
def build_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "builds.log"
    monkeypatch.setenv(BUILD_LOG_VARIABLE, str(log))
    return log


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, Path]:
    """The sample project in two clones of one commit: one per machine."""
    repo = tmp_path / "origin"
    write_project(repo / "python" / "sample")
    (repo / ".gitignore").write_text("*.log\n__pycache__/\nbuild/\n.venv/\n")
    make_repo(repo)
    one = clone(repo, tmp_path / "runner-1" / "workspace")
    two = clone(repo, tmp_path / "runner-2" / "builds" / "job-7")
    return one / "python" / "sample", two / "python" / "sample"


def _built_on_a(tmp_path: Path, s3: S3, path: Path) -> CachedWheel:
    """Build path on machine a and wait until its push is done."""
    a = machine(tmp_path, "a", s3.url)
    built = a.build(path, isolation=False)
    assert a.flush(60)
    return built


def _build_on_a_then_b(tmp_path: Path, s3: S3, one: Path, two: Path) -> WheelCache:
    """Build one on machine a, then two on machine b; return b."""
    _built_on_a(tmp_path, s3, one)
    b = machine(tmp_path, "b", s3.url)
    b.build(two, isolation=False)
    return b


def test_a_tree_built_from_one_clone_is_a_hit_from_another_clone_on_another_machine(
    tmp_path: Path, s3: S3, clones: tuple[Path, Path], build_log: Path
) -> None:
    one, two = clones
    built = _built_on_a(tmp_path, s3, one)
    pulled = machine(tmp_path, "b", s3.url).build(two, isolation=False)
    assert builds(build_log) == 1
    assert pulled.sha256 == built.sha256
    assert pulled.path.is_relative_to(tmp_path / "b")
    local_b = WheelCache(tmp_path / "b")  # no remote: the pull left a local hit
    assert local_b.get(Source.from_tree(two, cache=local_b)) == pulled


def test_a_tree_record_names_the_portable_key_not_a_path(
    tmp_path: Path, s3: S3, clones: tuple[Path, Path], build_log: Path
) -> None:
    _built_on_a(tmp_path, s3, clones[0])
    objects = s3.objects()
    (record_key,) = record_keys(objects)
    record = json.loads(objects[record_key])
    assert record["key"] == "tree:sample:python/sample"
    assert record["freshness"].startswith("tree-git-v1:")
    assert str(tmp_path) not in objects[record_key].decode()
    assert len(wheel_keys(objects)) == 1


@pytest.mark.parametrize(
    ("change", "text"),
    [
        pytest.param("src/sample/__init__.py", "VALUE = 2\n", id="an-edited-tracked-file"),
        pytest.param("src/sample/extra.py", "EXTRA = 1\n", id="an-untracked-new-file"),
        pytest.param("src/sample/made.log", "read by a build\n", id="a-git-ignored-new-file"),
    ],
)
def test_a_change_in_the_other_clone_is_a_miss(
    tmp_path: Path, s3: S3, clones: tuple[Path, Path], build_log: Path, change: str, text: str
) -> None:
    """A git-ignored file counts too: the local freshness counts it (its rules, not git's)."""
    one, two = clones
    (two / change).write_text(text)
    _build_on_a_then_b(tmp_path, s3, one, two)
    assert builds(build_log) == 2


def test_git_ignored_outputs_the_local_freshness_skips_are_a_hit(
    tmp_path: Path, s3: S3, clones: tuple[Path, Path], build_log: Path
) -> None:
    one, two = clones
    for junk in ("build/lib/sample/__init__.py", "src/sample/__pycache__/x.pyc", ".venv/x"):
        (two / junk).parent.mkdir(parents=True, exist_ok=True)
        (two / junk).write_text("junk\n")
    (two / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    _build_on_a_then_b(tmp_path, s3, one, two)
    assert builds(build_log) == 1


def test_trees_outside_git_share_by_name_and_content(
    tmp_path: Path, s3: S3, build_log: Path
) -> None:
    one = write_project(tmp_path / "copy-1" / "sample")
    two = shutil.copytree(one, tmp_path / "copy-2" / "deeper" / "sample")
    three = shutil.copytree(one, tmp_path / "copy-3" / "sample")
    (three / "src" / "sample" / "__init__.py").write_text("VALUE = 3\n")
    b = _build_on_a_then_b(tmp_path, s3, one, two)
    assert builds(build_log) == 1
    b.build(three, isolation=False)
    assert builds(build_log) == 2


def test_the_build_command_pulls_a_tree_and_says_it_did_not_build(
    tmp_path: Path,
    s3: S3,
    clones: tuple[Path, Path],
    build_log: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    one, two = clones
    _built_on_a(tmp_path, s3, one)
    status = main(
        ["--cache-dir", str(tmp_path / "b"), "--remote", s3.url, "build", "--json", str(two)]
    )
    out, _ = capsys.readouterr()
    assert status == 0
    assert json.loads(out)["built"] is False
    assert builds(build_log) == 1


def test_build_of_an_sdist_pulls_on_a_local_miss_and_pushes_after_building(
    tmp_path: Path, s3: S3, build_log: Path
) -> None:
    project = write_project(tmp_path / "project" / "sample")
    sdist = make_sdist(project, tmp_path / "dist-a")
    copy = shutil.copy(sdist, tmp_path / "elsewhere.tar.gz")
    built = _built_on_a(tmp_path, s3, sdist)
    assert len(record_keys(s3.objects())) == 1  # pushed after the build
    assert (
        machine(tmp_path, "b", s3.url).build(copy, isolation=False).sha256 == built.sha256
    )  # pulled, not built
    assert builds(build_log) == 1


def test_read_only_mode_pulls_a_tree_and_pushes_nothing(
    tmp_path: Path, s3: S3, clones: tuple[Path, Path], build_log: Path
) -> None:
    one, two = clones
    _built_on_a(tmp_path, s3, one)
    before = s3.objects()
    assert len(record_keys(before)) == 1
    reader = machine(tmp_path, "b", s3.url, remote_mode="read")
    reader.build(two, isolation=False)
    (two / "src" / "sample" / "extra.py").write_text("EXTRA = 1\n")
    reader.build(two, isolation=False)
    assert reader.flush(60)
    assert builds(build_log) == 2
    assert s3.objects() == before


def test_push_seeds_a_tree_built_locally_only_while_it_is_as_it_was_built(
    tmp_path: Path, s3: S3, clones: tuple[Path, Path], build_log: Path
) -> None:
    one, two = clones
    local = WheelCache(tmp_path / "a")  # no remote yet
    local.build(one, isolation=False)
    local.build(two, isolation=False)
    (two / "src" / "sample" / "__init__.py").write_text("VALUE = 2\n")  # edited since
    report = machine(tmp_path, "a", s3.url).push()
    assert (report.sources, report.skipped) == (1, 1)
    (record_key,) = record_keys(s3.objects())
    assert json.loads(s3.objects()[record_key])["key"] == "tree:sample:python/sample"
    third = clone(tmp_path / "origin", tmp_path / "runner-3" / "w") / "python" / "sample"
    machine(tmp_path, "b", s3.url).build(third, isolation=False)
    assert builds(build_log) == 2
