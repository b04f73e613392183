"""The promises of the ``wheelcache`` command, called in-process through ``main(argv)``.

Builds are faked here (``wheelcache._build.builder.build_wheel`` is replaced by a function
that writes a wheel); tests/build/test_e2e_build.py runs real build backends.
"""

from __future__ import annotations

import io
import json
import logging
import os
import runpy
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from platformdirs import user_cache_path

from ondisk import age
from wheelcache import Source, WheelCache, __version__
from wheelcache.__main__ import entrypoint
from wheelcache._build import builder as _builder
from wheelcache._build.builder import BuildFailedError
from wheelcache._cli.console import ProgressLine, render_table
from wheelcache._cli.main import build_parser, main
from wheelcache._cli.units import (
    format_age,
    format_clock,
    format_duration,
    format_size,
    iso_utc,
    parse_duration,
    parse_size,
)
from wheelfactory import make_sdist, make_wheel

pytestmark = pytest.mark.usefixtures("cache_dir")  # the command's default cache


# -- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture
def sdist(tmp_path: Path) -> Path:
    """A well-formed sdist of a project named "demo"."""
    return make_sdist(tmp_path / "demo-1.0.tar.gz", {"demo-1.0/pyproject.toml": b"[project]\n"})


class FakeBuilds:
    """Stands in for pypa/build: records calls and writes a wheel (or fails)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Path, bool]] = []
        self.tags = "py3-none-any"
        self.error: BaseException | None = None

    def __call__(self, source_path: Path, output_dir: Path, *, isolation: bool) -> None:
        self.calls.append((source_path, isolation))
        logging.getLogger("wheelcache.build").debug("running the backend")
        logging.getLogger("wheelcache.build").info("backend says hello")
        if self.error is not None:
            raise self.error
        make_wheel(output_dir, "demo", "1.0", self.tags)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> FakeBuilds:
    fake = FakeBuilds()
    monkeypatch.setattr(_builder, "build_wheel", fake)
    return fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def add_wheel(
    cache_dir: Path, key: str, name: str = "demo", version: str = "1.0", *, seed: int = 0
) -> Path:
    """Add a wheel for the source *key*; return the cached wheel's path."""
    cache = WheelCache(cache_dir)
    built = make_wheel(cache_dir.parent / f"built-{key}-{seed}", name, version, seed=seed)
    return cache.add(Source(key, name=name), built).path


def make_source_old(cache_dir: Path, key: str, seconds: float) -> None:
    """Make the source *key* look last used *seconds* ago."""
    for pointer in (cache_dir / "sources-v1").rglob("*.json"):
        if f'"key":"{key}"'.encode() in pointer.read_bytes():
            age(pointer, seconds)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# -- the parser and global options --------------------------------------------------------


def test_version_prints_the_version_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--version")

    assert status == 0
    assert out == f"wheelcache {__version__}\n"


def test_help_exits_0_and_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--help")

    assert status == 0
    for command in ("build", "install", "dir", "info", "list", "prune", "clean", "verify"):
        assert command in out


@pytest.mark.parametrize(
    ("command", "key"),
    [("build", "built"), ("info", "reclaimable_bytes"), ("list", "last_used_timestamp"),
     ("prune", "freed_bytes"), ("verify", "mended_pointers")],
)  # fmt: skip
def test_help_of_each_json_command_documents_its_keys(
    capsys: pytest.CaptureFixture[str], command: str, key: str
) -> None:
    status, out, _ = run(capsys, command, "--help")

    assert status == 0
    assert key in out.replace("\n", " ")


