"""End to end: real projects, real build backends, built twice; the second time is a hit.

Builds without isolation use the backends installed in this environment and
are skipped (never installed by the test) when one is missing. Isolated builds
install their backend from the package index into a fresh environment, which
costs seconds, so there is one per backend.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from procs import AUDITED, CONSOLE_SCRIPT, run_command
from wheelcache._build import builder as _builder
from wheelcache._cli.main import main

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("hermetic_children")]

pytest.importorskip("build", reason="building needs pypa/build (the 'build' extra)")

BUILD_DEADLINE = 240.0  # seconds one build command may take (isolated builds download)

BACKENDS: dict[str, dict[str, Any]] = {
    "flit_core": {
        "module": "flit_core",
        "build_system": 'requires = ["flit_core>=3.4"]\nbuild-backend = "flit_core.buildapi"',
        "extra": "",
    },
    "hatchling": {
        "module": "hatchling",
        "build_system": 'requires = ["hatchling"]\nbuild-backend = "hatchling.build"',
        "extra": "",
    },
    "setuptools": {
        "module": "setuptools",
        "build_system": 'requires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"',
        "extra": "\n[tool.setuptools]\npackages = ['{package}']\n",
    },
}


# -- fixtures and helpers ----------------------------------------------------------------


def write_project(root: Path, backend: str, name: str) -> Path:
    spec = BACKENDS[backend]
    package = name.replace("-", "_")
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text(f'"""The {name} test project."""\n\nVALUE = 1\n')
    (root / "pyproject.toml").write_text(
        f"[build-system]\n{spec['build_system']}\n\n"
        f'[project]\nname = "{name}"\nversion = "1.0"\ndescription = "A test project."\n'
        + spec["extra"].format(package=package)
    )
    return root


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One project per backend, shared by the tests (builds only add build outputs)."""
    base = tmp_path_factory.mktemp("projects")
    return {b: write_project(base / b, b, f"e2e-{b.replace('_', '-')}") for b in BACKENDS}


def need(backend: str) -> None:
    module = BACKENDS[backend]["module"]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed here; building without isolation needs it")


class Spy:
    """Wraps the real builder, counting builds."""

    def __init__(self) -> None:
        self.calls = 0
        self.real = _builder.build_wheel

    def __call__(self, source_path: Path, output_dir: Path, *, isolation: bool) -> None:
        self.calls += 1
        self.real(source_path, output_dir, isolation=isolation)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    watcher = Spy()
    monkeypatch.setattr(_builder, "build_wheel", watcher)
    return watcher


