"""The pytest plugin: each wheel once per test run, however many workers ask.

Real pytest runs (pytester), most with ``-n 4`` in a subprocess, of the sample
project (tests/sampleproject.py, named "demo") whose in-tree backend appends a
line to ``$SAMPLE_BUILD_LOG`` per build: the counts below are real backend
invocations. Its 16 tests each need ``project_wheel``. Builds run without
isolation (nothing to install; the backend has no requirements anyway).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from readme import python_blocks
from sampleproject import BUILD_LOG_VARIABLE, break_build, builds, write_project
from wheelcache import BuildFailedError, Source
from wheelcache._pytest.failures import FailureRecords

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

pytest.importorskip("build", reason="building needs pypa/build (the 'build' extra)")
pytest.importorskip("xdist", reason="these runs use pytest-xdist (the 'test' extra)")

DEADLINE = 300.0  # seconds one inner pytest run may take on a busy 2-core box
WORKERS = ("-n", "4")
TESTS = 16

NEEDS_THE_WHEEL = f"""
import os

import pytest


@pytest.mark.parametrize("n", range({TESTS}))
def test_needs_the_wheel(project_wheel, n):
    assert project_wheel.name == "demo"
    assert project_wheel.path.is_file()
    assert str(project_wheel.path).startswith(os.environ["EXPECTED_CACHE"])