@pytest.mark.parametrize(
    "argv", [[], ["frobnicate"], ["build"], ["list", "a", "b"], ["-q", "-v", "dir"]]
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    status, out, err = run(capsys, *argv)

    assert status == 2
    assert out == ""
    assert "error:" in err


def test_cache_dir_option_beats_the_environment_variable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, _ = run(capsys, "--cache-dir", str(tmp_path / "elsewhere"), "dir")

    assert status == 0
    assert out == f"{tmp_path / 'elsewhere'}\n"


def test_environment_variable_is_used_without_the_option(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    assert run(capsys, "dir") == (0, f"{cache_dir}\n", "")


def test_platformdirs_default_without_option_or_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WHEELCACHE_DIR")

    _, out, _ = run(capsys, "dir")

    assert out == f"{user_cache_path('wheelcache', appauthor=False).absolute()}\n"


def test_global_options_are_accepted_after_the_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, _ = run(capsys, "dir", "--cache-dir", str(tmp_path / "x"), "-q")

    assert status == 0
    assert out == f"{tmp_path / 'x'}\n"


def test_an_option_after_the_command_does_not_reset_one_before_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, _ = run(capsys, "--cache-dir", str(tmp_path / "x"), "dir", "-q")

    assert (status, out) == (0, f"{tmp_path / 'x'}\n")


def test_dir_creates_nothing(capsys: pytest.CaptureFixture[str], cache_dir: Path) -> None:
    run(capsys, "dir")

    assert not cache_dir.exists()


def test_build_parser_is_reusable() -> None:
    args = build_parser().parse_args(["prune", "--grace", "30m", "--max-size", "5G"])

    assert (args.grace, args.max_size) == (1800.0, 5_000_000_000)


def test_entrypoint_exits_with_the_status_of_main(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "argv", ["wheelcache", "build", str(tmp_path / "missing")])

    with pytest.raises(SystemExit) as caught:
        entrypoint()

    assert caught.value.code == 2
    assert capsys.readouterr().err.startswith("wheelcache: error: ")


def test_python_dash_m_wheelcache_runs_the_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["wheelcache", "--version"])
    monkeypatch.delitem(sys.modules, "wheelcache.__main__", raising=False)
    # wheelcache's pytest plugin makes pytest rewrite asserts in the wheelcache
    # package; that import hook cannot serve runpy (python -m runs in a child
    # in tests/cli/test_cli_subprocess.py).
    hooks = [hook for hook in sys.meta_path if type(hook).__name__ != "AssertionRewritingHook"]
    monkeypatch.setattr(sys, "meta_path", hooks)

    with pytest.raises(SystemExit) as caught:
        runpy.run_module("wheelcache", run_name="__main__")

    assert caught.value.code == 0
    assert capsys.readouterr().out == f"wheelcache {__version__}\n"


# -- build -------------------------------------------------------------------------------


def test_build_prints_the_cached_wheel_path_as_the_last_stdout_line(
    capsys: pytest.CaptureFixture[str], builds: FakeBuilds, demo_project: Path, cache_dir: Path
) -> None:
    status, out, _ = run(capsys, "build", str(demo_project))

    assert status == 0
    path = Path(out.splitlines()[-1])
    assert out.endswith("\n")
    assert path.is_file()
    assert path.name == "demo-1.0-py3-none-any.whl"
    assert cache_dir in path.parents


def test_build_is_built_once_then_hits(
    capsys: pytest.CaptureFixture[str], builds: FakeBuilds, demo_project: Path
) -> None:
    _, first, _ = run(capsys, "build", str(demo_project))
    status, second, _ = run(capsys, "build", str(demo_project))

    assert status == 0
    assert second == first
    assert len(builds.calls) == 1


def test_build_isolates_by_default(
    capsys: pytest.CaptureFixture[str], builds: FakeBuilds, demo_project: Path
) -> None:
    run(capsys, "build", str(demo_project))

    assert builds.calls == [(demo_project, True)]


def test_build_no_isolation_is_passed_to_the_builder(
    capsys: pytest.CaptureFixture[str], builds: FakeBuilds, demo_project: Path
) -> None:
    run(capsys, "build", "--no-isolation", str(demo_project))

    assert builds.calls == [(demo_project, False)]


def test_build_json_says_whether_it_built(
    capsys: pytest.CaptureFixture[str], builds: FakeBuilds, demo_project: Path
) -> None:
    _, first, _ = run(capsys, "build", "--json", str(demo_project))
    _, second, _ = run(capsys, "build", "--json", str(demo_project))

    built, hit = json.loads(first), json.loads(second)
    assert built["built"] is True
    assert hit["built"] is False
    assert hit == {**built, "built": False}
    assert set(built) == {
        "name", "version", "filename", "size", "sha256", "path", "built", "source",
    }  # fmt: skip
    assert built["source"] == {"kind": "tree", "path": str(demo_project), "key": str(demo_project)}
    assert (built["name"], built["version"]) == ("demo", "1.0")
    assert Path(built["path"]).stat().st_size == built["size"]


def test_build_accepts_an_sdist(
    capsys: pytest.CaptureFixture[str], builds: FakeBuilds, sdist: Path
) -> None:
    status, out, _ = run(capsys, "build", "--json", str(sdist))
    again, _, _ = run(capsys, "build", str(sdist))

    document = json.loads(out)
    assert (status, again) == (0, 0)
    assert document["source"]["kind"] == "sdist"
    assert document["source"]["key"].startswith("sha256:")
    assert builds.calls == [(sdist, True)]


def test_build_accepts_a_zip_sdist(
    capsys: pytest.CaptureFixture[str], builds: FakeBuilds, tmp_path: Path
) -> None:
    archive = tmp_path / "demo-1.0.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("demo-1.0/pyproject.toml", "[project]\n")

    status, _, _ = run(capsys, "build", str(archive))

    assert status == 0
    assert builds.calls == [(archive, True)]


def test_build_backend_output_goes_to_stderr_never_stdout(
    capsys: pytest.CaptureFixture[str], builds: FakeBuilds, demo_project: Path
) -> None:
    _, out, err = run(capsys, "-v", "build", str(demo_project))

    assert "backend says hello" in err
    assert len(out.splitlines()) == 1


def test_build_quiet_hides_backend_output_and_progress_messages(
    capsys: pytest.CaptureFixture[str], builds: FakeBuilds, demo_project: Path
) -> None:
    status, out, err = run(capsys, "-q", "build", str(demo_project))

    assert status == 0
    assert err == ""
    assert len(out.splitlines()) == 1


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda tmp: tmp / "missing", "no such file or directory"),
        (lambda tmp: tmp, "not a Python project"),
        (lambda tmp: tmp / "notes.txt", "not an sdist"),
        (lambda tmp: tmp / "demo-1.0.whl", "not an sdist"),
    ],
    ids=["missing", "directory-without-project", "text-file", "wheel"],
)
def test_build_bad_source_is_bad_input_exit_2(
    capsys: pytest.CaptureFixture[str],
    builds: FakeBuilds,
    tmp_path: Path,
    make: Any,
    problem: str,
) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "demo-1.0.whl").write_bytes(b"PK")
    source = make(tmp_path)

    status, out, err = run(capsys, "build", str(source))

    assert status == 2
    assert out == ""
    assert err == f"wheelcache: error: {source}: {problem}" + err.split(problem, 1)[1]
    assert len(err.splitlines()) == 1
    assert builds.calls == []


