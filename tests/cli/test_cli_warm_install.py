"""The warm install path installs and prints exactly what the full ``wheelcache install`` does.

``wheelcache install SOURCE...`` of cached wheels whose trees are unpacked is
answered by :mod:`wheelcache._cli.warm_install` without argparse, logging or
the ``WheelCache`` facade; everything else goes to the full command. Each case
runs both as separate processes (the console script's entry point, and
:func:`wheelcache._cli.main.main` directly) into two fresh, equal
environments, and compares stdout, stderr, the exit status and what was
installed. Each run also says which path answered (argparse is imported by the
full command only), so a case cannot pass by falling through unnoticed. What
the warm path imports is pinned by tests/test_import_cost.py.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import wheelcache._install.install
from installkit import make_venv, rich_wheel
from procs import DEADLINE, SyncPoints, run_command
from sampleproject import write_flit_project
from wheelcache import Source, WheelCache
from wheelcache._cli import warm
from wheelcache._cli.warm_install import WarmInstall, parse_warm_install
from wheelcache._fs.fsutil import remove_tree
from wheelfactory import make_sdist, make_wheel

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from installkit import Venv
    from wheelcache._unpacked.trees import Tree

pytest.importorskip("installer")
pytestmark = [pytest.mark.usefixtures("hermetic_children"), pytest.mark.slow]

# Both say which path answered on a last stderr line (whether the full command's
# main() ran), removed before comparing.
_PATH_PROBE = """
import sys
import wheelcache._cli.main as command
ran = []
def main(argv=None, real=command.main):
    ran.append(argv)
    return real(argv)
command.main = main
try:
    status = {call}
finally:
    sys.stderr.write("[full]\\n" if ran else "[warm]\\n")
