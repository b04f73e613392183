"""The command's warm path prints exactly what the full command prints.

``wheelcache build SOURCE`` on a hit is answered by :mod:`wheelcache._cli.warm`
without argparse or the library's heavier modules; everything else goes to the
full command. Each case here runs both, as separate processes (the console
script's entry point, and :func:`wheelcache._cli.main.main` directly), and
compares stdout, stderr and the exit status. What the warm path imports is
pinned by tests/test_import_cost.py.
"""

from __future__ import annotations

import io
import os
import re
import sys
from typing import TYPE_CHECKING

import pytest

import wheelcache._store.lookup
from procs import CONSOLE_SCRIPT, run_command
from wheelcache import Source, WheelCache
from wheelcache._cli import warm, warm_lookup
from wheelcache._cli.main import main as full_main
from wheelcache._cli.warm import WarmBuild, parse_warm_build
from wheelfactory import make_sdist, make_wheel

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("hermetic_children")

FULL_COMMAND = "import sys; from wheelcache._cli.main import main; sys.exit(main())"


@pytest.fixture
def sdist(tmp_path: Path) -> Path:
    return make_sdist(
        tmp_path / "sdists" / "demo-1.0.tar.gz",
        {"demo-1.0/pyproject.toml": b'[project]\nname = "demo"\nversion = "1.0"\n'},
    )


@pytest.fixture
def cached(demo_project: Path, sdist: Path, cache_dir: Path, tmp_path: Path) -> Path:
    """The project's and the sdist's wheel, in the default cache; returns the project's."""
    cache = WheelCache(cache_dir)
    cache.add(Source.from_archive(sdist), make_wheel(tmp_path / "sdist-wheel", "demo", "1.0"))
    built = make_wheel(tmp_path / "built", "demo", "1.0", seed=1)
    return cache.add(Source.from_tree(demo_project), built).path


def both(*argv: str, cwd: Path | None = None) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """(status, stdout, stderr) of the console script and of the full command, run alike."""
    results = []
    for code in (CONSOLE_SCRIPT, FULL_COMMAND):
        previous = os.getcwd()
        if cwd is not None:
            os.chdir(cwd)
        try:
            done = run_command([sys.executable, "-c", code, *argv])
        finally:
            os.chdir(previous)
        stderr = re.sub(r"in [0-9.]+ ms", "in N ms", done.stderr)  # -v's timings
        # -v's tree fingerprint line: how many files it read depends on time, not on
        # the path. A file changed less than RACY_WINDOW_NS before a walk is read and
        # not remembered (git's racily clean files); the run that first sees it
        # settled reads it and fills the stat cache, and the next run reads nothing.
        # The entry count and the token (stdout) must still agree.
        stderr = re.sub(r"\d+ files read", "N files read", stderr)
        results.append((done.returncode, done.stdout, stderr))
    return results[0], results[1]


def test_a_warm_build_of_a_project_prints_what_the_full_command_prints(
    demo_project: Path, cached: Path
) -> None:
    warm_result, full_result = both("build", str(demo_project))

    assert warm_result == full_result == (0, f"{cached}\n", f"wheelcache: hit: {cached.name}\n")


def test_a_warm_build_of_an_sdist_prints_what_the_full_command_prints(
    sdist: Path, cached: Path
) -> None:
    warm_result, full_result = both("build", str(sdist), "-q")

    assert warm_result == full_result
    assert warm_result[0] == 0
    assert warm_result[2] == ""
    assert warm_result[1].endswith("demo-1.0-py3-none-any.whl\n")


@pytest.mark.parametrize(
    "argv",
    [
        ["--cache-dir", "{cache}", "build", "{project}"],
        ["build", "--cache-dir={cache}", "{project}", "--no-isolation"],
        ["-q", "build", "{project}", "--cache-dir", "{cache}"],
        ["build", "demo"],  # relative to the working directory
        ["build", "demo/../demo"],
        ["build", "{project}", "--json"],
        ["-v", "build", "{project}"],
        ["--quiet", "build", "{project}", "-q"],
        ["build", "{project}", "{project}"],
        ["build"],
        ["build", "--cache-dir"],
        ["--cache-dir", "build", "{project}"],
        ["build", "{project}", "--bogus"],
        ["build", "{project}/missing"],
        ["build", "{project}/pyproject.toml"],
        ["build", "{project}/demo"],  # a directory that is not a project
        ["--cache-dir", "{project}/pyproject.toml", "build", "{project}"],  # a file as the root
        ["--cache-dir", "{cache}/new", "build", "{project}/missing"],
        ["--cache-dir", "~no-such-user-wheelcache/x", "build", "{project}/missing"],
        ["--no-isolation", "build", "{project}"],
        ["build", "-h"],
        ["--version"],
    ],
)
def test_every_kind_of_argument_gets_the_full_commands_answer(
    argv: list[str], demo_project: Path, cached: Path, cache_dir: Path
) -> None:
    given = [a.format(cache=cache_dir, project=demo_project) for a in argv]

    warm_result, full_result = both(*given, cwd=demo_project.parent)

    assert warm_result == full_result


