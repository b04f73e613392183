"""Shell completion: ``wheelcache completion SHELL`` prints a script each shell really uses.

The scripts are generated from the argument parser, so the tests ask the
real shells what they complete (bash by calling the completion function,
fish with ``complete -C``, zsh by loading the script through ``compinit``
as README.md tells users to install it) and compare with the parser.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from procs import run_command
from wheelcache._cli.parser import build_parser

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("hermetic_children")

DEADLINE = 60.0


def script(shell: str, directory: Path) -> Path:
    result = run_command([sys.executable, "-m", "wheelcache", "completion", shell], DEADLINE)
    assert (result.returncode, result.stderr) == (0, "")
    path = directory / f"wheelcache.{shell}"
    path.write_text(result.stdout)
    return path


def needs(shell: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(shell) is None, reason=f"{shell} is not installed")


def commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def bash_complete(path: Path, line: str) -> list[str]:
    """What bash completes for *line* (the word being completed is its last, maybe empty)."""
    words = line.split(" ")
    program = (
        f"source {path}; COMP_WORDS=({' '.join(repr(w) for w in words)});"
        f' COMP_CWORD={len(words) - 1}; _wheelcache; printf "%s\\n" "${{COMPREPLY[@]}}"'
    )
    result = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, timeout=DEADLINE, check=False
    )
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line]


@needs("bash")
def test_bash_completes_commands_options_and_their_values(tmp_path: Path) -> None:
    path = script("bash", tmp_path)

    assert bash_complete(path, "wheelcache ") == commands()
    assert bash_complete(path, "wheelcache pr") == ["prune"]
    assert bash_complete(path, "wheelcache --cache-dir /tmp prune --max") == [
        "--max-size",
        "--max-age",
    ]
    assert bash_complete(path, "wheelcache list --format ") == ["table", "path", "json"]
    assert bash_complete(path, "wheelcache completion ") == ["bash", "zsh", "fish"]
    assert "--dry-run" in bash_complete(path, "wheelcache clean --")


@needs("bash")
def test_bash_completes_file_names_for_a_build_source(tmp_path: Path) -> None:
    path = script("bash", tmp_path)
    (tmp_path / "demo-1.0.tar.gz").write_bytes(b"")

    assert bash_complete(path, f"wheelcache build {tmp_path}/demo") == [
        f"{tmp_path}/demo-1.0.tar.gz"
    ]
    assert bash_complete(path, f"wheelcache info {tmp_path}/demo") == [], "info takes no path"


@needs("fish")
def test_fish_completes_commands_and_option_values(tmp_path: Path) -> None:
    path = script("fish", tmp_path)

    def complete(line: str) -> list[str]:
        result = subprocess.run(
            ["fish", "--no-config", "-c", f"source {path}; complete -C '{line}'"],
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return [item.split("\t")[0] for item in result.stdout.splitlines()]

    assert complete("wheelcache ") == sorted(commands())
    assert complete("wheelcache list --format ") == ["json", "path", "table"]
    assert "--max-age" in complete("wheelcache prune --")
    assert "--max-age" not in complete("wheelcache clean --")


@needs("zsh")
def test_zsh_loads_the_script_from_fpath_as_a_completion_function(tmp_path: Path) -> None:
    functions = tmp_path / "zfunc"
    functions.mkdir()
    shutil.copy(script("zsh", tmp_path), functions / "_wheelcache")

    syntax = subprocess.run(
        ["zsh", "-n", str(functions / "_wheelcache")],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    loaded = subprocess.run(
        [
            "zsh",
            "-f",
            "-c",
            f"fpath=({functions} $fpath); autoload -U compinit; compinit -u -D;"
            " print -r -- $_comps[wheelcache]; autoload +X _wheelcache && print loaded",
        ],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )

    assert (syntax.returncode, syntax.stderr) == (0, "")
    assert loaded.stdout.split() == ["_wheelcache", "loaded"], loaded.stderr


def test_unknown_shell_is_a_usage_error() -> None:
    result = run_command([sys.executable, "-m", "wheelcache", "completion", "tcsh"], DEADLINE)

    assert result.returncode == 2
    assert "invalid choice: 'tcsh'" in result.stderr