"""


class Sample:
    """The sample project, its build log and the cache its runs use."""

    def __init__(
        self, pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.pytester = pytester
        self.monkeypatch = monkeypatch
        self.project = write_project(pytester.path / "demo", "demo")
        (self.project / "tests").mkdir()
        (self.project / "tests" / "test_wheel.py").write_text(NEEDS_THE_WHEEL)
        with (self.project / "pyproject.toml").open("a") as pyproject:
            pyproject.write("\n[tool.pytest.ini_options]\n")
        self.log = tmp_path / "builds.log"
        self.cache = tmp_path / "cache"

    @property
    def builds(self) -> int:
        return builds(self.log)

    def run(self, *args: str) -> pytest.RunResult:
        """A real pytest run in a subprocess, four workers unless *args* say otherwise."""
        return self.pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "--wheelcache-no-isolation", *args, timeout=DEADLINE
        )

    def edit(self) -> None:
        (self.project / "src" / "demo" / "__init__.py").write_text("VALUE = 2\n")


@pytest.fixture
def sample(pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sample:
    made = Sample(pytester, tmp_path, monkeypatch)
    monkeypatch.chdir(made.project)
    monkeypatch.setenv(BUILD_LOG_VARIABLE, str(made.log))
    monkeypatch.setenv("WHEELCACHE_DIR", str(made.cache))  # the default cache of inner runs
    monkeypatch.setenv("EXPECTED_CACHE", str(made.cache))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return made


def error_reports(output: str) -> list[str]:
    """The text of each "ERROR at setup of ..." section of a pytest report."""
    sections = re.split(r"^_+ ERROR at setup of .* _+$", output, flags=re.MULTILINE)[1:]
    reports = [re.split(r"^(?:=+ |_+ ERROR)", s, flags=re.MULTILINE)[0] for s in sections]
    # pytest-xdist heads each report with the worker's platform line.
    return [re.sub(r"^\s*\[gw\d+\] .*\n", "", r).strip() for r in reports]


def workers_reporting(output: str, outcome: str) -> set[str]:
    """The xdist workers (``gw0``...) that reported *outcome* for some test (with ``-v``)."""
    return set(re.findall(rf"^\[(gw\d+)\] .*\b{outcome}\b", output, flags=re.MULTILINE))


# -- once per test run -------------------------------------------------------------------


def test_cold_run_with_four_workers_builds_once_in_the_default_cache(sample: Sample) -> None:
    result = sample.run(*WORKERS, "-v")

    result.assert_outcomes(passed=TESTS)
    assert workers_reporting(result.stdout.str(), "PASSED") == {"gw0", "gw1", "gw2", "gw3"}
    assert sample.builds == 1


def test_second_run_builds_nothing_and_after_an_edit_exactly_one_build(sample: Sample) -> None:
    sample.run(*WORKERS).assert_outcomes(passed=TESTS)

    sample.run(*WORKERS).assert_outcomes(passed=TESTS)
    warm = sample.builds
    sample.edit()
    sample.run(*WORKERS).assert_outcomes(passed=TESTS)

    assert (warm, sample.builds) == (1, 2)


def test_two_concurrent_runs_on_one_cache_build_once(sample: Sample, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *WORKERS]
    runs = [
        sample.pytester.popen(
            [*command, "--wheelcache-no-isolation", f"--basetemp={tmp_path / f'run{index}'}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        for index in range(2)
    ]
    outputs = []
    for run in runs:
        try:
            out, _ = run.communicate(timeout=DEADLINE)
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate()
        outputs.append(out.decode(errors="replace"))

    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all(f"{TESTS} passed" in out for out in outputs), outputs
    assert sample.builds == 1


def test_run_without_xdist_builds_once(sample: Sample) -> None:
    result = sample.pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--wheelcache-no-isolation"
    )

    result.assert_outcomes(passed=TESTS)
    assert sample.builds == 1


# -- a failing build fails once ----------------------------------------------------------


def test_failing_build_runs_once_and_every_worker_reports_the_same_error(sample: Sample) -> None:
    break_build(sample.project)

    result = sample.run(*WORKERS, "-v")

    output = result.stdout.str()
    result.assert_outcomes(errors=TESTS)
    assert sample.builds == 1
    assert workers_reporting(output, "ERROR") == {"gw0", "gw1", "gw2", "gw3"}
    reports = error_reports(output)
    assert len(reports) == TESTS
    assert len(set(reports)) == 1, set(reports)
    (report,) = set(reports)
    assert report.startswith(f"wheelcache: no wheel for {sample.project}: building demo failed:")
    assert "RuntimeError: the sample backend broke on purpose" in report
    assert "    sample backend: compiling things..." in report  # the backend's last lines
    assert "site-packages/_pytest/" not in report  # no traceback but the backend's own
    assert "wheelcache/_pytest/" not in report


def test_after_a_failed_run_the_next_run_builds_again(sample: Sample) -> None:
    break_build(sample.project)
    sample.run(*WORKERS).assert_outcomes(errors=TESTS)

    sample.run(*WORKERS).assert_outcomes(errors=TESTS)

    assert sample.builds == 2


def test_build_error_is_a_fixture_error_with_one_clear_message(sample: Sample) -> None:
    break_build(sample.project)

    result = sample.pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--wheelcache-no-isolation", "-k", "test_needs_the_wheel[0]"
    )

    result.assert_outcomes(errors=1)
    (report,) = error_reports(result.stdout.str())
    first, *rest = report.splitlines()
    assert first == (
        f"wheelcache: no wheel for {sample.project}: building demo failed: Backend subprocess"
        " exited when trying to invoke build_wheel: RuntimeError: the sample backend broke on"
        " purpose"
    )
    assert rest[0] == "the last lines of the build's output:"
    assert "site-packages/_pytest/" not in report  # no traceback but the backend's own
    assert "wheelcache/_pytest/" not in report
    assert sample.builds == 1
    assert not list(sample.cache.glob("sources-*/*/*.json"))  # nothing half-built is recorded


# -- options and fixtures ----------------------------------------------------------------


def test_wheelcache_dir_option_and_ini_choose_the_cache(sample: Sample, tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    sample.monkeypatch.setenv("EXPECTED_CACHE", str(chosen))

    by_option = sample.pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--wheelcache-no-isolation", f"--wheelcache-dir={chosen}"
    )
    with (sample.project / "pyproject.toml").open("a") as pyproject:
        pyproject.write('wheelcache_dir = "../ini-cache"\n')
    sample.monkeypatch.setenv("EXPECTED_CACHE", str(sample.project.parent / "ini-cache"))
    by_ini = sample.pytester.runpytest_inprocess("-p", "no:cacheprovider")

    by_option.assert_outcomes(passed=TESTS)
    by_ini.assert_outcomes(passed=TESTS)
    assert not sample.cache.exists()


def test_ini_no_isolation_is_the_default_of_wheel_for(sample: Sample) -> None:
    (sample.project / "tests" / "test_settings.py").write_text(
        "def test_isolation(wheel_for):\n    assert wheel_for.settings.isolation is False\n"
    )
    with (sample.project / "pyproject.toml").open("a") as pyproject:
        pyproject.write("wheelcache_no_isolation = true\n")

    result = sample.pytester.runpytest_inprocess("-p", "no:cacheprovider", "tests/test_settings.py")

    result.assert_outcomes(passed=1)


def test_wheel_for_resolves_relative_paths_against_the_rootdir(sample: Sample) -> None:
    write_project(sample.project / "fixtures" / "other", "other")
    (sample.project / "tests" / "test_other.py").write_text(
        "def test_other(wheel_for):\n"
        "    wheel = wheel_for('fixtures/other', isolation=True)\n"
        "    assert wheel.name == 'other'\n"
        "    assert wheel_for('fixtures/other', isolation=True) == wheel\n"
    )
    sample.monkeypatch.chdir(sample.project / "tests")  # not the rootdir

    result = sample.pytester.runpytest_inprocess("-p", "no:cacheprovider", "test_other.py")

    result.assert_outcomes(passed=1)
    assert sample.builds == 1


def test_ini_wheelcache_project_names_the_project_to_build(sample: Sample) -> None:
    write_project(sample.project / "elsewhere", "demo")
    with (sample.project / "pyproject.toml").open("a") as pyproject:
        pyproject.write('wheelcache_project = "elsewhere"\n')
    (sample.project / "tests" / "test_where.py").write_text(
        "def test_where(project_wheel, wheel_cache):\n"
        "    (record,) = wheel_cache.sources()\n"
        "    assert record.key.endswith('elsewhere')\n"
    )

    result = sample.pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--wheelcache-no-isolation", "tests/test_where.py"
    )

    result.assert_outcomes(passed=1)
    assert sample.builds == 1


def test_readme_pytest_example_passes(sample: Sample) -> None:
    block = python_blocks("## pytest: build the project once for the whole test run")[0]
    (sample.project / "tests" / "test_readme_example.py").write_text(block)

    result = sample.pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--wheelcache-no-isolation", "tests/test_readme_example.py"
    )

    result.assert_outcomes(passed=1)
    assert sample.builds == 1


# -- the plugin costs nothing when unused ------------------------------------------------

UNUSED = """
import json
import os
import sys