sys.exit(status)
"""
CONSOLE_SCRIPT = _PATH_PROBE.format(call="__import__('wheelcache.__main__').__main__.run()")
FULL_COMMAND = _PATH_PROBE.format(call="command.main()")


class Run:
    """What one run printed, which path answered, and what it installed."""

    def __init__(self, status: int, out: str, err: str, where: Path) -> None:
        self.path = err.splitlines()[-1] if err else ""
        err = err[: err.rindex("[")] if err.endswith("]\n") else err
        out = re.sub(r"\d+ ms\)", "N ms)", out.replace(str(where), "<where>"))
        out = re.sub(r'"seconds": [-+.e0-9]+', '"seconds": N', out)  # --json
        self.answer = (status, out, err.replace(str(where), "<where>"))
        self.installed = _installed(where)


def _installed(where: Path) -> dict[str, bytes]:
    """Every file below *where* with its bytes, made independent of *where*.

    Scripts and bytecode name *where*: it is replaced by ``<where>``, and
    their RECORD rows lose their hash and size.
    """
    if not where.exists():
        return {}
    files, naming = {}, set()
    for path in sorted(where.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if os.fsencode(where) in data:
                naming.add(path)
                data = data.replace(os.fsencode(where), b"<where>")
            if "__pycache__" not in path.parts:
                files[path.relative_to(where).as_posix()] = data
    for name, data in files.items():
        if name.endswith(".dist-info/RECORD"):
            site = (where / name).parent.parent
            rows = []
            for row in csv.reader(io.StringIO(data.decode())):
                if Path(os.path.normpath(site / row[0])) in naming:
                    row[1:] = ["<where-dependent>", ""]
                rows.append(",".join(row))
            files[name] = "\n".join(rows).encode()
    return files


def both(argv: list[str], make_where: Callable[[str], Path]) -> tuple[Run, Run]:
    """Run *argv* by the console script and by the full command, each into its own place.

    ``{where}`` in *argv* is replaced by the run's own directory (from
    *make_where*: a fresh venv, or a target directory).
    """
    runs = []
    for label, code in (("warm", CONSOLE_SCRIPT), ("full", FULL_COMMAND)):
        where = make_where(label)
        given = [a.replace("{where}", str(where)) for a in argv]
        done = run_command([sys.executable, "-c", code, *given])
        runs.append(Run(done.returncode, done.stdout, done.stderr, where))
    return runs[0], runs[1]


@pytest.fixture(autouse=True)
def no_active_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)


@pytest.fixture
def wheel(tmp_path: Path, cache_dir: Path) -> Path:
    """A wheel with scripts, .data and a namespace package, cached with its tree unpacked."""
    made = rich_wheel(tmp_path / "wheels")
    cache = WheelCache(cache_dir)
    cache.install(cache.add(Source.from_archive(made), made), target=tmp_path / "unpacks-it")
    return made


def targets(tmp_path: Path) -> Callable[[str], Path]:
    return lambda label: tmp_path / f"target-{label}"


def venvs(tmp_path: Path, base_venv: Venv) -> Callable[[str], Path]:
    return lambda label: make_venv(tmp_path / f"venv-{label}", base_venv).root


def test_installing_a_cached_wheel_into_a_venv_gives_the_full_commands_output_and_files(
    wheel: Path, tmp_path: Path, base_venv: Venv
) -> None:
    warm_run, full_run = both(
        ["install", str(wheel), "--python", "{where}/bin/python"], venvs(tmp_path, base_venv)
    )

    assert (warm_run.path, full_run.path) == ("[warm]", "[full]")
    assert warm_run.answer == full_run.answer
    assert warm_run.answer[1] == "installed demo 1.0 (hardlink, N ms)\n"
    assert warm_run.installed == full_run.installed


def test_installing_into_a_target_directory_then_again_gives_the_full_commands_output(
    wheel: Path, tmp_path: Path
) -> None:
    argv = ["install", "--link-mode=copy", str(wheel), "--target", "{where}"]

    first = both(argv, targets(tmp_path))
    again = both(argv, targets(tmp_path))  # installed already: unchanged

    assert [first[0].path, again[0].path] == ["[warm]", "[warm]"]
    assert first[0].answer == first[1].answer
    assert first[0].answer[1] == "installed demo 1.0 (copy, N ms)\n"
    assert first[0].installed == first[1].installed
    assert again[0].answer == again[1].answer == (0, "unchanged demo 1.0\n", "")


def test_a_project_an_sdist_and_a_wheel_at_once_from_the_active_venv(
    tmp_path: Path,
    cache_dir: Path,
    demo_project: Path,
    base_venv: Venv,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sources of every kind, ``-q``, and ``$VIRTUAL_ENV`` as the environment."""
    cache = WheelCache(cache_dir)
    sdist = make_sdist(tmp_path / "sdists" / "other-2.0.tar.gz", {"other-2.0/setup.py": b""})
    other = cache.add(Source.from_archive(sdist), make_wheel(tmp_path / "o", "other", "2.0"))
    built = cache.add(Source.from_tree(demo_project), make_wheel(tmp_path / "d", seed=3))
    third = make_wheel(tmp_path / "t", "third", "3.0")
    for cached in (other, built, cache.add(Source.from_archive(third), third)):
        cache.install(cached, target=tmp_path / "unpacks-it")
    venv = make_venv(tmp_path / "active", base_venv)
    monkeypatch.setenv("VIRTUAL_ENV", str(venv.root))
    argv = ["install", "-q", str(demo_project), str(sdist), str(third)]

    warm_run, full_run = both(argv, lambda label: venv.root)

    assert warm_run.path == "[warm]"
    assert warm_run.answer[1] == (
        "installed demo 1.0 (hardlink, N ms)\n"
        "installed other 2.0 (hardlink, N ms)\n"
        "installed third 3.0 (hardlink, N ms)\n"
    )
    unchanged = "unchanged demo 1.0\nunchanged other 2.0\nunchanged third 3.0\n"
    assert full_run.answer == (0, unchanged, "")
    direct_url = venv.site_packages / "demo-1.0.dist-info" / "direct_url.json"
    assert demo_project.as_uri() in direct_url.read_text()