@pytest.mark.parametrize(
    ("error", "status", "line"),
    [
        pytest.param(
            BuildFailedError("building demo failed: Backend exploded: boom"),
            1,
            "building demo failed: Backend exploded: boom",
            id="build-failure-exits-1",
        ),
        pytest.param(KeyboardInterrupt(), 130, "interrupted", id="interrupt-exits-130"),
        pytest.param(
            RuntimeError("a bug\nover two lines"),
            1,
            "unexpected RuntimeError: a bug over two lines (run with -v to see the traceback)",
            id="unexpected-error-hints-at-v",
        ),
        pytest.param(
            PermissionError(13, "Permission denied", "/some/file"),
            1,
            "/some/file: Permission denied",
            id="os-error-names-the-file",
        ),
    ],
)
def test_an_error_is_one_line_on_stderr_and_an_exit_status(
    capsys: pytest.CaptureFixture[str],
    builds: FakeBuilds,
    demo_project: Path,
    error: BaseException,
    status: int,
    line: str,
) -> None:
    builds.error = error

    assert run(capsys, "-q", "build", str(demo_project)) == (
        status,
        "",
        f"wheelcache: error: {line}\n",
    )


def test_build_without_pypa_build_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, demo_project: Path
) -> None:
    monkeypatch.setitem(sys.modules, "build", None)  # import build -> ImportError

    status, out, err = run(capsys, "-q", "build", str(demo_project))

    assert (status, out) == (1, "")
    assert err == (
        "wheelcache: error: building needs pypa/build: pip install 'wheelcache[build]'\n"
    )


def test_build_writing_no_compatible_wheel_fails_with_1(
    capsys: pytest.CaptureFixture[str], builds: FakeBuilds, demo_project: Path
) -> None:
    builds.tags = "cp27-cp27m-win32"

    status, _, err = run(capsys, "-q", "build", str(demo_project))

    assert status == 1
    assert "no compatible wheel" in err
    assert len(err.splitlines()) == 1


def test_verbose_errors_show_the_traceback_then_the_line(
    capsys: pytest.CaptureFixture[str], builds: FakeBuilds, demo_project: Path
) -> None:
    builds.error = BuildFailedError("building demo failed: boom")

    status, _, err = run(capsys, "-v", "build", str(demo_project))

    assert status == 1
    assert "Traceback (most recent call last)" in err
    assert err.endswith("wheelcache: error: building demo failed: boom\n")


def test_verbose_shows_debug_messages(
    capsys: pytest.CaptureFixture[str], builds: FakeBuilds, demo_project: Path
) -> None:
    logger = logging.getLogger("wheelcache")
    before = (logger.level, list(logger.handlers))

    status, _, err = run(capsys, "-v", "build", str(demo_project))

    assert status == 0
    assert "wheelcache: building demo" in err
    assert "wheelcache: debug: running the backend" in err
    assert (logger.level, logger.handlers) == before  # nothing left configured