def test_a_miss_is_left_to_the_full_command(demo_project: Path, cache_dir: Path) -> None:
    """Nothing cached: the warm path answers nothing, and a bad root is the full command's."""
    assert warm.warm_build(WarmBuild(str(cache_dir), str(demo_project), False)) is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["build", "x"], WarmBuild(None, "x", False)),
        (["--cache-dir", "c", "build", "x"], WarmBuild("c", "x", False)),
        (["build", "x", "--cache-dir=c", "-q"], WarmBuild("c", "x", True)),
        (["--quiet", "build", "--no-isolation", "x"], WarmBuild(None, "x", True)),
        (["build", "build"], WarmBuild(None, "build", False)),
        (["--cache-dir", "build", "build", "x"], WarmBuild("build", "x", False)),
        (["build"], None),
        (["x", "build"], None),
        (["--no-isolation", "build", "x"], None),  # only the build command has it
        (["build", "x", "y"], None),
        (["build", "-x"], None),
        (["build", ""], None),
        (["build", "x", "--cache-dir"], None),
        (["build", "x", "--cache-dir="], None),
        (["build", "x", "--cache-dir", "-q"], None),
        (["--cache-dir", "a", "build", "x", "--cache-dir", "b"], None),
        (["--cache", "c", "build", "x"], None),  # an abbreviation: argparse's to judge
        (["-q", "build", "x", "-q"], None),
        (["build", "x", "--no-isolation", "--no-isolation"], None),
        (["build", "--", "x"], None),
        (["-v", "build", "x"], None),
        (["build", "x", "--json"], None),
        (["install", "x"], None),
    ],
)
def test_only_plain_build_arguments_take_the_warm_path(
    argv: list[str], expected: WarmBuild | None
) -> None:
    assert parse_warm_build(argv) == expected


def test_a_record_logged_at_info_or_above_sends_the_hit_to_the_full_command(
    demo_project: Path, cached: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warm path has not set up logging: what the library logs is the full command's."""
    real_find = wheelcache._store.lookup.Finder.find

    def find_and_warn(self: object, *args: object) -> object:
        wheelcache._store.lookup.logger.warning("something to say")
        return real_find(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(wheelcache._store.lookup.Finder, "find", find_and_warn)
    request = WarmBuild(str(cache_dir), str(demo_project), False)

    assert warm.warm_build(request) is None
    monkeypatch.setattr(wheelcache._store.lookup.Finder, "find", real_find)
    assert warm.warm_build(request) == 0


def test_an_interrupted_warm_build_reports_as_the_full_command_does(
    demo_project: Path,
    cached: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(wheelcache._store.lookup.Finder, "find", interrupted)
    argv = ["build", str(demo_project)]
    warm_status = warm.run(argv)
    warm_output = capsys.readouterr()
    full_status = full_main(argv)
    full_output = capsys.readouterr()

    assert (warm_status, warm_output.out, warm_output.err) == (
        full_status,
        full_output.out,
        full_output.err,
    )
    assert warm_status == 130


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_fails_the_warm_build_as_it_fails_the_full_command(
    demo_project: Path, cached: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    argv = ["-q", "build", str(demo_project)]

    assert warm.run(argv) == full_main(argv) == 1


def test_dot_dot_after_a_link_is_the_physical_parent_as_in_the_full_command(
    demo_project: Path, cached: Path, cache_dir: Path, tmp_path: Path
) -> None:
    """``link/..`` is the link target's parent (pathlib), not the working directory."""
    here = tmp_path / "here"
    here.mkdir()
    (here / "pyproject.toml").write_text('[project]\nname = "here"\nversion = "1.0"\n')
    (here / "link").symlink_to(demo_project / "demo")
    WheelCache(cache_dir).add(Source.from_tree(here), make_wheel(tmp_path / "here-wheel", seed=2))

    warm_result, full_result = both("build", "link/..", cwd=here)

    assert warm_result == full_result == (0, f"{cached}\n", f"wheelcache: hit: {cached.name}\n")


def test_without_a_stdout_the_warm_path_leaves_the_error_to_the_full_command(
    demo_project: Path, cached: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", None)

    assert warm.warm_build(WarmBuild(str(cache_dir), str(demo_project), False)) is None


@pytest.mark.parametrize(
    ("home", "xdg", "quick"),
    [
        ("/home/alice", None, True),
        ("/home/alice/", None, True),
        ("/", None, True),
        ("/home/alice", "", True),
        ("/home/alice", "/var/cache/alice", True),
        ("/home/alice", "/var/cache/alice/", True),
        ("/home/alice", "relative/cache", False),
        ("/home/alice", " /var/cache/alice", False),
        ("/home/alice", "   ", False),
        ("relative-home", None, False),
    ],
)
def test_the_default_cache_directory_is_platformdirs_answer_without_importing_it(
    home: str, xdg: str | None, quick: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wheelcache._layout import default_root

    monkeypatch.delenv("WHEELCACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", home)
    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)

    assert (warm_lookup.xdg_cache_root() is not None) is (quick and sys.platform == "linux")
    try:
        expected = str(default_root())
    except RuntimeError:  # platformdirs refuses a home it cannot resolve
        assert not quick
        return
    assert warm_lookup.cache_root(None) == expected


def test_a_lock_mode_the_full_command_refuses_is_refused_on_a_hit_too(
    demo_project: Path, cached: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELCACHE_LOCK_MODE", "bogus")

    warm_result, full_result = both("build", str(demo_project))

    assert warm_result == full_result
    assert warm_result[0] == 1
    assert "WHEELCACHE_LOCK_MODE" in warm_result[2]
