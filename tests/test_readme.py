"""README.md's examples work when pasted: the installer section is executed as written.

The code blocks are taken from README.md itself and run with the working
directory holding ``demo-1.0.tar.gz`` and ``demo-1.0.zip``, sdists of the
sample project (tests/sampleproject.py), whose in-tree backend has no
requirements, so the isolated builds the examples make need no network.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from readme import README, python_blocks
from sampleproject import BUILD_LOG_VARIABLE, builds, make_sdist, write_project

pytestmark = pytest.mark.e2e

pytest.importorskip("build", reason="the README's examples build with pypa/build")


@pytest.fixture
def sdists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding demo-1.0.tar.gz and demo-1.0.zip; builds are counted."""
    project = write_project(tmp_path / "demo", "demo")
    here = tmp_path / "work"
    make_sdist(project, here, "tar.gz")
    make_sdist(project, here, "zip")
    monkeypatch.chdir(here)
    monkeypatch.setenv(BUILD_LOG_VARIABLE, str(tmp_path / "builds.log"))
    return here


def run_block(code: str) -> None:
    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})


def test_readme_installer_section_shows_cache_build_first_then_a_callback() -> None:
    blocks = python_blocks("### Installer code: build at most once, whoever asks")

    assert len(blocks) == 2
    assert "cache.build(" in blocks[0]
    assert "get_or_build(" in blocks[1]


@pytest.mark.parametrize("index", [0, 1], ids=["cache-build", "get-or-build-callback"])
def test_readme_installer_example_runs_and_prints_only_the_wheel_path(
    sdists: Path, capfd: pytest.CaptureFixture[str], index: int
) -> None:
    code = python_blocks("### Installer code: build at most once, whoever asks")[index]

    run_block(code)
    run_block(code)  # the second time is a hit

    out, err = capfd.readouterr()
    first, second = out.splitlines()
    assert first == second
    assert Path(first).name == "demo-1.0-py3-none-any.whl"
    assert Path(first).is_file()
    assert err == ""
    assert builds(sdists.parent / "builds.log") == 1


@pytest.mark.usefixtures("tarfile_without_filters")
def test_readme_callback_unpacks_a_tar_sdist_without_tarfile_filters(
    sdists: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code = python_blocks("### Installer code: build at most once, whoever asks")[1]

    run_block(code.replace('"demo-1.0.zip"', '"demo-1.0.tar.gz"'))

    out, err = capfd.readouterr()
    assert Path(out.strip()).name == "demo-1.0-py3-none-any.whl"
    assert err == ""


def test_readme_callback_refuses_a_member_outside_the_target(sdists: Path, tmp_path: Path) -> None:
    import zipfile

    namespace: dict[str, object] = {"__name__": "readme_example"}
    code = python_blocks("### Installer code: build at most once, whoever asks")[1]
    exec(compile(code.rsplit("\nprint(", 1)[0], str(README), "exec"), namespace)
    evil = tmp_path / "evil-1.0.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("evil-1.0/pyproject.toml", "")
        archive.writestr("../escaped.txt", "gotcha")
    (tmp_path / "into").mkdir()

    with pytest.raises(ValueError, match="would land outside"):
        namespace["unpack"](evil, tmp_path / "into")  # type: ignore[operator]

    assert not (tmp_path / "escaped.txt").exists()


def test_readme_pytest_section_is_two_three_line_examples() -> None:
    wheel, venv = python_blocks("## pytest: build the project once for the whole test run")

    assert [len(block.strip().splitlines()) for block in (wheel, venv)] == [3, 3]
    assert "project_wheel" in wheel
    assert "project_venv" in venv


def test_readme_examples_do_not_rely_on_tarfile_filters() -> None:
    for block in python_blocks("### Installer code: build at most once, whoever asks"):
        assert "filter=" not in block  # missing before 3.9.17, 3.10.12, 3.11.4