def test_debug_messages_are_hidden_by_default(
    capsys: pytest.CaptureFixture[str], builds: FakeBuilds, demo_project: Path
) -> None:
    _, _, err = run(capsys, "build", str(demo_project))

    assert "running the backend" not in err


def test_a_closed_stdout_pipe_ends_quietly_with_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cache_dir: Path
) -> None:
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())

    assert main(["dir"]) == 1
    assert capsys.readouterr().err == ""


# -- info --------------------------------------------------------------------------------


def test_info_of_a_missing_cache_is_all_zeros_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    status, out, _ = run(capsys, "info", "--json")

    assert status == 0
    assert json.loads(out) == {
        "root": str(cache_dir),
        "layout_version": 1,
        "wheels": 0,
        "wheel_bytes": 0,
        "sources": 0,
        "referenced_entries": 0,
        "referenced_bytes": 0,
        "reclaimable_bytes": 0,
        "staging_items": 0,
        "staging_bytes": 0,
        "trash_items": 0,
        "trash_bytes": 0,
        "quarantine_items": 0,
        "trees": 0,
        "tree_bytes": 0,
        "remote": None,
    }
    assert not cache_dir.exists()


@pytest.fixture
def busy_cache(cache_dir: Path) -> dict[str, int]:
    """Two sources, one superseded (so unreferenced) wheel, and leftovers everywhere."""
    kept = add_wheel(cache_dir, "a", "alpha", seed=1)
    old = add_wheel(cache_dir, "b", "beta", seed=2)
    cache = WheelCache(cache_dir)
    newer = make_wheel(cache_dir.parent / "newer", "beta", "2.0", seed=3)
    new = cache.add(Source("b", "revision-2", name="beta"), newer).path
    (cache_dir / "staging-v1" / "build-dead").mkdir(parents=True)
    (cache_dir / "staging-v1" / "build-dead" / "half.whl").write_bytes(b"x" * 10)
    (cache_dir / "staging-v1" / "build-dead.lock").write_bytes(b"")
    (cache_dir / "trash-v1").mkdir()
    (cache_dir / "trash-v1" / "leftover").write_bytes(b"y" * 7)
    (cache_dir / "quarantine-v1").mkdir()
    (cache_dir / "quarantine-v1" / "bad").mkdir()
    size = {p: p.stat().st_size for p in (kept, old, new)}
    return {"kept": size[kept], "old": size[old], "new": size[new]}


def test_info_counts_wheels_sources_references_and_leftovers(
    capsys: pytest.CaptureFixture[str], busy_cache: dict[str, int], cache_dir: Path
) -> None:
    status, out, _ = run(capsys, "info", "--json")

    stats = json.loads(out)
    assert status == 0
    assert stats["wheels"] == 3
    assert stats["wheel_bytes"] == sum(busy_cache.values())
    assert stats["sources"] == 2
    assert stats["referenced_entries"] == 2
    assert stats["referenced_bytes"] == busy_cache["kept"] + busy_cache["new"]
    assert stats["reclaimable_bytes"] == busy_cache["old"]
    assert (stats["staging_items"], stats["staging_bytes"]) == (1, 10)
    assert (stats["trash_items"], stats["trash_bytes"]) == (1, 7)
    assert stats["quarantine_items"] == 1


def test_info_human_output_is_aligned_with_human_sizes(
    capsys: pytest.CaptureFixture[str], busy_cache: dict[str, int], cache_dir: Path
) -> None:
    status, out, _ = run(capsys, "info")

    lines = out.splitlines()
    assert status == 0
    assert lines[0].split() == ["Cache", "directory:", str(cache_dir)]
    assert len({line.index(line.split(":", 1)[1].strip()) for line in lines}) == 1
    assert f"Staging:          1 ({format_size(10)})" in lines


def test_collect_stats_matches_the_cache(busy_cache: dict[str, int], cache_dir: Path) -> None:
    stats = WheelCache(cache_dir).stats()

    assert stats.root == cache_dir
    assert (stats.wheels, stats.sources, stats.referenced_entries) == (3, 2, 2)


# -- list --------------------------------------------------------------------------------


def test_list_of_an_empty_cache_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "list") == (0, "No cached wheels.\n", "")