@pytest.mark.parametrize("quiet", [[], ["-q"]])
def test_what_the_library_logs_while_installing_is_printed_as_the_full_command_prints_it(
    quiet: list[str], tmp_path: Path, cache_dir: Path
) -> None:
    """The unsatisfied-requirements warning, logged after installing has begun, is replayed."""
    metadata = b"Metadata-Version: 2.1\nName: needy\nVersion: 1.0\nRequires-Dist: absent>=1\n\n"
    needy = make_wheel(
        tmp_path / "wheels", "needy", "1.0", files={"needy-1.0.dist-info/METADATA": metadata}
    )
    cache = WheelCache(cache_dir)
    cache.install(cache.add(Source.from_archive(needy), needy), target=tmp_path / "unpacks-it")

    warm_run, full_run = both(
        [*quiet, "install", str(needy), "--target", "{where}"], targets(tmp_path)
    )

    assert warm_run.path == "[warm]"
    assert warm_run.answer == full_run.answer
    assert warm_run.answer[2] == (
        "wheelcache: warning: needy 1.0 requires absent>=1, not installed"
        " (dependencies are not installed)\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["install", "{wheel}", "--target", "{where}", "--json"],
        ["-v", "install", "{wheel}", "--target", "{where}"],
        ["install", "{wheel}", "--target", "{where}", "--compile"],
        ["install", "{uncached}", "--target", "{where}"],  # not in the cache: added first
        ["install", "{untreed}", "--target", "{where}"],  # cached, not unpacked yet
        ["install", "{wheel}", "--target", "{where}", "--python", sys.executable],
        ["install", "{wheel}", "--target", "{where}", "--link-mode", "symlink"],
        ["install", "{wheel}", "--targ", "{where}"],
        ["install", "{wheel}/missing.whl", "--target", "{where}"],
        ["install", "{wheel}", "--target", "{where}", "--python", "{where}/no/python"],
        ["install", "{wheel}"],  # no environment
        ["install", "--target", "{where}"],
        ["install", "{wheel}", "--target", "{where}", "--bogus"],
    ],
)
def test_every_other_install_gets_the_full_commands_answer(
    argv: list[str], wheel: Path, tmp_path: Path, cache_dir: Path
) -> None:
    uncached = make_wheel(tmp_path / "uncached", "uncached", "1.0")
    untreed = make_wheel(tmp_path / "untreed", "untreed", "1.0")
    WheelCache(cache_dir).add(Source.from_archive(untreed), untreed)
    given = [
        a.format(wheel=wheel, uncached=uncached, untreed=untreed, where="{where}") for a in argv
    ]

    warm_run, full_run = both(given, targets(tmp_path))

    assert (warm_run.path, full_run.path) == ("[full]", "[full]")
    assert warm_run.answer == full_run.answer
    assert warm_run.installed == full_run.installed


