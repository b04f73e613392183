"""Installing from the cache by linking: judged by pip itself, in real virtual environments."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import procs
from installkit import Venv, make_venv, rich_wheel
from mounts import tmpfs
from wheelcache import CachedWheel, CacheError, InstallResult, Source, WheelCache
from wheelcache._fs.fsutil import remove_tree
from wheelcache._install import linking
from wheelcache._install.linking import LinkModeError
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from collections.abc import Iterator

pytest.importorskip("installer")
pytestmark = pytest.mark.slow


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    return tmp_path / "wheels"


def _add(cache: WheelCache, wheel: Path, key: str = "demo") -> CachedWheel:
    return cache.add(Source(key, wheel.name, "demo"), wheel)


def _files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if (p.is_file() or p.is_symlink()) and "__pycache__" not in p.parts
    }


def _shown_files(venv: Venv, name: str) -> set[str]:
    out = venv.pip("show", "-f", name).stdout
    listed = out.split("Files:\n", 1)[1].splitlines()
    return {line.strip() for line in listed if line.strip() and "__pycache__" not in line}


# -- what the environment holds ---------------------------------------------------------------


def test_install_leaves_what_pip_install_no_deps_leaves(
    cache: WheelCache, wheels: Path, base_venv: Venv, tmp_path: Path
) -> None:
    wheel = rich_wheel(wheels)
    ours, pips = make_venv(tmp_path / "ours", base_venv), make_venv(tmp_path / "pip", base_venv)

    result = cache.install(_add(cache, wheel), python=ours.python, origin=wheel)
    pips.pip("install", "--no-deps", "--no-index", str(wheel))

    assert result.action == "installed"
    assert _shown_files(ours, "demo") == _shown_files(pips, "demo") | {
        "demo-1.0.dist-info/WHEELCACHE"
    }
    assert _files(ours.root) == _files(pips.root) | {
        f"{ours.site_packages.relative_to(ours.root).as_posix()}/demo-1.0.dist-info/WHEELCACHE"
    }
    for relative in ("bin/demo", "bin/demo-gui", "bin/demo-tool"):
        shebang = (ours.root / relative).read_bytes().splitlines()[0]
        pips_shebang = (pips.root / relative).read_bytes().splitlines()[0]
        assert shebang == pips_shebang.replace(os.fsencode(pips.root), os.fsencode(ours.root))
        assert os.access(ours.root / relative, os.X_OK)


def test_the_installed_package_imports_and_its_scripts_run(
    cache: WheelCache, wheels: Path, venv: Venv
) -> None:
    cache.install(_add(cache, rich_wheel(wheels, seed=7)), python=venv.python)

    imported = venv.py(
        "import demo, nsp.demo_part, demo_plat;"
        " print(demo.SEED, nsp.demo_part.PART, demo_plat._native_stub.NATIVE)"
    )
    assert imported.split() == ["7", "demo", "True"]
    assert venv.run(venv.script("demo")).stdout.split() == ["demo-main", "7"]
    assert venv.run(venv.script("demo-tool")).stdout.split() == ["demo-tool", "7"]
    shebang = venv.script("demo-tool").read_bytes().splitlines()[0]
    assert shebang == b"#!" + os.fsencode(venv.python)
    assert (venv.root / "include" / "site").rglob("demo.h")
    assert (venv.root / "share" / "demo" / "readme.txt").read_bytes() == b"hello\n"


def test_pip_check_show_and_uninstall_accept_the_installation(
    cache: WheelCache, wheels: Path, venv: Venv
) -> None:
    before = _files(venv.root)
    cache.install(_add(cache, rich_wheel(wheels)), python=venv.python)

    check = venv.pip("check")
    assert check.returncode == 0, check.stdout
    assert "No broken requirements found." in check.stdout
    assert venv.pip_json_list()["demo"] == "1.0"
    assert (venv.site_packages / "demo-1.0.dist-info" / "INSTALLER").read_text() == "wheelcache\n"
    uninstall = venv.pip("uninstall", "-y", "demo")
    assert "Successfully uninstalled demo-1.0" in uninstall.stdout
    assert _files(venv.root) == before
    assert not (venv.site_packages / "demo").exists()


def test_the_identical_wheel_again_is_unchanged(
    cache: WheelCache, wheels: Path, venv: Venv
) -> None:
    wheel = _add(cache, rich_wheel(wheels))
    cache.install(wheel, python=venv.python)
    record = venv.site_packages / "demo-1.0.dist-info" / "RECORD"
    written = record.stat().st_mtime_ns

    again = cache.install(wheel, python=venv.python)

    assert (again.action, again.link_mode, again.files) == ("unchanged", None, 0)
    assert record.stat().st_mtime_ns == written


def test_reinstall_after_an_edit_installs_the_new_code_at_the_same_version(
    cache: WheelCache, wheels: Path, venv: Venv
) -> None:
    cache.install(_add(cache, rich_wheel(wheels / "a", seed=1)), python=venv.python)

    result = cache.install(_add(cache, rich_wheel(wheels / "b", seed=2)), python=venv.python)

    assert (result.action, result.replaced) == ("installed", ("1.0",))
    assert venv.py("import demo; print(demo.SEED)").strip() == "2"
    assert not list(venv.root.rglob("*wheelcache-old*"))
    assert venv.pip("check").returncode == 0


def test_another_version_is_uninstalled_through_its_record_first(
    cache: WheelCache, wheels: Path, venv: Venv
) -> None:
    old = make_wheel(wheels / "a", "demo", "1.0", files={"demo/only_in_one.py": b""})
    cache.install(_add(cache, old), python=venv.python)
    new = make_wheel(wheels / "b", "demo", "2.0", files={"demo/only_in_two.py": b""})

    result = cache.install(_add(cache, new), python=venv.python)

    assert result.replaced == ("1.0",)
    assert not (venv.site_packages / "demo" / "only_in_one.py").exists()
    assert (venv.site_packages / "demo" / "only_in_two.py").exists()
    assert not (venv.site_packages / "demo-1.0.dist-info").exists()
    assert venv.pip_json_list()["demo"] == "2.0"


def test_a_namespace_package_shared_with_another_distribution_survives_its_uninstall(
    cache: WheelCache, wheels: Path, venv: Venv
) -> None:
    cache.install(_add(cache, rich_wheel(wheels / "a")), python=venv.python)
    other = rich_wheel(wheels / "b", name="other")
    cache.install(_add(cache, other, key="other"), python=venv.python)

    venv.pip("uninstall", "-y", "demo")

    assert venv.py("import nsp.other_part; print(nsp.other_part.PART)").strip() == "other"


# -- links, read-only files, and the cache --------------------------------------------------


def test_installed_files_are_hard_links_to_the_read_only_tree(
    cache: WheelCache, wheels: Path, tmp_path: Path
) -> None:
    wheel = _add(cache, rich_wheel(wheels))
    result = cache.install(wheel, target=tmp_path / "target")

    installed = tmp_path / "target" / "demo" / "__init__.py"
    in_tree = cache._layout.tree_dir(wheel.sha256) / "files" / "demo" / "__init__.py"
    assert result.link_mode == "hardlink"
    assert os.path.samefile(installed, in_tree)
    assert not installed.stat().st_mode & 0o222


def test_copy_mode_places_independent_files(
    cache: WheelCache, wheels: Path, tmp_path: Path
) -> None:
    wheel = _add(cache, rich_wheel(wheels))
    result = cache.install(wheel, target=tmp_path / "target", link_mode="copy")

    installed = tmp_path / "target" / "demo" / "__init__.py"
    in_tree = cache._layout.tree_dir(wheel.sha256) / "files" / "demo" / "__init__.py"
    assert result.link_mode == "copy"
    assert not os.path.samefile(installed, in_tree)
    assert installed.read_bytes() == in_tree.read_bytes()


def _can_clone(directory: Path) -> bool:
    """Whether this filesystem makes reflink clones (a capability, checked at run time)."""
    (directory / "probe").write_bytes(b"x")
    try:
        linking._clone(str(directory / "probe"), str(directory / "probe-clone"), 0o444)
    except OSError:
        return False
    return True


def test_clone_mode_clones_or_says_why_it_cannot(
    cache: WheelCache, wheels: Path, tmp_path: Path
) -> None:
    wheel = _add(cache, rich_wheel(wheels))
    cache.install(wheel, target=tmp_path / "warm")  # the tree exists: only the linking differs
    if _can_clone(cache._layout.trees):
        result = cache.install(wheel, target=tmp_path / "target", link_mode="clone")
        assert result.link_mode == "clone"
        return
    with pytest.raises(LinkModeError, match=r"cannot install by clone.*--link-mode auto"):
        cache.install(wheel, target=tmp_path / "target", link_mode="clone")
    assert not list((tmp_path / "target").rglob("*.py"))  # nothing half-installed


def test_an_unknown_link_mode_is_a_value_error(cache: WheelCache, wheels: Path) -> None:
    with pytest.raises(ValueError, match="link_mode must be one of"):
        cache.install(_add(cache, rich_wheel(wheels)), link_mode="symlink")


def test_removing_a_tree_never_breaks_an_installed_environment(
    cache: WheelCache, wheels: Path, venv: Venv
) -> None:
    cache.install(_add(cache, rich_wheel(wheels, seed=3)), python=venv.python)

    cache.clean()

    assert not cache._layout.trees.exists()
    assert venv.run(venv.script("demo")).stdout.split() == ["demo-main", "3"]
    assert venv.pip("uninstall", "-y", "demo").returncode == 0


def test_verify_detects_a_tree_written_through_an_installed_link(
    cache: WheelCache, wheels: Path, tmp_path: Path
) -> None:
    wheel = _add(cache, rich_wheel(wheels))
    cache.install(wheel, target=tmp_path / "target")
    installed = tmp_path / "target" / "demo" / "__init__.py"
    assert not os.access(installed, os.W_OK) or os.geteuid() == 0

    with open(installed, "ab") as handle:  # what root can do anyway
        handle.write(b"# edited in the environment\n")

    report = cache.verify()
    assert [c.sha256 for c in report.corrupt_trees] == [wheel.sha256]


def test_a_tree_that_vanished_mid_install_is_unpacked_again(
    cache: WheelCache, wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = _add(cache, rich_wheel(wheels))
    from wheelcache._unpacked.trees import Trees

    original = Trees.unpacked
    calls = []

    def unpacked_then_removed(self: Trees, cached: CachedWheel) -> object:
        tree = original(self, cached)
        calls.append(tree)
        if len(calls) == 1:  # garbage collection takes it right after
            remove_tree(cache._layout.tree_dir(cached.sha256))
        return tree

    monkeypatch.setattr(Trees, "unpacked", unpacked_then_removed)
    result = cache.install(wheel, target=tmp_path / "target")

    assert len(calls) == 2
    assert result.action == "installed"
    assert (tmp_path / "target" / "demo" / "__init__.py").exists()


# -- failures ---------------------------------------------------------------------------------


def test_a_failure_mid_install_leaves_the_previous_installation_in_place(
    cache: WheelCache, wheels: Path, venv: Venv, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.install(_add(cache, rich_wheel(wheels / "a", seed=1)), python=venv.python)
    before = {
        p: p.read_bytes() for p in map(Path, sorted(map(str, venv.root.rglob("*")))) if p.is_file()
    }
    new_files = {"aaa_new/__init__.py": b"", "aab_new/deep/__init__.py": b""}
    new = _add(cache, make_wheel(wheels / "b", "demo", "2.0", files=new_files, seed=2))
    placed: list[str] = []
    original = linking.Linker.place

    def fail_after_three(self: linking.Linker, source: str, destination: str, mode: int) -> None:
        if len(placed) == 3:
            raise OSError(28, "No space left on device")
        placed.append(destination)
        original(self, source, destination, mode)

    monkeypatch.setattr(linking.Linker, "place", fail_after_three)
    with pytest.raises(OSError, match="No space left"):
        cache.install(new, python=venv.python)

    after = {
        p: p.read_bytes() for p in map(Path, sorted(map(str, venv.root.rglob("*")))) if p.is_file()
    }
    assert after == before
    assert venv.py("import demo; print(demo.SEED)").strip() == "1"
    assert venv.pip("uninstall", "-y", "demo").returncode == 0


def test_neither_python_nor_target_means_the_running_interpreter(
    cache: WheelCache, wheels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wheelcache._install import scheme

    seen: list[str] = []

    def refuse(python: str) -> object:
        seen.append(python)
        raise ZeroDivisionError

    monkeypatch.setattr(scheme, "for_interpreter", refuse)
    with pytest.raises(ZeroDivisionError):
        cache.install(_add(cache, rich_wheel(wheels)))
    assert seen == [sys.executable]


def test_python_and_target_together_are_a_value_error(cache: WheelCache, wheels: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        cache.install(_add(cache, rich_wheel(wheels)), python=sys.executable, target="x")


def test_an_interpreter_that_cannot_run_is_a_clear_error(
    cache: WheelCache, wheels: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="cannot run the interpreter"):
        cache.install(_add(cache, rich_wheel(wheels)), python=tmp_path / "no-python")


# -- extras: origin, bytecode, requirements ---------------------------------------------------


def test_direct_url_json_records_the_origin(
    cache: WheelCache, wheels: Path, tmp_path: Path
) -> None:
    wheel = rich_wheel(wheels)
    cache.install(_add(cache, wheel), target=tmp_path / "t1", origin=wheel)
    cache.install(_add(cache, wheel), target=tmp_path / "t2", origin=tmp_path)

    archive = json.loads((tmp_path / "t1" / "demo-1.0.dist-info" / "direct_url.json").read_text())
    directory = json.loads((tmp_path / "t2" / "demo-1.0.dist-info" / "direct_url.json").read_text())
    assert archive["url"] == wheel.as_uri()
    assert archive["archive_info"]["hashes"]["sha256"] == _add(cache, wheel).sha256
    assert directory == {"url": tmp_path.as_uri(), "dir_info": {}}


def test_compile_writes_bytecode_that_record_lists_and_pip_removes(
    cache: WheelCache, wheels: Path, venv: Venv
) -> None:
    result = cache.install(_add(cache, rich_wheel(wheels)), python=venv.python, compile=True)

    pycs = list((venv.site_packages / "demo" / "__pycache__").glob("__init__.*.pyc"))
    assert len(pycs) == 1
    record = (Path(result.dist_info) / "RECORD").read_text()
    assert "demo/__pycache__/" in record
    venv.pip("uninstall", "-y", "demo")
    assert not pycs[0].exists()


def test_unsatisfied_requirements_are_listed_not_installed(
    cache: WheelCache, wheels: Path, venv: Venv
) -> None:
    metadata = (
        b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
        b"Requires-Dist: pip>=1\nRequires-Dist: surely-not-installed>=2\n"
        b"Requires-Dist: other-extra; extra == 'x'\n"
        b"Requires-Dist: never-here; python_version < '3'\n"
    )
    wheel = make_wheel(wheels, "demo", "1.0", files={"demo-1.0.dist-info/METADATA": metadata})

    result = cache.install(_add(cache, wheel), python=venv.python)

    assert result.unsatisfied == ("surely-not-installed>=2",)
    assert "surely-not-installed" not in venv.pip_json_list()


# -- environments on other filesystems, and concurrency ---------------------------------------


@pytest.fixture
def other_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A directory on a tmpfs mounted for the test (skips if mounting is not permitted)."""
    with tmpfs(tmp_path / "tmpfs", "size=64m", "test a cross-device install") as mount:
        assert os.stat(mount).st_dev != os.stat(tmp_path).st_dev
        yield mount