def test_list_shows_aligned_columns_and_a_total(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    add_wheel(cache_dir, "key-of-a-long-source-name", "alpha", "10.0", seed=1)
    add_wheel(cache_dir, "b", "b", "2.0", seed=2)

    status, out, _ = run(capsys, "list")

    header, first, second, total = out.splitlines()
    assert status == 0
    assert header.split() == [
        "Name",
        "Version",
        "Size",
        "Unpacked",
        "Last",
        "used",
        "SHA-256",
        "File",
        "Source",
    ]
    assert first.split()[:2] == ["alpha", "10.0"]
    assert second.split()[:2] == ["b", "2.0"]
    for column in ("Version", "SHA-256", "File", "Source"):
        start = header.index(column)
        assert first[start - 2 : start] == "  "
        assert second[start - 2 : start] == "  "
    assert first.endswith("key-of-a-long-source-name")
    assert total.startswith("2 wheels, ")


def test_list_pattern_is_a_glob_on_the_normalised_project_name(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    add_wheel(cache_dir, "a", "Demo_Two", seed=1)
    add_wheel(cache_dir, "b", "other", seed=2)

    _, out, _ = run(capsys, "list", "demo.t*", "--json")

    assert [w["name"] for w in json.loads(out)["wheels"]] == ["demo-two"]


def test_list_pattern_without_match_says_so(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    add_wheel(cache_dir, "a", "alpha")

    assert run(capsys, "list", "zz*") == (0, "No cached wheels match 'zz*'.\n", "")


def test_list_json_describes_each_wheel(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    path = add_wheel(cache_dir, "the-key", "alpha", "1.5")
    before = time.time()

    status, out, _ = run(capsys, "list", "--json")

    document = json.loads(out)
    (wheel,) = document["wheels"]
    assert status == 0
    assert (document["count"], document["total_bytes"]) == (1, path.stat().st_size)
    assert wheel["name"] == "alpha"
    assert wheel["version"] == "1.5"
    assert wheel["filename"] == path.name
    assert wheel["size"] == path.stat().st_size
    assert wheel["sha256"] == path.parent.name
    assert wheel["path"] == str(path)
    assert wheel["source"] == "the-key"
    assert wheel["source_name"] == "alpha"
    assert before - 120 < wheel["last_used_timestamp"] <= before + 1
    assert wheel["last_used"] == iso_utc(wheel["last_used_timestamp"])
    assert wheel["last_used"].endswith("Z")


def test_list_includes_wheels_no_source_names(
    capsys: pytest.CaptureFixture[str], busy_cache: dict[str, int]
) -> None:
    _, out, _ = run(capsys, "list", "beta", "--json")

    wheels = json.loads(out)["wheels"]
    assert [(w["version"], w["source"]) for w in wheels] == [("1.0", None), ("2.0", "b")]


def test_list_shows_a_wheel_once_per_source_and_counts_it_once(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    add_wheel(cache_dir, "a", "alpha")
    add_wheel(cache_dir, "b", "alpha")  # the same bytes

    _, out, _ = run(capsys, "list")
    _, as_json, _ = run(capsys, "list", "--json")

    assert len(out.splitlines()) == 4
    assert out.splitlines()[-1].startswith("1 wheel, ")
    assert json.loads(as_json)["count"] == 2


def test_list_shortens_sdist_keys(capsys: pytest.CaptureFixture[str], cache_dir: Path) -> None:
    add_wheel(cache_dir, "sha256:" + "ab" * 32, "alpha")

    _, out, _ = run(capsys, "list")

    assert out.splitlines()[1].endswith("sha256:abababababab...")


# -- prune -------------------------------------------------------------------------------


def test_prune_removes_unreferenced_wheels_older_than_the_grace(
    capsys: pytest.CaptureFixture[str], busy_cache: dict[str, int], cache_dir: Path
) -> None:
    for path in (cache_dir / "wheels-v1").rglob("beta-1.0-*.whl"):
        age(path, 7200)

    status, out, _ = run(capsys, "prune", "--grace", "1h", "--json")

    report = json.loads(out)
    assert status == 0
    assert report["removed_entries"] == 1
    assert report["freed_bytes"] >= busy_cache["old"]
    assert report["kept_entries"] == 2
    assert not list((cache_dir / "wheels-v1").rglob("beta-1.0-*.whl"))


def test_prune_keeps_what_is_within_the_grace(
    capsys: pytest.CaptureFixture[str], busy_cache: dict[str, int]
) -> None:
    _, out, _ = run(capsys, "prune", "--json")

    assert json.loads(out)["removed_entries"] == 0


def test_prune_dry_run_changes_nothing(
    capsys: pytest.CaptureFixture[str], busy_cache: dict[str, int], cache_dir: Path
) -> None:
    for path in (cache_dir / "wheels-v1").rglob("beta-1.0-*.whl"):
        age(path, 7200)

    status, out, _ = run(capsys, "prune", "--dry-run")

    assert status == 0
    assert out.splitlines()[0].startswith("Would remove 1 wheel (")  # + leftovers' bytes
    assert list((cache_dir / "wheels-v1").rglob("beta-1.0-*.whl"))


def test_prune_max_age_retires_unused_sources(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    add_wheel(cache_dir, "old", "alpha", seed=1)
    add_wheel(cache_dir, "new", "beta", seed=2)
    make_source_old(cache_dir, "old", 10 * 86400)

    status, out, _ = run(capsys, "prune", "--max-age", "7d")

    assert status == 0
    assert "Retired 1 source." in out.splitlines()
    assert [r.key for r in WheelCache(cache_dir).sources()] == ["new"]


def test_prune_max_size_retires_least_recently_used_sources(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    add_wheel(cache_dir, "older", "alpha", seed=1)
    add_wheel(cache_dir, "newer", "beta", seed=2)
    make_source_old(cache_dir, "older", 3600)

    status, out, _ = run(capsys, "prune", "--max-size", "1K", "--json")

    assert status == 0
    assert json.loads(out)["retired_sources"] == ["older"]


def test_prune_json_has_stable_keys(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "prune", "--json")

    assert set(json.loads(out)) == {
        "dry_run", "removed_entries", "freed_bytes", "kept_entries", "kept_bytes",
        "referenced_entries", "referenced_bytes", "retired_sources", "reclaimed_staging",
        "reclaimed_trash", "restored_entries", "removed_quarantine", "waiting_entries",
        "waiting_bytes", "waiting_until", "waiting_until_timestamp", "grace", "seconds",
        "removed_trees", "kept_trees", "kept_tree_bytes",
    }  # fmt: skip


@pytest.mark.parametrize(
    "option",
    ["--grace=soon", "--grace=-1h", "--max-age=7y", "--max-size=lots", "--max-size=5X",
     "--max-size=-5G", "--max-size=1iB"],
)  # fmt: skip
def test_prune_bad_duration_or_size_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], option: str
) -> None:
    status, out, err = run(capsys, "prune", option)

    assert status == 2
    assert out == ""
    assert f"error: argument {option.split('=')[0]}: invalid" in err


# -- clean -------------------------------------------------------------------------------


def test_clean_empties_the_cache(
    capsys: pytest.CaptureFixture[str], busy_cache: dict[str, int], cache_dir: Path
) -> None:
    status, out, _ = run(capsys, "clean")

    assert status == 0
    assert out.startswith("Removed 3 wheels, 2 sources and 1 quarantined item (")
    assert list(WheelCache(cache_dir).wheels()) == []
    assert run(capsys, "list") == (0, "No cached wheels.\n", "")


def test_clean_of_a_missing_cache_succeeds(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "clean")[0] == 0


# -- verify ------------------------------------------------------------------------------


def corrupt(path: Path) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes()[:-1] + b"!")


def test_verify_a_sound_cache_exits_0(capsys: pytest.CaptureFixture[str], cache_dir: Path) -> None:
    add_wheel(cache_dir, "a", "alpha")

    status, out, _ = run(capsys, "verify")

    assert status == 0
    assert out.splitlines()[-1].startswith("Checked 1 wheel (")
    assert out.splitlines()[-1].endswith("no problems found.")


def test_verify_a_corrupt_wheel_exits_1_and_names_it(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    path = add_wheel(cache_dir, "a", "alpha")
    corrupt(path)

    status, out, _ = run(capsys, "verify")

    assert status == 1
    assert out.startswith(f"corrupt wheel: {path.parent}: ")
    assert "Run 'wheelcache verify --repair'" in out
    assert path.exists()  # without --repair nothing moves


def test_verify_repair_quarantines_exits_1_then_the_cache_is_sound(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    path = add_wheel(cache_dir, "a", "alpha")
    corrupt(path)

    status, out, _ = run(capsys, "verify", "--repair", "--json")
    after, _, _ = run(capsys, "verify")

    report = json.loads(out)
    assert status == 1
    assert report["sound"] is False
    assert report["repaired"] is True
    assert [c["sha256"] for c in report["corrupt"]] == [path.parent.name]
    assert len(report["quarantined"]) == 1
    assert report["mended_pointers"] == 1
    assert not path.exists()
    assert after == 0


def test_verify_reports_dangling_pointers(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    path = add_wheel(cache_dir, "a", "alpha")
    os.chmod(path, 0o644)
    path.unlink()
    path.parent.rmdir()

    status, out, _ = run(capsys, "verify", "--json")

    report = json.loads(out)
    assert status == 1
    assert report["dangling"][0]["key"] == "a"
    assert report["dangling"][0]["missing"] == [path.parent.name]
    assert set(report) == {
        "sound", "entries_checked", "bytes_checked", "corrupt", "dangling",
        "unreadable_pointers", "repaired", "quarantined", "mended_pointers", "links",
        "not_permitted", "corrupt_trees",
    }  # fmt: skip


# -- progress, colour, logging hygiene ----------------------------------------------------


def test_progress_is_drawn_on_a_terminal_and_wiped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cache_dir: Path
) -> None:
    add_wheel(cache_dir, "a", "alpha")
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    status = main(["verify"])

    drawn = terminal.getvalue()
    assert status == 0
    assert "\rverify: 1/1 (100%)" in drawn
    assert drawn.endswith("\r")
    assert "verify:" not in capsys.readouterr().out


def test_no_progress_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    add_wheel(cache_dir, "a", "alpha")

    _, _, err = run(capsys, "verify")

    assert "\r" not in err


def test_no_progress_when_quiet(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
    add_wheel(cache_dir, "a", "alpha")
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    main(["-q", "prune"])

    assert terminal.getvalue() == ""


def list_then_fail_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, cache_dir: Path
) -> tuple[str, str]:
    """Run ``list`` and a failing ``build`` with stdout and stderr on a terminal; their output."""
    add_wheel(cache_dir, "a", "alpha")
    out, err = FakeTerminal(), FakeTerminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)

    main(["list"])
    main(["build", str(cache_dir / "missing")])

    return out.getvalue(), err.getvalue()


def test_colour_on_a_terminal(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
    out, err = list_then_fail_on_a_terminal(monkeypatch, cache_dir)

    assert out.startswith("\x1b[1mName")
    assert err.startswith("\x1b[1;31mwheelcache: error:\x1b[0m")


def test_no_colour_with_no_color(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
    monkeypatch.setenv("NO_COLOR", "1")

    out, err = list_then_fail_on_a_terminal(monkeypatch, cache_dir)

    assert "\x1b" not in out + err


def test_no_colour_when_not_a_terminal(capsys: pytest.CaptureFixture[str], cache_dir: Path) -> None:
    add_wheel(cache_dir, "a", "alpha")

    _, out, _ = run(capsys, "list")
    _, _, err = run(capsys, "build", str(cache_dir / "missing"))

    assert "\x1b" not in out + err


def test_library_info_messages_show_by_default_on_stderr(
    capsys: pytest.CaptureFixture[str], busy_cache: dict[str, int]
) -> None:
    _, out, err = run(capsys, "clean")

    assert out.startswith("Removed ")
    assert err.startswith("wheelcache: emptied the cache at ")


# -- output helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("90", 90), ("30s", 30), ("30m", 1800), ("12h", 43200), ("7d", 604800),
     ("2w", 1209600), ("1.5h", 5400), ("12H", 43200), (" 5m ", 300)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "size"),
    [("0", 0), ("1000", 1000), ("500M", 500_000_000), ("5G", 5_000_000_000), ("5gb", 5 * 10**9),
     ("1.5K", 1500), ("512MiB", 512 * 2**20), ("1T", 10**12), ("100B", 100)],
)  # fmt: skip
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 bytes"), (1, "1 byte"), (999, "999 bytes"), (1000, "1.0 kB"), (1500, "1.5 kB"),
     (999_949, "999.9 kB"), (999_950, "1.0 MB"), (12_345_678, "12.3 MB"), (5 * 10**9, "5.0 GB")],
)  # fmt: skip
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize(
    ("ago", "text"),
    [(5, "just now"), (120, "2m ago"), (7200, "2h ago"), (3 * 86400, "3d ago"),
     (100 * 86400, "14w ago")],
)  # fmt: skip
def test_format_age(ago: float, text: str) -> None:
    assert format_age(1_000_000_000 - ago, now=1_000_000_000) == text


def test_iso_utc() -> None:
    assert iso_utc(0) == "1970-01-01T00:00:00Z"


def test_render_table_aligns_and_right_aligns_and_leaves_no_trailing_spaces() -> None:
    lines = render_table(
        ["A", "Size", "C"], [["xx", "1 kB", "z"], ["y", "10.5 MB", ""]], right=frozenset({1})
    )

    assert lines == ["A      Size  C", "xx     1 kB  z", "y   10.5 MB"]


def test_progress_line_redraws_in_place_and_wipes() -> None:
    stream = io.StringIO()
    with ProgressLine(stream, enabled=True) as progress:
        progress("prune", 5, 10)
        progress("prune", 10, 10)

    assert stream.getvalue() == "\rprune: 5/10 (50%)\rprune: 10/10 (100%)\r" + " " * 19 + "\r"


def test_progress_line_with_unknown_total() -> None:
    stream = io.StringIO()
    ProgressLine(stream, enabled=True)("list", 256, 0)

    assert stream.getvalue() == "\rlist: 256"


def test_progress_line_disabled_writes_nothing() -> None:
    stream = io.StringIO()
    with ProgressLine(stream, enabled=False) as progress:
        progress("verify", 1, 1)

    assert stream.getvalue() == ""


def test_bad_sdist_is_bad_input_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("build", reason="building needs pypa/build (the 'build' extra)")
    archive = make_sdist(tmp_path / "evil-1.0.tar.gz", {"../evil.py": b""})

    status, _, err = run(capsys, "-q", "build", str(archive))

    assert status == 2
    assert err.startswith(f"wheelcache: error: {archive}: ")
    assert len(err.splitlines()) == 1


def test_durations_print_as_they_are_typed() -> None:
    assert [format_duration(s) for s in (3600, 1800, 90, 0, 86400, 604800, 1.5)] == [
        "1h", "30m", "90s", "0s", "1d", "1w", "1.5s",
    ]  # fmt: skip
    assert all(parse_duration(format_duration(s)) == s for s in (3600, 90, 0, 1.5))


def test_a_clock_time_today_is_hours_and_minutes_else_it_has_the_date() -> None:
    noon = time.mktime((2026, 12, 1, 12, 0, 0, 0, 0, -1))

    assert format_clock(noon + 3600, now=noon) == "13:00"
    assert format_clock(noon + 86400, now=noon) == "2026-12-02 12:00"


# -- remove, clean, completion and the waiting report, in-process ------------------------------
# (tests/test_cli_gc.py and tests/test_completion.py run the real command; these
# cover the same code paths for the coverage measurement, which sees only this process)


def test_remove_in_process_reports_and_exits_1_without_a_match(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    wheel = add_wheel(cache_dir, "/p/alpha", "alpha", seed=1)
    add_wheel(cache_dir, "/p/beta", "beta", seed=2)
    age(wheel, 86400)
    make_source_old(cache_dir, "/p/alpha", 86400)

    dry = run(capsys, "remove", "Alpha", "--dry-run", "--json")
    status, out, _ = run(capsys, "remove", "alpha")
    none = run(capsys, "remove", "gamma*")

    assert json.loads(dry[1])["removed_entries"] == 1
    assert status == 0
    assert out.splitlines()[0] == "Retired 1 source: /p/alpha."
    assert out.splitlines()[1].startswith("Removed 1 wheel (")
    assert not wheel.exists()
    assert none[:2] == (1, "No cached source matches 'gamma*'.\n")


def test_remove_and_prune_in_process_say_what_waits(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    add_wheel(cache_dir, "/p/alpha", "alpha", seed=1)
    add_wheel(cache_dir, "/p/beta", "beta", seed=2)
    make_source_old(cache_dir, "/p/beta", 7200)

    _, removed, _ = run(capsys, "remove", "alpha")
    _, pruned, _ = run(capsys, "prune", "--max-size", "0")

    assert "more becomes removable after" in removed.splitlines()[-1]
    assert pruned.splitlines()[-1].endswith("(grace 1h).")


def test_clean_in_process_reports_and_dry_run_keeps(
    capsys: pytest.CaptureFixture[str], busy_cache: dict[str, int], cache_dir: Path
) -> None:
    _, dry, _ = run(capsys, "clean", "--dry-run")
    _, real, _ = run(capsys, "clean", "--json")

    assert dry.startswith("Would remove 3 wheels, 2 sources and 1 quarantined item (")
    assert json.loads(real)["removed_entries"] == 3
    assert list(WheelCache(cache_dir).wheels()) == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_name_every_command_and_option(
    capsys: pytest.CaptureFixture[str], shell: str
) -> None:
    status, out, _ = run(capsys, "completion", shell)

    assert status == 0
    for word in ("build", "remove", "completion", "--max-size", "--dry-run", "--format"):
        assert word.lstrip("-") in out
    assert "table path json" in out or "(table path json)" in out


def test_verify_in_process_names_the_sources_of_a_corrupt_wheel(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    path = add_wheel(cache_dir, "/p/alpha", "alpha")
    corrupt(path)

    _, out, _ = run(capsys, "verify")

    assert out.splitlines()[0].endswith("(named by 1 source: /p/alpha)")


def test_list_format_path_in_process(capsys: pytest.CaptureFixture[str], cache_dir: Path) -> None:
    path = add_wheel(cache_dir, "/p/alpha", "alpha")

    assert run(capsys, "list", "alpha-1.0", "--format", "path") == (0, f"{path}\n", "")
