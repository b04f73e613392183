"""Entry-point launchers and project names, written here instead of imported.

:mod:`wheelcache._install.scripts` writes POSIX launchers itself, and
:func:`~wheelcache._install.uninstall.canonical_name` normalises names without
packaging: both judged here by running the launcher, and against packaging.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from wheelcache._install.scripts import entry_point_scripts, launcher
from wheelcache._install.uninstall import canonical_name

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX launchers")


def _run_launcher(
    tmp_path: Path, interpreter_dir: Path
) -> tuple[bytes, subprocess.CompletedProcess[str]]:
    """A launcher of ``tool.cli:main`` run by a link to this interpreter in *interpreter_dir*."""
    (tmp_path / "code" / "tool").mkdir(parents=True)
    (tmp_path / "code" / "tool" / "__init__.py").write_text("")
    (tmp_path / "code" / "tool" / "cli.py").write_text(
        "import sys\ndef main():\n    print('ran', sys.argv[1:])\n    return 3\n"
    )
    interpreter_dir.mkdir(parents=True)
    python = interpreter_dir / "python"
    python.symlink_to(os.path.realpath(sys.executable))
    data = launcher("tool.cli", "main", str(python))
    script = tmp_path / "tool"
    script.write_bytes(data)
    script.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "code")}
    done = subprocess.run(
        [str(script), "an argument"], capture_output=True, text=True, env=env, timeout=60
    )
    return data, done


def test_a_launcher_runs_the_entry_point_and_exits_with_what_it_returns(tmp_path: Path) -> None:
    data, done = _run_launcher(tmp_path, tmp_path / "bin")

    assert data.startswith(b"#!" + os.fsencode(tmp_path / "bin" / "python") + b"\n")
    assert (done.returncode, done.stdout) == (3, "ran ['an argument']\n"), done.stderr


@pytest.mark.parametrize("directory", ["with a space", "long-" + "x" * 130])
def test_an_interpreter_the_kernel_cannot_name_in_a_shebang_is_started_by_sh(
    tmp_path: Path, directory: str
) -> None:
    data, done = _run_launcher(tmp_path, tmp_path / directory)

    assert data.startswith(b"#!/bin/sh\n")
    assert (done.returncode, done.stdout) == (3, "ran ['an argument']\n"), done.stderr


def test_a_dotted_attribute_is_called_through_its_first_name() -> None:
    data = launcher("tool.cli", "App.run", "/usr/bin/python3")

    assert b"from tool.cli import App\n" in data
    assert b"sys.exit(App.run())" in data


def test_no_entry_points_means_no_scripts() -> None:
    assert entry_point_scripts([], "/usr/bin/python3") == []


@given(st.text(alphabet="aB9-_.\u00e9 ", max_size=12))
def test_canonical_name_is_packagings_canonicalize_name(name: str) -> None:
    assert canonical_name(name) == canonicalize_name(name)
