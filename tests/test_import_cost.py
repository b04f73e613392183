"""A lookup stays light: it imports nothing it does not need.

Every process that only reads the cache pays for what ``import wheelcache``
and a hit import. These tests pin that down by module, not by time (timings
live in benchmarks/): locks, zip and email parsing, garbage collection and
build front-ends are loaded only by the operations that use them.
"""

from __future__ import annotations

import ast
import hashlib
from typing import TYPE_CHECKING

import pytest

from procs import run_as_user
from wheelcache import Source, WheelCache
from wheelfactory import make_sdist, make_wheel

if TYPE_CHECKING:
    from pathlib import Path

    from installkit import Venv

NOT_ON_THE_LOOKUP_PATH = [
    "build",
    "filelock",
    "zipfile",
    "email.parser",
    "dataclasses",
    "platformdirs",
    "wheelcache._gc.reports",
    "wheelcache._gc.prune",
    "wheelcache._gc.retire",
    "wheelcache._gc.trash",
    "wheelcache._gc.leftovers",
    "wheelcache._gc.verify",
    "wheelcache._wheels.wheelfile",
    "wheelcache._wheels.dist_info",
    "wheelcache._tree.fingerprint",
    "wheelcache._tree.cache_keys",
    "wheelcache._tree.project",
    "wheelcache._build.builder",
    "wheelcache._build.sdist",
    # the remote tier: only when a remote is configured, and its client even then only on a miss
    "obstore",
    "wheelcache._remote.config",
    "wheelcache._remote.tier",
    "wheelcache._remote.objects",
    "wheelcache._remote.pull",
    "wheelcache._remote.push",
    "wheelcache._remote.records",
]


# What the ``wheelcache`` command must not import to answer a warm ``build`` (a hit):
# its whole budget is about twice an empty interpreter's start-up (benchmarks/, section 5).
NOT_ON_THE_COMMANDS_WARM_PATH = [
    *(m for m in NOT_ON_THE_LOOKUP_PATH if m != "wheelcache._tree.fingerprint"),  # a project's
    "argparse",
    "json",  # a pointer is parsed by json's scanner, without json (_pointers.parsing)
    "re",  # (pip's console scripts import it; uv's and python -m do not)
    "enum",
    "logging",
    "typing",
    "pathlib",
    "hashlib",
    "_hashlib",
    "tomllib",
    "shutil",
    "tempfile",
    "threading",
    "packaging",
    "wheelcache._cache",
    "wheelcache._cli.main",
    "wheelcache._cli.parser",
    "wheelcache._cli.commands",
    "wheelcache._cli.console",
    "wheelcache._layout",
    "wheelcache._wheel",
    "wheelcache._store.store",
    "wheelcache._fs.fsutil",
    "wheelcache._fs.locking",
    "wheelcache._tree.project",
    "wheelcache._build.from_path",
]


def modules_after(code: str, environment: dict[str, str] | None = None) -> set[str]:
    """The modules a fresh interpreter has loaded after running *code* (as a user runs it)."""
    script = f"import sys\n{code}\nprint(sorted(sys.modules))"  # not json: it imports re
    out = run_as_user(script, environment)
    return set(ast.literal_eval(out.splitlines()[-1]))


def test_import_wheelcache_loads_nothing_heavy() -> None:
    loaded = modules_after("import wheelcache")
    assert loaded.isdisjoint(NOT_ON_THE_LOOKUP_PATH), loaded & set(NOT_ON_THE_LOOKUP_PATH)


def test_loading_the_pytest_plugin_loads_nothing_heavy() -> None:
    added = modules_after("import pytest, wheelcache.pytest_plugin") - modules_after(
        "import pytest"
    )
    assert added.isdisjoint(NOT_ON_THE_LOOKUP_PATH), added & set(NOT_ON_THE_LOOKUP_PATH)


def test_a_hit_through_cache_build_loads_no_build_front_end(tmp_path: Path) -> None:
    project = tmp_path / "demo"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1.0"\n')
    cache = WheelCache(tmp_path / "cache")
    cache.add(Source.from_tree(project), make_wheel(tmp_path))
    loaded = modules_after(
        "from wheelcache import WheelCache\n"
        f"hit = WheelCache({str(tmp_path / 'cache')!r}).build({str(project)!r})\n"
        "assert hit.path.exists()"
    )
    heavy = {"build", "pyproject_hooks", "wheelcache._build.builder", "wheelcache._build.sdist"}
    assert loaded.isdisjoint(heavy), loaded & heavy


