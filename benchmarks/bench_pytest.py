"""8. pytest: a suite whose 16 tests each need the project's wheel, run with ``pytest -n 4``.

Three ways to give the tests that wheel, each a session fixture ``project_wheel``:

* **the wheelcache plugin** (``project_wheel`` of ``wheelcache.pytest_plugin``,
  cache in the scratch directory);
* **the pytest-xdist FileLock recipe** (pytest-xdist's documentation: the first
  worker builds into ``getbasetemp().parent`` under a ``FileLock``; the others
  wait and reuse);
* **a build per worker** (each worker builds into its own basetemp: what the
  natural ``tmp_path_factory`` fixture does).

The recipes build with ``python -m build --wheel`` and the plugin with
pypa/build in-process, all with isolation: the project's in-tree backend has no
requirements, so nothing is downloaded, but each build still creates its
isolated environment, as real builds do. The backend appends a line to a log per
build: the build counts are real invocations. *Cold*: nothing built before (for
the plugin, an empty cache); *warm*: the same command again. Each figure is the
wall time of the whole ``pytest`` command; in each round every variant runs
cold then warm, and each variant goes first in turn. *First project_wheel per
worker* is the time each worker's first request of the fixture takes (timed
inside the tests): how long a worker waits for the wheel.

The warm fixture's overhead per worker is the time the first ``project_wheel``
request of each worker takes on a warm cache (fingerprinting the project and
looking it up), timed inside the tests, for the small project and one of 1,000
files.
"""

from __future__ import annotations

import importlib.util
import subprocess
import time
from typing import TYPE_CHECKING

from _wheels import _BACKEND

if TYPE_CHECKING:
    from pathlib import Path

    from _harness import Context

SECTION = "8. pytest -n 4, 16 tests needing the project's wheel"

TESTS = 16
WORKERS = "4"

COUNTING_BACKEND = '''\
"""benchbackend, counting its builds in $BENCH_BUILD_LOG."""
import os

import benchbackend
from benchbackend import *  # noqa: F403


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open(os.environ["BENCH_BUILD_LOG"], "a") as log:
        log.write(f"{os.getpid()}\\n")
    return benchbackend.build_wheel(wheel_directory, config_settings, metadata_directory)
'''

SUITE = f"""\
import os
import time

import pytest


@pytest.mark.parametrize("n", range({TESTS}))
def test_needs_the_wheel(request, n):
    started = time.perf_counter()
    wheel = request.getfixturevalue("project_wheel")
    elapsed = time.perf_counter() - started
    assert os.path.isfile(getattr(wheel, "path", wheel))
    with open(os.environ["BENCH_FIXTURE_LOG"], "a") as log:
        log.write(f"{{os.environ.get('PYTEST_XDIST_WORKER', '-')}} {{elapsed}}\\n")
"""

BUILD = """\
import os
import subprocess
import sys


def build(output_dir):
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(output_dir),
         os.environ["BENCH_PROJECT"]],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    (wheel,) = output_dir.glob("*.whl")
    return wheel
"""

FILELOCK_RECIPE = (
    BUILD
    + """

import pytest
from filelock import FileLock


@pytest.fixture(scope="session")
def project_wheel(tmp_path_factory, worker_id):
    if worker_id == "master":
        return build(tmp_path_factory.mktemp("wheel"))
    shared = tmp_path_factory.getbasetemp().parent / "wheel"
    with FileLock(str(shared) + ".lock"):
        if shared.is_dir():
            (wheel,) = shared.glob("*.whl")
            return wheel
        shared.mkdir()
        return build(shared)
"""
)

PER_WORKER = (
    BUILD
    + """

import pytest


@pytest.fixture(scope="session")
def project_wheel(tmp_path_factory):
    return build(tmp_path_factory.mktemp("wheel"))
"""
)


def write_project(root: Path, files: int) -> Path:
    """The benchmark project: a counting in-tree backend and *files* modules."""
    package = root / "benchdemo"
    package.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "countingbackend"\n'
        'backend-path = ["."]\n\n[project]\nname = "benchdemo"\nversion = "1.0"\n'
    )
    (root / "benchbackend.py").write_text(_BACKEND.format(name="benchdemo", version="1.0"))
    (root / "countingbackend.py").write_text(COUNTING_BACKEND)
    (package / "__init__.py").write_text("VALUE = 1\n")
    for index in range(max(0, files - 4)):
        folder = package / f"part{index // 100}"
        folder.mkdir(exist_ok=True)
        (folder / f"module{index}.py").write_text(f"VALUE = {index}\n")
    return root


def write_suite(root: Path, conftest: str | None, project: Path) -> Path:
    root.mkdir(parents=True)
    ini = "[pytest]\n"
    if conftest is None:
        ini += f"wheelcache_project = {project}\n"
    else:
        (root / "conftest.py").write_text(conftest)
    (root / "pytest.ini").write_text(ini)
    (root / "test_suite.py").write_text(SUITE)
    return root