def test_a_cross_device_install_copies_and_says_so_once(
    cache: WheelCache, wheels: Path, other_filesystem: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wheelcache")

    result = cache.install(_add(cache, rich_wheel(wheels)), target=other_filesystem / "t")

    assert result.link_mode == "copy"
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1
    assert "different filesystems" in said[0]
    assert "WHEELCACHE_DIR" in said[0]
    assert (other_filesystem / "t" / "demo" / "__init__.py").exists()


def test_hardlink_mode_across_devices_is_a_link_mode_error(
    cache: WheelCache, wheels: Path, other_filesystem: Path
) -> None:
    with pytest.raises(LinkModeError, match="different filesystems"):
        cache.install(
            _add(cache, rich_wheel(wheels)), target=other_filesystem / "t", link_mode="hardlink"
        )
    assert not list((other_filesystem / "t").rglob("*.py"))


def test_two_processes_install_into_two_venvs_at_once_from_one_cold_tree(
    cache: WheelCache, wheels: Path, base_venv: Venv, tmp_path: Path
) -> None:
    wheel = _add(cache, rich_wheel(wheels, seed=5))
    venvs = [make_venv(tmp_path / f"v{i}", base_venv) for i in range(2)]
    go = tmp_path / "go"
    children = [
        procs.start(
            {
                "op": "install",
                "root": str(cache.root),
                "sha256": wheel.sha256,
                "python": str(v.python),
                "start_file": str(go),
            }
        )
        for v in venvs
    ]
    go.touch()
    results = [child.result() for child in children]

    assert [r["action"] for r in results] == ["installed", "installed"]
    for v in venvs:
        assert v.run(v.script("demo")).stdout.split() == ["demo-main", "5"]
        assert v.pip("check").returncode == 0
    assert cache.verify().sound
    assert len(list(cache._layout.trees.rglob("manifest.json"))) == 1


def test_install_result_is_public() -> None:
    assert InstallResult.__name__ == "InstallResult"


def test_without_pypa_installer_the_error_says_which_extra_to_install(
    cache: WheelCache, wheels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "installer" else real(name, *a),
    )
    with pytest.raises(CacheError, match=r"wheelcache\[install\]"):
        cache.install(_add(cache, rich_wheel(wheels)), target=wheels / "t")


def test_a_venv_of_this_interpreter_is_described_without_starting_it_exactly_as_it_would(
    venv: Venv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wheelcache._install import scheme

    asked = scheme.for_interpreter(str(venv.python))  # the fast path: nothing started
    monkeypatch.setattr(scheme, "_venv_of_this_interpreter", lambda python: None)
    started = scheme.for_interpreter(str(venv.python))  # the interpreter answers itself

    assert asked == started
    assert started.purelib == str(venv.site_packages)
    assert started.executable == str(venv.python)


def test_a_venv_of_another_interpreter_is_asked(venv: Venv) -> None:
    from wheelcache._install import scheme

    config = venv.root / "pyvenv.cfg"
    config.write_text(config.read_text().replace("version = ", "version = 0.0.0-was-"))

    assert scheme._venv_of_this_interpreter(str(venv.python)) is None
    assert scheme.for_interpreter(str(venv.python)).purelib == str(venv.site_packages)


def test_the_running_interpreters_answer_is_worked_out_once_and_callers_cannot_change_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sysconfig

    from wheelcache._install import scheme

    first = scheme._ask(sys.executable)
    first["paths"] = {"purelib": "/changed/by/a/caller"}
    monkeypatch.setattr(scheme, "_QUERY", "raise AssertionError('asked again')")
    again = scheme._ask(sys.executable)

    assert again["paths"] == sysconfig.get_paths()


def test_requires_dist_is_read_from_the_header_only() -> None:
    from wheelcache._install.requirements import requires_dist

    metadata = (
        b"Metadata-Version: 2.1\nName: demo\nSummary: folded\n  summary line\n"
        b"requires-dist: one>=1\nRequires-Dist: two;\n  python_version > '3'\n\n"
        b"Requires-Dist: in-the-description\n"
    )
    assert requires_dist(metadata) == ["one>=1", "two; python_version > '3'"]


def _kill_install_after_its_record(
    cache: WheelCache, wheel: CachedWheel, venv: Venv, syncpoints: procs.SyncPoints
) -> None:
    """Install *wheel* in a child, and kill -9 it right after it wrote RECORD."""
    cache.install(wheel, target=venv.root.parent / "warm")  # the tree exists
    syncpoints.arm("install.recorded")
    op = {"op": "install", "root": str(cache.root), "sha256": wheel.sha256}
    child = procs.start({**op, "python": str(venv.python)}, syncpoints.env)
    syncpoints.wait_reached("install.recorded")
    child.kill()


def test_an_install_killed_mid_way_leaves_what_pip_uninstalls_and_the_next_install_replaces(
    cache: WheelCache, wheels: Path, venv: Venv, syncpoints: procs.SyncPoints
) -> None:
    before = _files(venv.root)
    wheel = _add(cache, rich_wheel(wheels, seed=6))
    _kill_install_after_its_record(cache, wheel, venv, syncpoints)

    assert venv.pip_json_list()["demo"] == "1.0"  # pip knows the half-installed distribution
    again = cache.install(wheel, python=venv.python)
    assert again.action == "installed"  # not "unchanged": the first never finished
    assert venv.run(venv.script("demo")).stdout.split() == ["demo-main", "6"]
    assert venv.pip("uninstall", "-y", "demo").returncode == 0
    assert _files(venv.root) == before


def test_pip_uninstalls_an_install_killed_after_its_record(
    cache: WheelCache, wheels: Path, venv: Venv, syncpoints: procs.SyncPoints
) -> None:
    before = _files(venv.root)
    wheel = _add(cache, rich_wheel(wheels))
    _kill_install_after_its_record(cache, wheel, venv, syncpoints)

    uninstall = venv.pip("uninstall", "-y", "demo")

    assert "Successfully uninstalled demo-1.0" in uninstall.stdout
    assert _files(venv.root) == before