def test_a_hit_loads_nothing_heavy(tmp_path: Path) -> None:
    cache = WheelCache(tmp_path / "cache")
    cache.add(Source("k"), make_wheel(tmp_path))
    loaded = modules_after(
        "from wheelcache import WheelCache, Source\n"
        f"hit = WheelCache({str(tmp_path / 'cache')!r}).get(Source('k'))\n"
        "assert hit is not None and hit.path.exists()"
    )
    assert loaded.isdisjoint(NOT_ON_THE_LOOKUP_PATH), loaded & set(NOT_ON_THE_LOOKUP_PATH)


def test_lazy_public_names_resolve() -> None:
    import wheelcache

    assert wheelcache.PruneReport().removed_entries == 0
    assert wheelcache.VerifyReport().sound
    assert "PruneReport" in dir(wheelcache)


def test_a_cache_with_a_remote_loads_the_client_only_when_it_misses(tmp_path: Path) -> None:
    pytest.importorskip("obstore", reason="the remote extra (obstore) is not installed")
    cache = WheelCache(tmp_path / "cache")
    cache.add(Source("sha256:" + "1" * 64), make_wheel(tmp_path))
    remote = (tmp_path / "bucket").as_uri()
    setup = (
        "from wheelcache import WheelCache, Source\n"
        f"c = WheelCache({str(tmp_path / 'cache')!r}, remote={remote!r})\n"
    )
    hit = modules_after(setup + "assert c.get(Source('sha256:' + '1' * 64)) is not None")
    assert "obstore" not in hit
    assert "wheelcache._remote.objects" not in hit
    miss = modules_after(setup + "assert c.get(Source('sha256:' + '2' * 64)) is None")
    assert "obstore" in miss


def _command_modules(*argv: str, environment: dict[str, str] | None = None) -> set[str]:
    """The modules the console script's entry point has loaded after running *argv*."""
    return modules_after(
        environment=environment,
        code=f"sys.argv = ['wheelcache', *{list(argv)!r}]\n"
        "from wheelcache.__main__ import entrypoint\n"
        "try:\n"
        "    entrypoint()\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code",
    )


def _assert_a_lean_warm_hit(loaded: set[str]) -> None:
    assert {"wheelcache._cli.warm", "wheelcache._store.lookup"} <= loaded  # it was a warm hit
    assert loaded.isdisjoint(NOT_ON_THE_COMMANDS_WARM_PATH), loaded & set(
        NOT_ON_THE_COMMANDS_WARM_PATH
    )


def test_a_warm_build_of_a_project_by_the_command_loads_nothing_heavy(tmp_path: Path) -> None:
    project = tmp_path / "demo"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1.0"\n')
    cache = WheelCache(tmp_path / "cache")
    cache.add(Source.from_tree(project, cache=cache), make_wheel(tmp_path))

    loaded = _command_modules("--cache-dir", str(cache.root), "build", str(project))

    _assert_a_lean_warm_hit(loaded)