def build_twice(
    capsys: pytest.CaptureFixture[str], spy: Spy, source: Path, *options: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build *source* twice in-process; check the output shape; return both JSON reports."""
    reports = []
    for _ in range(2):
        status = main(["-q", "build", *options, "--json", str(source)])
        out, err = capsys.readouterr()
        assert status == 0, err
        reports.append(json.loads(out))
    return reports[0], reports[1]


def metadata_name(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    return next(
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Name:")
    )


# -- builds of project directories -------------------------------------------------------


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_build_without_isolation_twice_second_is_a_hit(
    capsys: pytest.CaptureFixture[str], spy: Spy, projects: dict[str, Path], backend: str
) -> None:
    need(backend)

    first, second = build_twice(capsys, spy, projects[backend], "--no-isolation")

    assert first["built"] is True
    assert second["built"] is False
    assert spy.calls == 1
    assert second["path"] == first["path"]
    assert metadata_name(Path(first["path"])) == f"e2e-{backend.replace('_', '-')}"


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_isolated_build_twice_second_is_a_hit(
    capsys: pytest.CaptureFixture[str], spy: Spy, projects: dict[str, Path], backend: str
) -> None:
    first, second = build_twice(capsys, spy, projects[backend])

    assert (first["built"], second["built"], spy.calls) == (True, False, 1)
    assert Path(first["path"]).name.endswith("-none-any.whl")


def test_editing_the_project_builds_again(
    capsys: pytest.CaptureFixture[str], spy: Spy, tmp_path: Path
) -> None:
    need("flit_core")
    project = write_project(tmp_path / "project", "flit_core", "e2e-edited")
    main(["-q", "build", "--no-isolation", str(project)])
    capsys.readouterr()
    (project / "e2e_edited" / "__init__.py").write_text('"""Edited."""\n\nVALUE = 2\n')

    status = main(["-q", "build", "--no-isolation", "--json", str(project)])

    assert status == 0
    assert json.loads(capsys.readouterr().out)["built"] is True
    assert spy.calls == 2


# -- builds of sdists --------------------------------------------------------------------


def test_sdist_made_by_pypa_build_twice_second_is_a_hit(
    capsys: pytest.CaptureFixture[str], spy: Spy, projects: dict[str, Path], tmp_path: Path
) -> None:
    need("flit_core")
    dist = tmp_path / "dist"
    made = run_command(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(dist),
         str(projects["flit_core"])],
        BUILD_DEADLINE,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    (sdist,) = dist.glob("*.tar.gz")

    first, second = build_twice(capsys, spy, sdist, "--no-isolation")

    assert (first["built"], second["built"], spy.calls) == (True, False, 1)
    assert first["source"]["kind"] == "sdist"
    assert metadata_name(Path(first["path"])) == "e2e-flit-core"


def test_zip_sdist_made_by_hand_twice_second_is_a_hit(
    capsys: pytest.CaptureFixture[str], spy: Spy, projects: dict[str, Path], tmp_path: Path
) -> None:
    need("hatchling")
    project = projects["hatchling"]
    sdist = tmp_path / "e2e_hatchling-1.0.zip"
    with zipfile.ZipFile(sdist, "w") as archive:
        for path in sorted(project.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, f"e2e_hatchling-1.0/{path.relative_to(project).as_posix()}")

    first, second = build_twice(capsys, spy, sdist, "--no-isolation")

    assert (first["built"], second["built"], spy.calls) == (True, False, 1)
    assert metadata_name(Path(first["path"])) == "e2e-hatchling"


# -- the command in a subprocess ----------------------------------------------------------


def test_console_script_builds_then_hits_without_starting_a_build(
    projects: dict[str, Path],
) -> None:
    need("hatchling")
    project = str(projects["hatchling"])

    first = run_command(
        [sys.executable, "-c", CONSOLE_SCRIPT, "build", "--no-isolation", project], BUILD_DEADLINE
    )
    second = run_command(
        [sys.executable, "-c", AUDITED, "build", "--no-isolation", project], BUILD_DEADLINE
    )

    assert first.returncode == 0, first.stderr
    assert len(first.stdout.splitlines()) == 1
    assert first.stderr.startswith("wheelcache: built in ")
    *printed, report = second.stdout.splitlines()
    assert printed == first.stdout.splitlines()
    assert json.loads(report) == {"status": 0, "started": [], "imported": []}


def test_backend_output_goes_to_stderr_never_stdout(
    projects: dict[str, Path], tmp_path: Path
) -> None:
    need("setuptools")
    command = [sys.executable, "-m", "wheelcache", "--cache-dir", str(tmp_path / "loud")]

    loud = run_command([*command, "-v", "build", "--no-isolation", str(projects["setuptools"])],
                       BUILD_DEADLINE)  # fmt: skip
    quiet = run_command([*command[:-1], str(tmp_path / "quiet"), "-q", "build", "--no-isolation",
                         str(projects["setuptools"])], BUILD_DEADLINE)  # fmt: skip

    assert loud.returncode == 0, loud.stderr
    assert len(loud.stdout.splitlines()) == 1
    assert Path(loud.stdout.strip()).is_file()
    assert "running bdist_wheel" in loud.stderr  # setuptools prints that on its stdout
    assert quiet.returncode == 0, quiet.stderr
    assert len(quiet.stdout.splitlines()) == 1
    assert quiet.stderr == ""


# -- failures ----------------------------------------------------------------------------


@pytest.fixture
def broken_project(tmp_path: Path) -> Path:
    """A project whose in-tree backend prints something, then raises."""
    root = tmp_path / "broken"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "broken_backend"\nbackend-path = ["."]\n\n'
        '[project]\nname = "broken"\nversion = "1.0"\n'
    )
    (root / "broken_backend.py").write_text(
        "import sys\n"
        "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n"
        "    print('compiling things...')\n"
        "    raise RuntimeError('the backend broke on purpose')\n"
    )
    return root


def test_failing_backend_exits_1_with_one_line(broken_project: Path) -> None:
    result = run_command(
        [sys.executable, "-m", "wheelcache", "-q", "build", "--no-isolation", str(broken_project)],
        BUILD_DEADLINE,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "wheelcache: error: building broken failed: Backend subprocess exited when trying to"
        " invoke build_wheel: RuntimeError: the backend broke on purpose\n"
    )


def test_failing_backend_output_is_shown_on_stderr_by_default(broken_project: Path) -> None:
    result = run_command(
        [sys.executable, "-m", "wheelcache", "build", "--no-isolation", str(broken_project)],
        BUILD_DEADLINE,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert "compiling things...\n" in result.stderr
    assert "Traceback" in result.stderr  # the backend's, relayed
    assert result.stderr.splitlines()[-1].startswith("wheelcache: error: building broken failed")


def test_failed_build_caches_nothing(
    capsys: pytest.CaptureFixture[str], broken_project: Path, tmp_path: Path
) -> None:
    main(["-q", "build", "--no-isolation", str(broken_project)])
    capsys.readouterr()

    status, out = main(["list", "--json"]), capsys.readouterr().out

    assert status == 0
    assert json.loads(out)["count"] == 0


def test_missing_backend_without_isolation_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = tmp_path / "lacking"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["surely-not-installed-backend>=1"]\n'
        'build-backend = "surely_not_installed_backend"\n\n'
        '[project]\nname = "lacking"\nversion = "1"\n'
    )

    status = main(["-q", "build", "--no-isolation", str(root)])

    err = capsys.readouterr().err
    assert status == 1
    assert err == (
        "wheelcache: error: building lacking without isolation needs"
        " surely-not-installed-backend>=1 installed in this environment (or build with isolation)\n"
    )