def test_a_configured_remote_sends_the_install_to_the_full_command(
    wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELCACHE_REMOTE", (tmp_path / "bucket").as_uri())

    warm_run, _full_run = both(["install", str(wheel), "--target", "{where}"], targets(tmp_path))

    assert warm_run.path == "[full]"


def test_a_cache_without_its_tag_is_left_to_the_full_command_which_writes_it(
    wheel: Path, tmp_path: Path, cache_dir: Path
) -> None:
    (cache_dir / "CACHEDIR.TAG").unlink()

    warm_run, full_run = both(["install", str(wheel), "--target", "{where}"], targets(tmp_path))

    assert warm_run.path == "[full]"
    assert warm_run.answer == full_run.answer
    assert (cache_dir / "CACHEDIR.TAG").is_file()


def test_a_tree_removed_after_it_was_found_is_unpacked_again_without_redoing_the_output(
    wheel: Path,
    tmp_path: Path,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real = wheelcache._install.install.install_tree
    removed: list[str] = []

    def remove_then_install(tree: Tree, *args: Any, **kw: Any) -> object:
        if not removed:
            removed.append(tree.files)
            remove_tree(Path(tree.files).parent)
        return real(tree, *args, **kw)

    monkeypatch.setattr(wheelcache._install.install, "install_tree", remove_then_install)

    status = warm.run(["install", str(wheel), "--target", str(tmp_path / "t")])

    out, err = capsys.readouterr()
    assert removed
    assert (status, re.sub(r"\d+ ms", "N ms", out)) == (0, "installed demo 1.0 (hardlink, N ms)\n")
    assert (tmp_path / "t" / "demo" / "__init__.py").exists()
    assert err == ""


def test_what_a_vanished_trees_reinstall_logs_comes_after_what_earlier_sources_logged(
    tmp_path: Path,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """stderr keeps the SOURCEs' order, as ``cmd_install`` logs them (one SOURCE after another).

    needy's warning is logged while installing the first SOURCE; then the
    second's tree is gone, leaving an empty directory (a clean's unfinished
    delete, say), so the fallback's ``WheelCache.install`` moves it to the
    quarantine and says so (through ``logging``, not the held lazy loggers).
    """
    metadata = b"Metadata-Version: 2.1\nName: needy\nVersion: 1.0\nRequires-Dist: absent>=1\n\n"
    needy = make_wheel(
        tmp_path / "wheels", "needy", "1.0", files={"needy-1.0.dist-info/METADATA": metadata}
    )
    other = make_wheel(tmp_path / "wheels", "other", "2.0")
    cache = WheelCache(cache_dir)
    for made in (needy, other):
        cache.install(cache.add(Source.from_archive(made), made), target=tmp_path / "unpacks-it")
    real = wheelcache._install.install.install_tree
    emptied: list[str] = []

    def empty_others_tree_then_install(tree: Tree, *args: Any, **kw: Any) -> object:
        if tree.manifest.name == "other" and not emptied:
            emptied.append(tree.files)
            remove_tree(Path(tree.files).parent)
            Path(tree.files).parent.mkdir()
        return real(tree, *args, **kw)

    monkeypatch.setattr(wheelcache._install.install, "install_tree", empty_others_tree_then_install)

    status = warm.run(["install", str(needy), str(other), "--target", str(tmp_path / "t")])

    out, err = capsys.readouterr()
    assert emptied
    assert (status, re.sub(r"\d+ ms", "N ms", out)) == (
        0,
        "installed needy 1.0 (hardlink, N ms)\ninstalled other 2.0 (hardlink, N ms)\n",
    )
    assert "moved damaged entry" in err
    assert err.index("needy 1.0 requires absent>=1") < err.index("moved damaged entry"), err


@pytest.mark.parametrize("kind", ["wheel", "project"])
def test_a_source_whose_tree_and_wheel_went_after_it_was_found_is_installed_as_by_the_full_command(
    kind: str, wheel: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """``wheelcache clean`` between finding and linking: the wheel is added or built again.

    The warm run pauses once its install has begun (``install.recorded``)
    while ``wheelcache clean`` empties the cache; the full run starts from an
    emptied cache. Both print and install the same. The project declares no
    build requirements: it builds only without isolation, as asked.
    """
    project = write_flit_project(tmp_path / "demo", requires="[]")
    source = str(wheel) if kind == "wheel" else str(project)
    argv = ["install", source, "--target", "{where}", "--no-isolation"]
    if kind == "project":
        warming = [*argv[:2], "--no-isolation", "--target", str(tmp_path / "unpacks-it")]
        assert run_command([sys.executable, "-m", "wheelcache", *warming]).returncode == 0
    points = SyncPoints(tmp_path / "sync")
    points.arm("install.recorded")
    where = targets(tmp_path)
    given = [a.replace("{where}", str(where("warm"))) for a in argv]
    with _started([sys.executable, "-c", CONSOLE_SCRIPT, *given], points.env) as warm_child:
        points.wait_reached("install.recorded")
        assert run_command([sys.executable, "-m", "wheelcache", "clean"]).returncode == 0
        points.release("install.recorded")
        out, err = warm_child.communicate(timeout=DEADLINE)
    warm_run = Run(warm_child.returncode, out, err, where("warm"))
    assert run_command([sys.executable, "-m", "wheelcache", "clean"]).returncode == 0
    given = [a.replace("{where}", str(where("full"))) for a in argv]
    done = run_command([sys.executable, "-c", FULL_COMMAND, *given])
    full_run = Run(done.returncode, done.stdout, done.stderr, where("full"))

    assert warm_run.path == "[warm]"
    assert warm_run.answer == full_run.answer
    assert warm_run.answer[:2] == (0, "installed demo 1.0 (hardlink, N ms)\n")
    assert warm_run.installed == full_run.installed


@contextlib.contextmanager
def _started(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """*command* running with *env* added, killed and reaped on the way out if still running."""
    child = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=DEADLINE)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["install", "x"], WarmInstall(None, ["x"])),
        (["install", "x", "y"], WarmInstall(None, ["x", "y"])),
        (["install", "install"], WarmInstall(None, ["install"])),
        (
            ["--cache-dir", "c", "-q", "install", "x", "--python", "p", "--link-mode=copy"],
            WarmInstall("c", ["x"], python="p", link_mode="copy", quiet=True),
        ),
        (
            ["install", "--target=t", "x", "--no-isolation", "--cache-dir=c"],
            WarmInstall("c", ["x"], target="t", isolation=False),
        ),
        (["install", "x", "--quiet"], WarmInstall(None, ["x"], quiet=True)),
        (["install"], None),
        (["x", "install"], None),
        (["install", "x", "--python", "p", "y"], None),  # two runs of SOURCEs: argparse's
        (["install", "x", "--python", "p", "--target", "t"], None),
        (["install", "x", "--python"], None),
        (["install", "x", "--python="], None),
        (["install", "x", "--python", "-p"], None),
        (["install", "x", "--python", "p", "--python", "q"], None),
        (["install", "x", "--link-mode", "symlink"], None),
        (["--python", "p", "install", "x"], None),  # install's own option, before it
        (["--no-isolation", "install", "x"], None),
        (["install", "x", "--pyth", "p"], None),  # an abbreviation: argparse's to judge
        (["install", "x", "--json"], None),
        (["install", "x", "--compile"], None),
        (["-v", "install", "x"], None),
        (["install", "--", "x"], None),
        (["install", "x", "-q", "-q"], None),
        (["install", ""], None),
        (["build", "x"], None),
    ],
)
def test_only_plain_install_arguments_take_the_warm_path(
    argv: list[str], expected: WarmInstall | None
) -> None:
    assert parse_warm_install(argv) == expected
