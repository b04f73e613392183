"""The ``project_venv`` fixture: a fresh venv per worker, the project linked in from the cache.

Real pytest runs (pytester) of the sample project (tests/sampleproject.py,
"demo", whose backend counts its builds in ``$SAMPLE_BUILD_LOG``), here with a
console script ``demo-hello``. The inner tests import the installed project
and run its script inside the venv; the outer test counts builds and trees.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from readme import python_blocks
from sampleproject import BUILD_LOG_VARIABLE, builds, write_project
from wheelcache import WheelCache

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

pytest.importorskip("installer", reason="installing needs pypa/installer (the 'install' extra)")
pytest.importorskip("xdist", reason="these runs use pytest-xdist (the 'test' extra)")

DEADLINE = 300.0
TESTS = 6

USES_THE_VENV = f"""
import os
import sys

import pytest


@pytest.mark.parametrize("n", range({TESTS // 2}))
def test_the_installed_project_imports_in_the_venv(project_venv, n):
    out = project_venv.run(
        "python", "-c", "import demo, sys; print(demo.__file__); print(sys.prefix)"
    ).stdout.splitlines()
    site = os.path.dirname(project_venv.installed[0].dist_info)
    assert out == [os.path.join(site, "demo", "__init__.py"), str(project_venv.root)]
    with open(os.environ["VENV_LOG"], "a") as log:
        log.write(f"{{project_venv.root}}\\n")


@pytest.mark.parametrize("n", range({TESTS // 2}))
def test_the_console_script_runs(project_venv, n):
    assert project_venv.run("demo-hello", "world").stdout == "hello world from demo 1\\n"
"""

HELLO = """\
import sys

VALUE = 1


def main():
    print("hello", *sys.argv[1:], "from demo", VALUE)
"""


class Project:
    """The sample project with a console script, its build log, and the cache its runs use."""

    def __init__(self, pytester: pytest.Pytester, tmp_path: Path) -> None:
        self.pytester = pytester
        self.root = write_project(pytester.path / "demo", "demo")
        (self.root / "src" / "demo" / "__init__.py").write_text(HELLO)
        (self.root / "entry_points.txt").write_text("[console_scripts]\ndemo-hello = demo:main\n")
        (self.root / "tests").mkdir()
        (self.root / "tests" / "test_venv.py").write_text(USES_THE_VENV)
        with (self.root / "pyproject.toml").open("a") as pyproject:
            pyproject.write("\n[tool.pytest.ini_options]\n")
        self.log = tmp_path / "builds.log"
        self.venvs = tmp_path / "venvs.log"
        self.cache = tmp_path / "cache"

    @property
    def builds(self) -> int:
        return builds(self.log)

    def trees(self) -> dict[str, int]:
        """Each unpacked tree in the cache, by name, with its directory's inode."""
        return {p.name: p.stat().st_ino for p in self.cache.glob("trees-v1/*/*")}

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "--wheelcache-no-isolation", *args, timeout=DEADLINE
        )


@pytest.fixture
def project(pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    made = Project(pytester, tmp_path)
    monkeypatch.chdir(made.root)
    monkeypatch.setenv(BUILD_LOG_VARIABLE, str(made.log))
    monkeypatch.setenv("WHEELCACHE_DIR", str(made.cache))
    monkeypatch.setenv("VENV_LOG", str(made.venvs))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return made


def test_each_worker_gets_its_own_venv_where_the_project_imports_and_its_script_runs(
    project: Project,
) -> None:
    result = project.run("-n", "2", "-v")

    result.assert_outcomes(passed=TESTS)
    workers = set(re.findall(r"^\[(gw\d+)\] .*\bPASSED\b", result.stdout.str(), re.MULTILINE))
    assert workers == {"gw0", "gw1"}
    roots = set(project.venvs.read_text().splitlines())
    assert sorted(Path(root).parent.name for root in roots) == ["popen-gw0", "popen-gw1"]
    assert project.builds == 1
    assert len(project.trees()) == 1


def test_a_second_run_is_warm_it_builds_nothing_and_unpacks_nothing(project: Project) -> None:
    project.run("-n", "2").assert_outcomes(passed=TESTS)
    trees = project.trees()

    project.run("-n", "2").assert_outcomes(passed=TESTS)

    assert project.builds == 1
    assert project.trees() == trees  # the same tree directory: not unpacked again


def test_installed_files_are_the_caches_read_only_inodes(project: Project) -> None:
    (project.root / "tests" / "test_venv.py").write_text(
        "import os, pathlib\n"
        "def test_linked(project_venv, wheel_cache):\n"
        "    (result,) = project_venv.installed\n"
        "    assert (result.name, result.action, result.link_mode) == ('demo', 'installed',"
        " 'hardlink')\n"
        "    installed = pathlib.Path(result.dist_info).parent / 'demo' / '__init__.py'\n"
        "    (tree,) = pathlib.Path(os.environ['WHEELCACHE_DIR']).glob('trees-v1/*/*')\n"
        "    assert installed.samefile(tree / 'files' / 'demo' / '__init__.py')\n"
        "    assert installed.stat().st_mode & 0o222 == 0\n"
    )

    result = project.pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--wheelcache-no-isolation"
    )

    result.assert_outcomes(passed=1)


def test_install_adds_another_wheel_built_through_the_cache(project: Project) -> None:
    write_project(project.root / "plugin", "plugin")
    (project.root / "tests" / "test_venv.py").write_text(
        "def test_plugin(project_venv, wheel_for):\n"
        "    result = project_venv.install(wheel_for('plugin'))\n"
        "    assert (result.name, project_venv.installed[-1]) == ('plugin', result)\n"
        "    code = 'import demo, plugin; print(demo.VALUE, plugin.VALUE)'\n"
        "    assert project_venv.run('python', '-c', code).stdout.split() == ['1', '1']\n"
    )

    result = project.pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--wheelcache-no-isolation"
    )

    result.assert_outcomes(passed=1)
    assert project.builds == 2  # demo and plugin, once each


WRITES_THROUGH_A_LINK = """
import os, pathlib

def test_writes_when_told(project_venv):
    path = pathlib.Path(project_venv.installed[0].dist_info).parent / "demo" / "__init__.py"
    if os.environ.get("WRITE_THROUGH"):
        os.chmod(path, 0o644)  # what root, or a careless test, can always do
        with open(path, "a") as module:
            module.write("VALUE = 666\\n")
    else:
        assert project_venv.run("demo-hello").stdout == "hello from demo 1\\n"
"""


def test_a_test_writing_through_a_link_errors_and_the_tree_goes_to_quarantine(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project.root / "tests" / "test_venv.py").write_text(WRITES_THROUGH_A_LINK)
    monkeypatch.setenv("WRITE_THROUGH", "1")

    result = project.pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--wheelcache-no-isolation"
    )

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*wheelcache: tests wrote to files of project_venv that are linked from the cache: *"]
    )
    assert project.trees() == {}
    assert len(list((project.cache / "quarantine-v1").iterdir())) == 1
    assert WheelCache(project.cache).verify().corrupt_trees == ()
    monkeypatch.delenv("WRITE_THROUGH")
    project.run().assert_outcomes(passed=1)  # the tree unpacked again from the same wheel
    assert project.builds == 1


def test_a_project_that_cannot_be_installed_fails_with_one_message(project: Project) -> None:
    (project.root / "tests" / "test_venv.py").write_text(
        "def test_needs(project_venv):\n    pass\n"
    )
    project.cache.mkdir()
    (project.cache / "trees-v1").write_text("not a directory: no tree can be published")

    result = project.pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--wheelcache-no-isolation"
    )

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["wheelcache: cannot install demo-1.0-py3-none-any.whl into */project-venv0: *"]
    )
    assert "Traceback" not in result.stdout.str()


def test_readme_project_venv_example_passes(project: Project) -> None:
    block = python_blocks("## pytest: build the project once for the whole test run")[1]
    (project.root / "tests" / "test_venv.py").write_text(block)

    result = project.pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--wheelcache-no-isolation"
    )

    result.assert_outcomes(passed=1)
