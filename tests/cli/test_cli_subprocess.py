"""The ``wheelcache`` command as users run it: a separate process, real pipes.

Covers ``python -m wheelcache``, the console-script entry point, streams and
exit statuses across a process boundary, and the promise that a cache hit is
cheap: no build front-end imported, no subprocess started.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
from typing import TYPE_CHECKING

import pytest

import wheelcache
from procs import AUDITED, CONSOLE_SCRIPT, run_command
from wheelcache import Source, WheelCache
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("hermetic_children")


@pytest.fixture
def cached(demo_project: Path, cache_dir: Path, tmp_path: Path) -> Path:
    """The project's wheel, already in the cache; returns the cached path."""
    built = make_wheel(tmp_path / "built", "demo", "1.0")
    return WheelCache(cache_dir).add(Source.from_tree(demo_project), built).path


def wheelcache_cmd(*argv: str, via: str = "module") -> list[str]:
    if via == "module":
        return [sys.executable, "-m", "wheelcache", *argv]
    return [sys.executable, "-c", CONSOLE_SCRIPT, *argv]


@pytest.mark.parametrize("via", ["module", "console-script"])
def test_version(via: str) -> None:
    result = run_command(wheelcache_cmd("--version", via=via))

    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"wheelcache {wheelcache.__version__}\n",
        "",
    )


def test_installed_console_script_runs_if_installed() -> None:
    script = shutil.which("wheelcache", path=sysconfig.get_path("scripts"))
    if script is None:
        pytest.skip("wheelcache is not installed in this environment (running from a checkout)")

    result = run_command([script, "--version"])

    assert result.returncode == 0
    assert result.stdout.startswith("wheelcache ")


@pytest.mark.parametrize("via", ["module", "console-script"])
def test_hit_prints_the_path_as_the_last_stdout_line(
    via: str, demo_project: Path, cached: Path
) -> None:
    result = run_command(wheelcache_cmd("build", str(demo_project), via=via))

    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == str(cached)
    assert result.stderr == f"wheelcache: hit: {cached.name}\n"


def test_hit_imports_no_build_front_end_and_starts_no_process(
    demo_project: Path, cached: Path
) -> None:
    result = run_command([sys.executable, "-c", AUDITED, "build", str(demo_project)])

    assert result.returncode == 0, result.stderr
    *printed, report_line = result.stdout.splitlines()
    assert printed == [str(cached)]
    assert json.loads(report_line) == {"status": 0, "started": [], "imported": []}


def test_hit_imports_no_build_front_end_per_importtime(demo_project: Path, cached: Path) -> None:
    """The full command's hit (``-v`` is not for the warm path: tests/test_import_cost.py)."""
    result = run_command(
        [sys.executable, "-X", "importtime", "-m", "wheelcache", "-v", "build", str(demo_project)]
    )

    imported = {
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line
    }
    assert result.returncode == 0
    assert "wheelcache._cache" in imported  # the measurement works
    assert not {"build", "pyproject_hooks", "wheelcache._build.builder", "tarfile"} & imported


