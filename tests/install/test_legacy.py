"""Replacing a project installed before wheels: ``.egg-info``, ``.egg-link``, ``.egg``.

Each old installation is made by the real tool that made such installations
(setuptools' ``setup.py install`` / ``develop`` in the venv, as pip's legacy
paths ran them), then replaced by ``WheelCache.install``; pip judges the
result: ``pip list`` shows one version, ``pip check`` finds nothing broken,
``pip uninstall`` removes everything, and no file of the old installation is
left behind.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from installkit import Venv, rich_wheel
from wheelcache import CacheError, Source, WheelCache
from wheelcache._install import linking

if TYPE_CHECKING:
    from pathlib import Path

pytest.importorskip("installer")
pytestmark = pytest.mark.slow

OLD_MODULE = "def main():\n    print('old demo')\n"


@pytest.fixture
def old_venv(venv: Venv) -> Venv:
    """A venv whose interpreter can run a ``setup.py`` (setuptools < 80, as Python 3.11 bundles)."""
    probe = venv.run(venv.python, "-c", "import setuptools; print(setuptools.__version__)")
    if int(probe.stdout.split(".")[0]) >= 80:  # pragma: no cover - depends on the Python
        pytest.skip("this venv's setuptools cannot run setup.py develop/install any more")
    return venv


def old_project(where: Path, *, data_files: bool = False) -> Path:
    """demo 0.9, a setup.py project with a module the wheel lacks and a console script.

    With *data_files*, it also installs ``share/demo-old/notes.txt``, which only
    a list of installed files can tell is its own.
    """
    (where / "demo").mkdir(parents=True)
    (where / "demo" / "__init__.py").write_text(OLD_MODULE)
    (where / "demo" / "legacy_only.py").write_text("OLD = True\n")
    (where / "notes.txt").write_text("old notes\n")
    data = "data_files=[('share/demo-old', ['notes.txt'])]," if data_files else ""
    (where / "setup.py").write_text(
        "from setuptools import setup\n"
        f"setup(name='demo', version='0.9', packages=['demo'], {data}\n"
        "      entry_points={'console_scripts': ['demo = demo:main', 'demo-old = demo:main']})\n"
    )
    return where


def flat_install(venv: Venv, project: Path, record: Path) -> Path:
    """``setup.py install --single-version-externally-managed``: return its ``.egg-info``."""
    venv.run(
        venv.python, "setup.py", "-q", "install", "--single-version-externally-managed",
        f"--record={record}", cwd=project,
    )  # fmt: skip
    (info,) = venv.site_packages.glob("demo-0.9-*.egg-info")
    return info


def files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if (p.is_file() or p.is_symlink()) and "__pycache__" not in p.parts
    }


def install_new(cache: WheelCache, tmp_path: Path, venv: Venv) -> tuple[str, ...]:
    wheel = cache.add(Source("demo"), rich_wheel(tmp_path / "wheels", seed=5))
    result = cache.install(wheel, python=venv.python)
    assert result.action == "installed"
    return result.replaced


def assert_pip_sees_only_the_wheel(venv: Venv, before: set[str]) -> None:
    """One demo (1.0, from the wheel), working scripts, pip check clean, uninstall complete."""
    assert [line.split()[:2] for line in venv.pip("list").stdout.splitlines()].count(
        ["demo", "1.0"]
    ) == 1
    assert "0.9" not in venv.pip("list").stdout
    shown = venv.pip("show", "demo").stdout.splitlines()
    assert "Version: 1.0" in shown
    assert f"Location: {venv.site_packages}" in shown
    assert not [line for line in shown if line.startswith("Editable project location")]
    assert venv.py("import demo; print(demo.SEED, demo.__file__)").split()[0] == "5"
    assert venv.run(venv.script("demo")).stdout.split() == ["demo-main", "5"]
    assert not venv.script("demo-old").exists()
    assert not list(venv.site_packages.rglob("legacy_only.py"))
    assert not list(venv.root.rglob("*wheelcache-old*"))
    check = venv.pip("check")
    assert check.returncode == 0, check.stdout
    assert "Successfully uninstalled demo-1.0" in venv.pip("uninstall", "-y", "demo").stdout
    assert files(venv.root) == before
    assert "demo" not in venv.pip("list").stdout


def test_a_flat_egg_info_is_replaced_through_its_installed_files_list(
    cache: WheelCache, old_venv: Venv, tmp_path: Path
) -> None:
    before = files(old_venv.root)
    project = old_project(tmp_path / "old", data_files=True)
    record = tmp_path / "record.txt"
    info = flat_install(old_venv, project, record)
    # What pip's legacy install then wrote: the record, relative to the .egg-info directory.
    listed = [os.path.relpath(line, info) for line in record.read_text().splitlines()]
    outside = tmp_path / "not-the-environments.txt"  # a list may name anything: pip keeps to
    outside.write_text("keep me\n")  # the environment, and so do we
    listed.append(os.path.relpath(outside, info))
    listed += ["..", "../../.."]  # directories (site-packages, lib): never removed from a list
    (info / "installed-files.txt").write_text("\n".join([*listed, "./"]) + "\n")
    assert (old_venv.root / "share" / "demo-old" / "notes.txt").is_file()

    replaced = install_new(cache, tmp_path, old_venv)

    assert replaced == ("0.9",)
    assert not info.exists()
    assert outside.read_text() == "keep me\n"
    assert_pip_sees_only_the_wheel(old_venv, before)


def test_a_flat_egg_info_without_a_files_list_is_replaced_through_top_level_txt(
    cache: WheelCache, old_venv: Venv, tmp_path: Path
) -> None:
    before = files(old_venv.root)
    project = old_project(tmp_path / "old")
    info = flat_install(old_venv, project, tmp_path / "record.txt")
    assert not (info / "installed-files.txt").exists()

    replaced = install_new(cache, tmp_path, old_venv)

    assert replaced == ("0.9",)
    assert not info.exists()
    assert_pip_sees_only_the_wheel(old_venv, before)


def test_a_namespace_package_of_namespace_packages_txt_is_left_to_the_others_sharing_it(
    cache: WheelCache, old_venv: Venv, tmp_path: Path
) -> None:
    project = old_project(tmp_path / "old")
    info = flat_install(old_venv, project, tmp_path / "record.txt")
    with (info / "top_level.txt").open("a") as top_level:
        top_level.write("nsp\n")
    (info / "namespace_packages.txt").write_text("nsp\n")
    other = old_venv.site_packages / "nsp" / "other" / "__init__.py"
    other.parent.mkdir(parents=True)
    other.write_text("OTHER = True\n")  # another distribution's part of the namespace

    install_new(cache, tmp_path, old_venv)

    assert other.read_text() == "OTHER = True\n"
    assert not (old_venv.site_packages / "demo" / "legacy_only.py").exists()


def test_a_legacy_editable_install_is_replaced_and_its_pth_line_removed(
    cache: WheelCache, old_venv: Venv, tmp_path: Path
) -> None:
    before = files(old_venv.root)
    project = old_project(tmp_path / "old")
    old_venv.run(old_venv.python, "setup.py", "-q", "develop", "--no-deps", cwd=project)
    pth = old_venv.site_packages / "easy-install.pth"
    with pth.open("a") as lines:
        lines.write("/some/other/checkout\n")  # another project's line: it stays
    assert old_venv.py("import demo; print(demo.__file__)").startswith(str(project))
    source_tree = files(project)

    replaced = install_new(cache, tmp_path, old_venv)

    assert replaced == ("0.9",)
    assert not (old_venv.site_packages / "demo.egg-link").exists()
    assert pth.read_text().splitlines() == ["/some/other/checkout"]
    assert files(project) == source_tree  # the checkout is the user's: untouched
    pth.write_text("")  # pip leaves an emptied easy-install.pth in place too
    assert_pip_sees_only_the_wheel(old_venv, before | {pth.relative_to(old_venv.root).as_posix()})


def test_an_easy_install_egg_is_replaced_and_its_pth_line_removed(
    cache: WheelCache, old_venv: Venv, tmp_path: Path
) -> None:
    before = files(old_venv.root)
    project = old_project(tmp_path / "old")
    old_venv.run(old_venv.python, "setup.py", "-q", "install", cwd=project)
    (egg,) = old_venv.site_packages.glob("demo-0.9-*.egg")
    pth = old_venv.site_packages / "easy-install.pth"
    assert f"./{egg.name}" in pth.read_text().splitlines()

    replaced = install_new(cache, tmp_path, old_venv)

    assert replaced == ("0.9",)
    assert not egg.exists()
    assert f"./{egg.name}" not in pth.read_text().splitlines()
    assert_pip_sees_only_the_wheel(old_venv, before | {pth.relative_to(old_venv.root).as_posix()})


def test_a_distutils_egg_info_file_is_refused_naming_it_and_what_to_do(
    cache: WheelCache, venv: Venv, tmp_path: Path
) -> None:
    info = venv.site_packages / "demo-0.9-py3.11.egg-info"
    info.write_text("Metadata-Version: 1.0\nName: demo\nVersion: 0.9\n")
    (venv.site_packages / "demo.py").write_text(OLD_MODULE)
    before = files(venv.root)
    pips_judgement = venv.pip("uninstall", "-y", "demo", check=False)
    wheel = cache.add(Source("demo"), rich_wheel(tmp_path / "wheels"))

    with pytest.raises(CacheError) as refused:
        cache.install(wheel, python=venv.python)

    assert "distutils installed project" in pips_judgement.stderr
    assert str(refused.value).startswith(f"{info} is a distutils installation of demo,")
    assert "delete that file and the project's modules by hand, then install again" in str(
        refused.value
    )
    assert files(venv.root) == before


def test_a_failed_install_puts_the_legacy_installation_back(
    cache: WheelCache, old_venv: Venv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = old_project(tmp_path / "old")
    old_venv.run(old_venv.python, "setup.py", "-q", "develop", "--no-deps", cwd=project)
    before = {p: p.read_bytes() for p in old_venv.root.rglob("*") if p.is_file()}
    wheel = cache.add(Source("demo"), rich_wheel(tmp_path / "wheels"))

    def no_space(self: linking.Linker, source: str, destination: str, mode: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(linking.Linker, "place", no_space)
    with pytest.raises(OSError, match="No space left"):
        cache.install(wheel, python=old_venv.python)

    assert {p: p.read_bytes() for p in old_venv.root.rglob("*") if p.is_file()} == before
    assert old_venv.run(old_venv.script("demo")).stdout == "old demo\n"