def test_a_warm_build_in_the_default_cache_directory_loads_no_platformdirs(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    sdist = make_sdist(tmp_path / "demo-1.0.tar.gz", {"demo-1.0/setup.py": b""})
    cache = WheelCache(home / ".cache" / "wheelcache")
    cache.add(Source.from_archive(sdist), make_wheel(tmp_path))
    environment = {"HOME": str(home), "WHEELCACHE_DIR": "", "XDG_CACHE_HOME": ""}

    loaded = _command_modules("build", str(sdist), environment=environment)

    assert {"wheelcache._cli.warm", "wheelcache._store.lookup"} <= loaded  # it was a warm hit
    assert "platformdirs" not in loaded
    assert loaded.isdisjoint(NOT_ON_THE_COMMANDS_WARM_PATH), loaded & set(
        NOT_ON_THE_COMMANDS_WARM_PATH
    )


def test_a_warm_build_of_an_sdist_by_the_command_loads_nothing_heavy(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "demo-1.0.tar.gz", {"demo-1.0/setup.py": b""})
    cache = WheelCache(tmp_path / "cache")
    cache.add(Source.from_archive(sdist), make_wheel(tmp_path))

    loaded = _command_modules("-q", "build", str(sdist), "--cache-dir", str(cache.root))

    _assert_a_lean_warm_hit(loaded)


def test_an_unchanged_install_by_the_command_loads_no_copying_or_hashing_code(
    tmp_path: Path,
) -> None:
    """Installing what is installed already: no archive, copy, hashing or RECORD code."""
    wheel = make_wheel(tmp_path)
    argv = ["--cache-dir", str(tmp_path / "cache"), "install", str(wheel)]
    argv += ["--target", str(tmp_path / "target")]
    _command_modules(*argv)  # installs it

    loaded = _command_modules(*argv)

    assert "wheelcache._install.install" in loaded  # the measurement works
    heavy = {
        "zipfile", "tarfile", "shutil", "hashlib", "_hashlib", "csv", "bz2", "lzma", "email.parser",
        "build", "wheelcache._store.copying", "wheelcache._unpacked.unpack",
        "wheelcache._cli.maintenance_reports", "wheelcache._build.builder",
    }  # fmt: skip
    assert loaded.isdisjoint(heavy), loaded & heavy


# What the ``wheelcache install`` command must not import to install cached wheels whose trees
# are unpacked (its warm path): its target is 1.5x uv's time for the whole process (section 9).
NOT_ON_THE_COMMANDS_WARM_INSTALL_PATH = [
    "argparse",
    "logging",
    "packaging",
    "installer",  # POSIX launchers are written by wheelcache._install.scripts
    "email.parser",
    "zipfile",
    "platform",  # only for the marker environment of a wheel with requirements
    "dataclasses",  # WheelCache.install's InstallResult is one; install_tree's result is not
    "inspect",
    "platformdirs",
    "subprocess",
    "build",
    "obstore",
    "wheelcache._cache",
    "wheelcache._cli.main",
    "wheelcache._cli.parser",
    "wheelcache._cli.commands",
    "wheelcache._cli.installing",  # only when a found tree vanished (_cli.warm_vanished)
    "wheelcache._cli.warm_vanished",
    "wheelcache._store.store",
    "wheelcache._fs.locking",
    "wheelcache._wheels.names",
    "wheelcache._unpacked.unpack",
    "wheelcache._build.from_path",
    "wheelcache._remote.config",
]


def _scripted_wheel(directory: Path) -> Path:
    """A wheel with a console script and no ``.data`` (the benchmark's kind)."""
    entry_points = b"[console_scripts]\ndemo = demo:main\n"
    return make_wheel(directory, files={"demo-1.0.dist-info/entry_points.txt": entry_points})


def test_a_warm_install_by_the_command_loads_nothing_heavy(tmp_path: Path, venv: Venv) -> None:
    pytest.importorskip("installer")
    wheel = _scripted_wheel(tmp_path)
    cache = WheelCache(tmp_path / "cache")
    cache.install(cache.add(Source.from_archive(wheel), wheel), target=tmp_path / "unpacks-it")
    argv = ["--cache-dir", str(cache.root), "install", str(wheel), "--python", str(venv.python)]

    loaded = _command_modules(*argv)

    assert (venv.root / "bin" / "demo").exists()  # it installed
    assert {"wheelcache._cli.warm_install", "wheelcache._install.install"} <= loaded  # warm
    assert loaded.isdisjoint(NOT_ON_THE_COMMANDS_WARM_INSTALL_PATH), loaded & set(
        NOT_ON_THE_COMMANDS_WARM_INSTALL_PATH
    )


def test_installing_a_wheel_without_data_scripts_does_not_import_pypa_installer(
    tmp_path: Path,
) -> None:
    pytest.importorskip("installer")
    wheel = _scripted_wheel(tmp_path)
    cache = WheelCache(tmp_path / "cache")
    cache.install(cache.add(Source.from_archive(wheel), wheel), target=tmp_path / "unpacks-it")

    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()

    loaded = modules_after(
        "from wheelcache import WheelCache\n"
        f"wheel = WheelCache({str(cache.root)!r}).find({digest!r})\n"
        f"result = WheelCache({str(cache.root)!r}).install(wheel, target={str(tmp_path / 't')!r})\n"
        "assert result.action == 'installed', result"
    )

    assert "wheelcache._install.install" in loaded  # the measurement works
    assert not {m for m in loaded if m == "installer" or m.startswith("installer.")}