class Runner:
    """Runs one suite with ``pytest -n 4``; counts builds and fixture times."""

    def __init__(self, ctx: Context, scratch: Path, project: Path) -> None:
        self.ctx = ctx
        self.scratch = scratch  # its own: logs and basetemps are numbered per runner
        scratch.mkdir()
        self.project = project
        self.runs = 0

    def run(self, suite: Path, options: list[str]) -> tuple[float, int, list[float]]:
        """(wall seconds, builds, first-request seconds of each worker)."""
        self.runs += 1
        build_log = self.scratch / f"builds-{self.runs}.log"
        fixture_log = self.scratch / f"fixture-{self.runs}.log"
        env = {
            **self.ctx.env,
            "BENCH_BUILD_LOG": str(build_log),
            "BENCH_FIXTURE_LOG": str(fixture_log),
            "BENCH_PROJECT": str(self.project),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        command = [
            self.ctx.python, "-m", "pytest", "-q", "-n", WORKERS, "-p", "no:cacheprovider",
            f"--basetemp={self.scratch / f'basetemp-{self.runs}'}", *options,
        ]  # fmt: skip
        started = time.perf_counter()
        result = subprocess.run(
            command, cwd=suite, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        elapsed = time.perf_counter() - started
        if result.returncode != 0 or f"{TESTS} passed" not in result.stdout:
            raise RuntimeError(f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr}")
        builds = len(build_log.read_text().splitlines()) if build_log.exists() else 0
        first: dict[str, float] = {}
        for line in fixture_log.read_text().splitlines():
            worker, seconds = line.split()
            first[worker] = max(first.get(worker, 0.0), float(seconds))
        return elapsed, builds, sorted(first.values())


def _available() -> str | None:
    for module in ("pytest", "xdist", "build", "filelock"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (benchmarks/requirements.txt)"
    return None


def run(ctx: Context) -> None:
    report = ctx.report
    missing = _available()
    if missing is not None:
        report.status(SECTION, "not available", missing)
        return
    root = ctx.scratch("pytest")
    rounds = ctx.pick(1, 6)
    small = write_project(root / "project", files=5)
    runner = Runner(ctx, root / "runs-small", small)
    suites = {
        "wheelcache plugin": write_suite(root / "suite-plugin", None, small),
        "xdist FileLock recipe": write_suite(root / "suite-filelock", FILELOCK_RECIPE, small),
        "build per worker": write_suite(root / "suite-per-worker", PER_WORKER, small),
    }
    times: dict[str, list[float]] = {}
    counts: dict[str, list[float]] = {}
    waits: dict[str, list[float]] = {}
    names = list(suites)
    for index in range(rounds):
        cache = root / f"cache-{index}"
        shift = index % len(names)  # each variant goes first in turn, as in _harness.interleaved
        for name in names[shift:] + names[:shift]:
            suite = suites[name]
            plugin = name == "wheelcache plugin"
            options = [f"--wheelcache-dir={cache}"] if plugin else ["-p", "no:wheelcache"]
            for state in ("cold", "warm"):
                elapsed, builds, first = runner.run(suite, options)
                times.setdefault(f"{name}, {state}", []).append(elapsed)
                counts.setdefault(f"{name}, {state}", []).append(builds)
                waits.setdefault(f"{name}, {state}", []).extend(first)
    for name, values in times.items():
        report.figure(SECTION, f"{name}: wall time", values, "s")
    for name, values in counts.items():
        report.figure(SECTION, f"{name}: builds", values, "builds")
    for state in ("cold", "warm"):
        ours = times[f"wheelcache plugin, {state}"]
        for other in ("xdist FileLock recipe", "build per worker"):
            theirs = times[f"{other}, {state}"]
            report.ratio(SECTION, f"{other} / wheelcache plugin ({state})", theirs, ours)
    for name, values in waits.items():
        report.figure(SECTION, f"{name}: first project_wheel per worker", values, "ms", scale=1e3)
    big = write_project(root / "big-project", files=1000)
    big_suite = write_suite(root / "suite-big", None, big)
    big_runner = Runner(ctx, root / "runs-big", big)
    big_cache = root / "cache-big"
    big_runner.run(big_suite, [f"--wheelcache-dir={big_cache}"])  # cold: fills the cache
    big_overhead: list[float] = []
    big_builds = 0
    for _ in range(rounds):
        _elapsed, builds, first = big_runner.run(big_suite, [f"--wheelcache-dir={big_cache}"])
        big_overhead.extend(first)
        big_builds += builds
    report.figure(
        SECTION,
        "wheelcache plugin, warm, 1,000-file project: first project_wheel per worker",
        big_overhead,
        "ms",
        scale=1e3,
        note=f"{big_builds} builds in the warm runs",
    )