def test_warm_build_of_a_project_imports_no_toml_parser_configparser_or_shutil(
    demo_project: Path, cached: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain ``name = "..."`` is read by a line scan: tomllib costs more than the hit.

    Nor does the argument parser import shutil (with bz2 and lzma) for the terminal width.
    The child runs without coverage measurement, which imports those itself. ``-v`` keeps
    it on the full command (the warm path, tests/test_import_cost.py, reads no name at all).
    """
    for name in ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START"):
        monkeypatch.delenv(name, raising=False)
    command = [
        sys.executable, "-X", "importtime", "-m", "wheelcache", "-v", "build", str(demo_project)
    ]  # fmt: skip
    result = run_command(command)

    imported = {
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line
    }
    assert result.returncode == 0
    assert "wheelcache._tree.project" in imported  # the measurement works
    assert not {"tomllib", "tomli", "configparser", "datetime", "shutil"} & imported


def test_bad_source_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    result = run_command(wheelcache_cmd("build", str(tmp_path / "missing")))

    assert result.returncode == 2
    assert result.stdout == ""
    assert (
        result.stderr == f"wheelcache: error: {tmp_path / 'missing'}: no such file or directory\n"
    )


def test_usage_error_exits_2(tmp_path: Path) -> None:
    result = run_command(wheelcache_cmd("prune", "--max-size", "huge"))

    assert result.returncode == 2
    assert "wheelcache prune: error: argument --max-size: invalid size 'huge'" in result.stderr


def test_verify_problems_exit_1_across_the_process_boundary(cached: Path) -> None:
    os.chmod(cached, 0o644)
    cached.write_bytes(b"not a wheel any more")

    result = run_command(wheelcache_cmd("verify", "--json"))

    assert result.returncode == 1
    assert json.loads(result.stdout)["sound"] is False


def test_results_on_stdout_messages_on_stderr_no_colour_in_pipes(cached: Path) -> None:
    listing = run_command(wheelcache_cmd("list"))
    cleaning = run_command(wheelcache_cmd("clean"))

    assert listing.stdout.splitlines()[0].startswith("Name ")
    assert listing.stderr == ""
    assert "\x1b" not in listing.stdout + listing.stderr
    assert cleaning.stdout.startswith("Removed 1 wheel, 1 source and 0 quarantined items (")
    assert cleaning.stderr.startswith("wheelcache: emptied the cache at ")


def test_quiet_silences_info_messages(cached: Path) -> None:
    result = run_command(wheelcache_cmd("-q", "clean"))

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("Removed 1 wheel"), "results still go to stdout"


def test_no_progress_drawn_into_a_pipe(cached: Path) -> None:
    result = run_command(wheelcache_cmd("verify"))

    assert result.returncode == 0
    assert "\r" not in result.stderr


def test_dir_honours_the_environment_variable(cache_dir: Path) -> None:
    result = run_command(wheelcache_cmd("dir"))

    assert result.stdout == f"{cache_dir}\n"


def test_keys_that_are_not_valid_unicode_print_in_json_and_tables(
    cache_dir: Path, tmp_path: Path
) -> None:
    key = "/projects/caf\udce9"  # a path whose name is not valid UTF-8
    WheelCache(cache_dir).add(Source(key, name="demo"), make_wheel(tmp_path / "built", "demo"))

    as_json = run_command(wheelcache_cmd("list", "--json"))
    table = run_command(wheelcache_cmd("list"))

    assert json.loads(as_json.stdout)["wheels"][0]["source"] == key
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[1].endswith("/projects/caf\\udce9")


# -- quiet builds: a real build by pypa/build, with an in-tree backend that talks ---------

BACKEND = """
import os, sys, zipfile

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    for n in range(30):
        print(f"backend line {n}")
    print("backend on stderr", file=sys.stderr)
    if os.path.exists("FAIL"):
        raise RuntimeError("the backend gave up")
    name = "talky-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as wheel:
        wheel.writestr("talky.py", "")
        info = "talky-1.0.dist-info/"
        wheel.writestr(info + "METADATA", "Metadata-Version: 2.1\\nName: talky\\nVersion: 1.0\\n")
        tag = "Tag: py3-none-any\\n"
        wheel.writestr(info + "WHEEL", "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\n" + tag)
        wheel.writestr("talky-1.0.dist-info/RECORD", "")
    return name
"""


@pytest.fixture
def talky(tmp_path: Path) -> Path:
    """A project whose in-tree backend prints 31 lines while it builds."""
    pytest.importorskip("build", reason="building needs pypa/build (the 'build' extra)")
    root = tmp_path / "talky"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "talky"\nversion = "1.0"\n\n[build-system]\nrequires = []\n'
        'build-backend = "talkybackend"\nbackend-path = ["."]\n'
    )
    (root / "talkybackend.py").write_text(BACKEND)
    return root


def test_build_shows_one_line_and_no_backend_output(talky: Path) -> None:
    built = run_command(wheelcache_cmd("build", "--no-isolation", str(talky)))
    hit = run_command(wheelcache_cmd("build", "--no-isolation", str(talky)))

    assert built.returncode == 0, built.stderr
    (line,) = built.stderr.splitlines()
    assert line.startswith("wheelcache: built in ")
    assert line.endswith(" s: talky-1.0-py3-none-any.whl")
    assert hit.stderr == "wheelcache: hit: talky-1.0-py3-none-any.whl\n"
    assert built.stdout == hit.stdout


def test_verbose_build_shows_the_backend_output(talky: Path) -> None:
    result = run_command(wheelcache_cmd("-v", "build", "--no-isolation", str(talky)))

    assert result.returncode == 0, result.stderr
    assert "backend line 0" in result.stderr
    assert "backend on stderr" in result.stderr
    assert "backend line 0" not in result.stdout


def test_failed_build_shows_the_backends_last_lines_then_one_error_line(talky: Path) -> None:
    (talky / "FAIL").touch()

    result = run_command(wheelcache_cmd("build", "--no-isolation", str(talky)))

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "wheelcache: the build's last lines:"
    assert "  backend line 29" in lines
    assert "  backend line 0" not in lines, "the last lines only"
    assert any("RuntimeError: the backend gave up" in line for line in lines[1:-1])
    assert lines[-1].startswith("wheelcache: error: building talky failed: ")
    assert result.stdout == ""


def test_quiet_build_prints_no_status_line(talky: Path) -> None:
    result = run_command(wheelcache_cmd("-q", "build", "--no-isolation", str(talky)))

    assert (result.returncode, result.stderr) == (0, "")