def is_build_machinery(module):
    top = module.split(".")[0]
    return top in {"build", "pyproject_hooks", "filelock"} or module.startswith(
        ("wheelcache._build.builder", "wheelcache._build.sdist", "wheelcache._tree")
    )


def test_nothing_needs_a_wheel():
    pass


def test_zz_report_modules(request):
    loaded = sorted(m for m in sys.modules if is_build_machinery(m))
    plugin = request.config.pluginmanager.get_plugin("wheelcache")
    report = {"loaded": loaded, "plugin": plugin is not None}
    with open(os.environ["REPORT"], "w") as out:
        json.dump(report, out)
"""


@pytest.mark.parametrize("disabled", [False, True], ids=["loaded-unused", "not-loaded"])
def test_plugin_unused_or_not_loaded_imports_no_build_machinery_and_builds_nothing(
    sample: Sample, tmp_path: Path, disabled: bool
) -> None:
    (sample.project / "tests" / "test_wheel.py").write_text(UNUSED)
    sample.monkeypatch.setenv("REPORT", str(tmp_path / "report.json"))
    options = ["-p", "no:wheelcache"] if disabled else []

    result = sample.pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", *options, timeout=DEADLINE
    )

    result.assert_outcomes(passed=2)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report == {"loaded": [], "plugin": not disabled}
    assert (sample.builds, sample.cache.exists()) == (0, False)


def test_plugin_not_loaded_offers_no_fixtures(sample: Sample) -> None:
    result = sample.pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:wheelcache", timeout=DEADLINE
    )

    result.assert_outcomes(errors=TESTS)
    result.stdout.fnmatch_lines(["*fixture 'project_wheel' not found*"])
    assert sample.builds == 0


# -- the failure record ------------------------------------------------------------------


def test_failure_record_is_seen_by_its_test_run_only(tmp_path: Path) -> None:
    source = Source("/some/project", "fresh-1", "demo")
    error = BuildFailedError("building demo failed: boom", ("line 1", "line 2"))
    FailureRecords(tmp_path, "run-1").record_for(source, isolation=True).write(error)

    FailureRecords(tmp_path, "run-2").record_for(source, isolation=True).raise_if_recorded()
    with pytest.raises(BuildFailedError) as caught:
        FailureRecords(tmp_path, "run-1").record_for(source, isolation=True).raise_if_recorded()

    assert (caught.value.message, caught.value.output) == (error.message, error.output)


@pytest.mark.parametrize(
    ("source", "isolation"),
    [
        (Source("/some/project", "fresh-2", "demo"), True),  # edited since
        (Source("/other/project", "fresh-1", "demo"), True),
        (Source("/some/project", "fresh-1", "demo"), False),
    ],
    ids=["other-freshness", "other-source", "other-isolation"],
)
def test_failure_record_is_not_seen_by_another_source_revision_or_isolation(
    tmp_path: Path, source: Source, isolation: bool
) -> None:
    records = FailureRecords(tmp_path, "run-1")
    failed = Source("/some/project", "fresh-1", "demo")
    records.record_for(failed, isolation=True).write(BuildFailedError("boom"))

    records.record_for(source, isolation=isolation).raise_if_recorded()


def test_failure_record_that_cannot_be_written_or_read_is_no_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a-file").write_text("")
    source = Source("key")
    unwritable = FailureRecords(tmp_path / "a-file", "run").record_for(source, isolation=True)
    damaged = FailureRecords(tmp_path, "run").record_for(source, isolation=True)
    damaged.path.write_text("{not json")

    unwritable.write(BuildFailedError("boom"))
    damaged.raise_if_recorded()

    assert "could not record the failed build of key" in caplog.text
    assert sorted(tmp_path.iterdir()) == sorted([tmp_path / "a-file", damaged.path])


def test_wheel_for_a_path_that_is_no_project_fails_with_one_line(sample: Sample) -> None:
    (sample.project / "tests" / "test_nothing.py").write_text(
        "def test_nothing(wheel_for):\n    wheel_for('no-such-dir')\n"
    )

    result = sample.pytester.runpytest_inprocess("-p", "no:cacheprovider", "tests/test_nothing.py")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_nothing _*",
            f"wheelcache: no wheel for {sample.project / 'no-such-dir'}: no such file or directory",
            "=*= short test summary info =*=",
        ],
        consecutive=True,
    )
