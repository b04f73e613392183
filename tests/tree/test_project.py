"""The promises of wheelcache._tree.project: a declared name is read, or None, never a guess."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pytest

from wheelcache._tree import project as _project
from wheelcache._tree.project import project_name

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(params=["parser", "minimal"])
def toml_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the real TOML parser and with the minimal one used on old Pythons."""
    if request.param == "minimal":
        monkeypatch.setattr(_project, "_toml_loads", _project._minimal_toml_loads)
    return str(request.param)


def test_project_name_from_pyproject_toml(tmp_path: Path, toml_reader: str) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[build-system]\n\n[project]  # meta\nname = 'My.Pkg'\n"
    )
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = other\n")
    assert project_name(tmp_path) == "My.Pkg"


def test_project_name_from_setup_cfg(tmp_path: Path, toml_reader: str) -> None:
    (tmp_path / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools"]\n')
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = legacy-pkg\nversion = %(x)s\n")
    assert project_name(tmp_path) == "legacy-pkg"
    (tmp_path / "pyproject.toml").unlink()
    assert project_name(tmp_path) == "legacy-pkg"


def test_project_name_is_none_without_either_file(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text("from setuptools import setup; setup(name='x')\n")
    assert project_name(tmp_path) is None


@pytest.mark.parametrize(
    "text",
    [
        "[project\nname = 'x'\n",
        "[project]\nname = 'x'\nname = 'y'\n",
        "[project]\nname = 'x'\n[tool.x]\n[project]\nversion = '1'\n",
        '[project]\nname = "not a name"\n',
        "[project]\nname = 42\n",
        "[project]\nversion = '1'\n",
        'project = "oops"\n',
    ],
)
def test_project_name_is_none_for_malformed_pyproject(
    tmp_path: Path, text: str, toml_reader: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = fallback\n")
    assert project_name(tmp_path) is None


def test_project_name_is_none_for_malformed_setup_cfg(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = a\n[metadata]\nname = b\n")
    assert project_name(tmp_path) is None
    (tmp_path / "setup.cfg").write_bytes(b"[metadata]\nname = caf\xe9\n")
    assert project_name(tmp_path) is None


@pytest.mark.parametrize(
    "text",
    [
        'description = """\n[project]\nname = "fake"\n"""\n[project]\nname = "real"\n',
        '["project"]\nname = "quoted"\n',
        'project.name = "dotted"\n',
    ],
)
def test_minimal_toml_reader_gives_up_rather_than_guess(tmp_path: Path, text: str) -> None:
    with pytest.raises(ValueError, match=r"too complex|quoted"):
        _project._minimal_toml_loads(text)


def test_toml_reader_matches_the_real_parser_on_plain_files() -> None:
    text = "[[tool.x]]\nname = 'no'\n[project]\nversion = '1'\nname = \"yes\"\n[project.urls]\n"
    real: Callable[[str], dict[str, object]] = _project._find_toml_loads()
    assert _project._minimal_toml_loads(text)["project"]["name"] == real(text)["project"]["name"]  # type: ignore[index]


def test_minimal_toml_reader_reads_the_name_before_a_later_multi_line_string() -> None:
    text = (
        '[project]\nname = "early"\ndescription = """\nlong\n"""\n[tool.x]\nnote = """\n[x]\n"""\n'
    )
    assert _project._minimal_toml_loads(text) == {"project": {"name": "early"}}


def test_minimal_toml_reader_treats_a_header_in_a_later_string_as_a_repeat() -> None:
    text = '[project]\nname = "early"\n[tool.x]\nnote = """\n[project]\n"""\n'
    with pytest.raises(ValueError, match="twice"):
        _project._minimal_toml_loads(text)
