"""The promises of wheelcache._tree.fingerprint: a tree fingerprint notices every source change."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wheelcache._errors import CacheError, InvalidSourceError
from wheelcache._layout import Layout
from wheelcache._tree import digests as _digests
from wheelcache._tree import fingerprint as _tree
from wheelcache._tree.fingerprint import (
    BUILD_OUTPUT_DIR_NAMES,
    IGNORED_DIR_NAMES,
    RACY_WINDOW_NS,
    TOKEN_PREFIX,
)
from wheelcache._tree.statcache import StatCache, entry_key

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

OLD_NS = 1_600_000_000 * 10**9  # a fixed, long-settled mtime
NEWER_NS = OLD_NS + 5 * 10**9

_current_stat_cache: list[StatCache | None] = [None]


@pytest.fixture(autouse=True, params=["no stat cache", "stat cache"])
def stat_cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StatCache | None]:
    """Run every test twice: reading every file, and through a stat cache (the token is one)."""
    cache = StatCache(Layout(tmp_path / "cache")) if request.param == "stat cache" else None
    _current_stat_cache[0] = cache
    yield cache
    _current_stat_cache[0] = None


def fingerprint_tree(root: Path, cache_keys: Sequence[str] | None = None) -> str:
    """The function under test, through this test's stat cache, if it has one."""
    return _tree.fingerprint_tree(root, cache_keys, _current_stat_cache[0])


def pin_clock(monkeypatch: pytest.MonkeyPatch, now_ns: int) -> None:
    """Make the fingerprint believe its walk starts at now_ns."""
    monkeypatch.setattr(_tree, "_now_ns", lambda: now_ns)


def newest_change_ns(root: Path) -> int:
    """The latest mtime or ctime of anything in root."""
    paths = [root, *root.rglob("*")]
    return max(max(p.lstat().st_mtime_ns, p.lstat().st_ctime_ns) for p in paths)


@pytest.fixture(params=["settled", "racy"])
def clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test twice: files long unchanged (metadata only) and just changed (content too)."""
    now = 1 << 62 if request.param == "settled" else 0
    monkeypatch.setattr(_tree, "_now_ns", lambda: now)
    return str(request.param)


def write(path: Path, data: str | bytes, mtime_ns: int = OLD_NS) -> Path:
    """Write a file (making its parents) and give it a fixed mtime."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project tree."""
    root = tmp_path / "project"
    write(root / "pyproject.toml", '[project]\nname = "demo"\nversion = "1"\n')
    write(root / "README.md", "# demo\n")
    write(root / "src" / "demo" / "__init__.py", "")
    write(root / "src" / "demo" / "core.py", "VALUE = 1\n")
    write(root / "tests" / "test_core.py", "def test(): pass\n")
    return root


# --- the token ----------------------------------------------------------------------------


def test_token_has_a_format_version_prefix_and_a_sha256(project: Path) -> None:
    token = fingerprint_tree(project)
    assert token.startswith(TOKEN_PREFIX)
    assert TOKEN_PREFIX == "tree-v2:"
    digest = token[len(TOKEN_PREFIX) :]
    assert len(digest) == 64
    int(digest, 16)


def test_token_is_stable_across_calls_and_working_directories(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: str
) -> None:
    first = fingerprint_tree(project)
    assert fingerprint_tree(project) == first
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert fingerprint_tree(project) == first
    monkeypatch.chdir(project.parent)
    assert fingerprint_tree(Path(project.name)) == first


def test_default_token_differs_from_cache_keys_token(project: Path) -> None:
    assert fingerprint_tree(project) != fingerprint_tree(project, ["."])


# --- every source change is seen -----------------------------------------------------------


def test_editing_a_file_changes_token(project: Path, clock: str) -> None:
    before = fingerprint_tree(project)
    write(project / "src" / "demo" / "core.py", "VALUE = 22\n")
    assert fingerprint_tree(project) != before


def test_same_size_edit_with_a_new_mtime_changes_token(project: Path, clock: str) -> None:
    before = fingerprint_tree(project)
    write(project / "src" / "demo" / "core.py", "VALUE = 2\n", mtime_ns=NEWER_NS)
    assert fingerprint_tree(project) != before


def test_atomic_replace_keeping_size_and_mtime_changes_token(project: Path, clock: str) -> None:
    target = project / "src" / "demo" / "core.py"
    before_ino = target.stat().st_ino
    before = fingerprint_tree(project)
    replacement = write(project / "src" / "demo" / ".core.py.swp", "VALUE = 2\n")
    os.replace(replacement, target)
    assert target.stat().st_ino != before_ino
    assert target.stat().st_size == len("VALUE = 1\n")
    assert target.stat().st_mtime_ns == OLD_NS
    assert fingerprint_tree(project) != before


def test_adding_a_file_changes_token(project: Path, clock: str) -> None:
    before = fingerprint_tree(project)
    write(project / "src" / "demo" / "extra.py", "")
    assert fingerprint_tree(project) != before


def test_removing_a_file_changes_token(project: Path, clock: str) -> None:
    before = fingerprint_tree(project)
    (project / "tests" / "test_core.py").unlink()
    assert fingerprint_tree(project) != before


def test_renaming_a_file_changes_token(project: Path, clock: str) -> None:
    before = fingerprint_tree(project)
    (project / "src" / "demo" / "core.py").rename(project / "src" / "demo" / "main.py")
    assert fingerprint_tree(project) != before


def test_renaming_a_directory_changes_token(project: Path, clock: str) -> None:
    before = fingerprint_tree(project)
    (project / "src" / "demo").rename(project / "src" / "other")
    assert fingerprint_tree(project) != before


def test_adding_an_empty_directory_changes_token(project: Path, clock: str) -> None:
    # Documented choice: an empty directory can matter (namespace package discovery).
    before = fingerprint_tree(project)
    (project / "src" / "demo" / "plugins").mkdir()
    assert fingerprint_tree(project) != before


def test_making_a_file_executable_changes_token(project: Path, clock: str) -> None:
    script = write(project / "run.sh", "#!/bin/sh\n")
    before = fingerprint_tree(project)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    assert fingerprint_tree(project) != before


def test_replacing_a_file_by_a_symlink_changes_token(project: Path, clock: str) -> None:
    readme = project / "README.md"
    write(project / "docs" / "README.md", "# demo\n")
    before = fingerprint_tree(project)
    readme.unlink()
    readme.symlink_to(Path("docs") / "README.md")
    assert fingerprint_tree(project) != before


class _FakeStatEntry:
    """A DirEntry whose lstat result for one name is altered (fields a test cannot set)."""

    def __init__(self, real: os.DirEntry[bytes], name: bytes, overrides: dict[str, int]) -> None:
        self._real, self._name, self._overrides = real, name, overrides
        self.name, self.path = real.name, real.path

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        return self._real.is_dir(follow_symlinks=follow_symlinks)

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        return self._real.is_file(follow_symlinks=follow_symlinks)

    def is_symlink(self) -> bool:
        return self._real.is_symlink()

    def stat(self, *, follow_symlinks: bool = True) -> object:
        real = self._real.stat(follow_symlinks=follow_symlinks)
        fields = ("st_mode", "st_size", "st_mtime_ns", "st_ctime_ns", "st_atime_ns", "st_ino")
        values = {field: getattr(real, field) for field in fields}
        values.update({"st_nlink": real.st_nlink, "st_uid": real.st_uid, "st_dev": real.st_dev})
        if self.name == self._name:
            values.update(self._overrides)
        return SimpleNamespace(**values)


def _token_with_stat(
    root: Path, monkeypatch: pytest.MonkeyPatch, name: bytes, overrides: dict[str, int]
) -> str:
    real_scandir = os.scandir

    def scandir(path: bytes) -> contextlib.nullcontext[list[_FakeStatEntry]]:
        with real_scandir(path) as iterator:
            return contextlib.nullcontext([_FakeStatEntry(e, name, overrides) for e in iterator])

    with monkeypatch.context() as patch:
        patch.setattr(os, "scandir", scandir)
        return fingerprint_tree(root)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("st_size", 1234),
        ("st_mtime_ns", NEWER_NS),  # an ordinary edit
        ("st_ino", 987654321),  # an atomic replace that kept size and mtime
        ("st_ctime_ns", NEWER_NS),  # a write followed by restoring the old mtime
        ("st_mode", stat.S_IFREG | 0o755),  # chmod +x
        ("st_dev", 4242),  # another filesystem mounted in the same place
    ],
)
def test_a_change_in_any_stat_field_makes_the_file_be_read_again(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    stat_cache: StatCache | None,
    field: str,
    value: int,
    reads: list[int],
) -> None:
    if stat_cache is None:
        pytest.skip("without a stat cache every file is read every time")
    pin_clock(monkeypatch, 1 << 62)
    before = fingerprint_tree(project)  # every file read, and remembered
    reads[0] = 0
    assert _token_with_stat(project, monkeypatch, b"core.py", {}) == before
    assert reads[0] == 0  # the fake changes nothing by itself
    _token_with_stat(project, monkeypatch, b"core.py", {field: value})
    assert reads[0] == 1


@pytest.mark.parametrize("field", ["st_atime_ns", "st_nlink", "st_uid"])
def test_reading_a_file_or_other_metadata_does_not_make_it_be_read_again(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    stat_cache: StatCache | None,
    field: str,
    reads: list[int],
) -> None:
    # atime moves on every read (a build reads every file): keyed on it, nothing would hold.
    if stat_cache is None:
        pytest.skip("without a stat cache every file is read every time")
    pin_clock(monkeypatch, 1 << 62)
    before = fingerprint_tree(project)
    reads[0] = 0
    assert _token_with_stat(project, monkeypatch, b"core.py", {field: 424242}) == before
    assert reads[0] == 0


@pytest.mark.parametrize("recent", ["st_mtime_ns", "st_ctime_ns"])
def test_same_size_edit_within_one_timestamp_tick_is_seen(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, recent: str
) -> None:
    # Timestamps are coarse: a second same-size write in the same tick leaves every stat
    # field equal. Freeze them with a fake stat, and let the stat cache remember the old
    # content under exactly that stat: a recently changed ("racy") file is read anyway.
    path = project / "src" / "demo" / "core.py"
    long_ago = OLD_NS - 3600 * 10**9
    frozen = {"st_size": 10, "st_mtime_ns": long_ago, "st_ctime_ns": long_ago, "st_ino": 7}
    frozen[recent] = OLD_NS  # either timestamp being recent makes the file racy
    pin_clock(monkeypatch, OLD_NS + 1)  # the file changed just now
    before = _token_with_stat(project, monkeypatch, b"core.py", frozen)
    cache = StatCache(Layout(tmp_path / "planted"))
    real = os.lstat(path)
    fake = SimpleNamespace(st_dev=real.st_dev, st_mode=real.st_mode, **frozen)
    old_digest = b"-" + hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\0"
    cache.save(
        bytes(project.resolve()),
        [entry_key(b"src/demo/core.py", cast("os.stat_result", fake)), old_digest],
    )
    _current_stat_cache[0] = cache
    assert _token_with_stat(project, monkeypatch, b"core.py", frozen) == before
    path.write_text("VALUE = 2\n")
    racy_after = _token_with_stat(project, monkeypatch, b"core.py", frozen)
    assert racy_after != before
    _current_stat_cache[0] = None
    assert racy_after == fingerprint_tree(project)  # what reading every file says
    assert RACY_WINDOW_NS >= 2 * 10**9  # FAT timestamps have a 2 s resolution


def test_a_file_is_remembered_only_once_settled(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cache = StatCache(Layout(tmp_path / "own"))
    tree = bytes(project.resolve())
    newest = newest_change_ns(project)
    pin_clock(monkeypatch, newest + RACY_WINDOW_NS // 2)  # the newest files are racy
    _tree.fingerprint_tree(project, None, cache)
    racy = {key.split(b"//")[0] for key in cache.load(tree).table()}
    recent = {
        os.fsencode(p.relative_to(project).as_posix())
        for p in project.rglob("*")
        if p.is_file()
        and max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) >= newest - RACY_WINDOW_NS // 2
    }
    assert recent
    assert racy.isdisjoint(recent)
    pin_clock(monkeypatch, newest + RACY_WINDOW_NS + 1)  # now all settled
    _tree.fingerprint_tree(project, None, cache)
    remembered = {key.split(b"//")[0] for key in cache.load(tree).table()}
    assert remembered == {
        os.fsencode(p.relative_to(project).as_posix()) for p in project.rglob("*") if p.is_file()
    }


def test_token_of_an_unchanged_tree_is_stable_across_the_racy_window(
    project: Path, monkeypatch: pytest.MonkeyPatch, reads: list[int]
) -> None:
    # The measurement, without sleeping: fingerprint at once (every file racy),
    # then "4 s later" (settled: read and remembered), then later still (from the cache).
    newest = newest_change_ns(project)
    pin_clock(monkeypatch, newest)
    at_once = fingerprint_tree(project)
    pin_clock(monkeypatch, newest + RACY_WINDOW_NS + 10**9)
    settled = fingerprint_tree(project)
    pin_clock(monkeypatch, newest + 60 * 10**9)
    reads[0] = 0
    later = fingerprint_tree(project)
    assert at_once == settled == later
    if _current_stat_cache[0] is not None:
        assert reads[0] == 0


def test_equal_trees_have_equal_tokens_whatever_their_place_times_and_umask(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: str
) -> None:
    (project / "run.sh").write_text("#!/bin/sh\n")
    (project / "run.sh").chmod(0o755)
    (project / "link").symlink_to("README.md")
    copy = tmp_path / "elsewhere" / "deeper" / "copy"
    for path in sorted(project.rglob("*")):
        target = copy / path.relative_to(project)
        if path.is_symlink():
            target.symlink_to(os.readlink(path))
        elif path.is_dir():
            target.mkdir(parents=True)
        else:
            write(target, path.read_bytes(), mtime_ns=NEWER_NS + 123)
            # another umask: group and others lose every bit, the owner keeps x
            target.chmod(path.stat().st_mode & 0o700)
    (copy / "pyproject.toml").parent.mkdir(parents=True, exist_ok=True)
    assert (copy / "run.sh").stat().st_ino != (project / "run.sh").stat().st_ino
    token = fingerprint_tree(project)
    assert fingerprint_tree(copy) == token
    assert fingerprint_tree(copy) == fingerprint_tree(project) == token  # again, remembered


def test_permission_bits_other_than_executable_do_not_count(project: Path, clock: str) -> None:
    core = project / "src" / "demo" / "core.py"
    before = fingerprint_tree(project)
    core.chmod(0o600)
    assert fingerprint_tree(project) == before
    core.chmod(0o644 | stat.S_IXGRP | stat.S_IXOTH)  # not the owner's x bit (git's rule)
    assert fingerprint_tree(project) == before
    core.chmod(0o744)
    assert fingerprint_tree(project) != before


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the stat cache may be shared
)
@given(
    files=st.dictionaries(
        st.tuples(st.sampled_from(["", "a/", "a/b/", "c/"]), st.sampled_from(["x", "y", "z.py"])),
        st.binary(max_size=8),
        min_size=1,
    ),
    change=st.sampled_from(["edit", "add", "remove", "rename", "chmod"]),
    index=st.integers(min_value=0),
)
def test_any_single_change_to_any_tree_changes_token(
    files: dict[tuple[str, str], bytes], change: str, index: int
) -> None:
    with tempfile.TemporaryDirectory() as temp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(_tree, "_now_ns", lambda: 1 << 62)  # metadata only: the harder case
        root = Path(temp)
        paths = [write(root / (folder + name), data) for (folder, name), data in files.items()]
        victim = sorted(paths)[index % len(paths)]
        before = fingerprint_tree(root)
        if change == "edit":
            write(victim, victim.read_bytes() + b"!")
        elif change == "add":
            write(victim.with_name(victim.name + ".new"), b"")
        elif change == "remove":
            victim.unlink()
        elif change == "rename":
            victim.rename(victim.with_name(victim.name + ".moved"))
        else:
            victim.chmod(victim.stat().st_mode ^ stat.S_IXUSR)
        assert fingerprint_tree(root) != before


# --- what is ignored ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*sorted(IGNORED_DIR_NAMES), "demo.egg-info"])
@pytest.mark.parametrize("where", ["", "src/demo/"])
def test_ignored_directories_do_not_change_token(
    project: Path, clock: str, name: str, where: str
) -> None:
    before = fingerprint_tree(project)
    write(project / where / name / "some" / "file.txt", "data")
    assert fingerprint_tree(project) == before
    write(project / where / name / "some" / "file.txt", "changed data")
    assert fingerprint_tree(project) == before


@pytest.mark.parametrize("name", ["venv", "env", ".venv-3.11", "anything"])
def test_any_directory_holding_pyvenv_cfg_is_ignored(project: Path, clock: str, name: str) -> None:
    before = fingerprint_tree(project)
    write(project / name / "pyvenv.cfg", "home = /usr/bin\n")
    write(project / name / "lib" / "site.py", "")
    assert fingerprint_tree(project) == before


def test_directory_named_venv_without_pyvenv_cfg_counts(project: Path, clock: str) -> None:
    # "venv" is a valid package name; only a real virtualenv (pyvenv.cfg) is skipped.
    before = fingerprint_tree(project)
    write(project / "src" / "demo" / "venv" / "__init__.py", "")
    assert fingerprint_tree(project) != before


def test_compiled_python_files_are_ignored(project: Path, clock: str) -> None:
    before = fingerprint_tree(project)
    write(project / "src" / "demo" / "core.pyc", b"\0")
    write(project / "src" / "demo" / "core.pyo", b"\0")
    assert fingerprint_tree(project) == before


def test_build_and_dist_outputs_in_the_root_are_ignored(project: Path, clock: str) -> None:
    assert frozenset({"build", "dist"}) == BUILD_OUTPUT_DIR_NAMES
    before = fingerprint_tree(project)
    write(project / "build" / "lib" / "demo" / "core.py", "VALUE = 1\n")
    write(project / "build" / "bdist.linux-x86_64" / "wheel" / "x", "")
    write(project / "dist" / "demo-1-py3-none-any.whl", b"PK")
    write(project / "dist" / "demo-1.tar.gz", b"\x1f\x8b")
    assert fingerprint_tree(project) == before


@pytest.mark.parametrize("marker", ["pyproject.toml", "setup.py", "setup.cfg"])
def test_build_output_of_a_nested_project_is_ignored(
    project: Path, clock: str, marker: str
) -> None:
    write(project / "plugins" / "sub" / marker, "")
    before = fingerprint_tree(project)
    write(project / "plugins" / "sub" / "build" / "lib" / "sub.py", "")
    write(project / "plugins" / "sub" / "dist" / "sub-1.tar.gz", b"\x1f\x8b")
    assert fingerprint_tree(project) == before


@pytest.mark.parametrize("name", sorted(BUILD_OUTPUT_DIR_NAMES))
def test_package_named_build_or_dist_inside_the_sources_counts(
    project: Path, clock: str, name: str
) -> None:
    # like pip/_internal/operations/build: source, not output
    module = write(project / "src" / "demo" / name / "wheel.py", "A = 1\n")
    before = fingerprint_tree(project)
    write(module, "A = 22\n")
    assert fingerprint_tree(project) != before


def test_symlink_named_like_an_ignored_directory_is_ignored(
    project: Path, tmp_path: Path, clock: str
) -> None:
    environment = tmp_path / "shared-env"
    write(environment / "lib" / "site.py", "")
    before = fingerprint_tree(project)
    (project / ".venv").symlink_to(environment, target_is_directory=True)
    assert fingerprint_tree(project) == before


# --- symlinks ---------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_symlink_loops_do_not_hang(project: Path, clock: str) -> None:
    (project / "src" / "demo" / "parent").symlink_to("..", target_is_directory=True)
    (project / "src" / "demo" / "itself").symlink_to(".", target_is_directory=True)
    (project / "loop").symlink_to("loop")
    token = fingerprint_tree(project)
    assert token == fingerprint_tree(project)


def test_dangling_symlink_is_recorded_not_fatal(project: Path, clock: str) -> None:
    link = project / "src" / "demo" / "data.json"
    link.symlink_to("missing.json")
    dangling = fingerprint_tree(project)
    write(project / "src" / "demo" / "missing.json", "{}")
    assert fingerprint_tree(project) != dangling


def test_retargeting_a_symlink_changes_token(project: Path, clock: str) -> None:
    write(project / "a.txt", "same")
    write(project / "b.txt", "same")
    link = project / "current.txt"
    link.symlink_to("a.txt")
    before = fingerprint_tree(project)
    link.unlink()
    link.symlink_to("b.txt")
    assert fingerprint_tree(project) != before


def test_editing_a_symlinked_file_target_changes_token(
    project: Path, tmp_path: Path, clock: str
) -> None:
    shared = write(tmp_path / "shared" / "version.py", "VERSION = '1'\n")
    (project / "src" / "demo" / "version.py").symlink_to(shared)
    before = fingerprint_tree(project)
    write(shared, "VERSION = '22'\n")
    assert fingerprint_tree(project) != before


def test_adding_to_a_symlinked_directory_changes_token(
    project: Path, tmp_path: Path, clock: str
) -> None:
    # Symlinked directories are not walked, but their own stat is folded in.
    shared = tmp_path / "shared"
    write(shared / "a.py", "")
    (project / "src" / "demo" / "shared").symlink_to(shared, target_is_directory=True)
    before = fingerprint_tree(project)
    write(shared / "b.py", "")
    assert fingerprint_tree(project) != before


# --- awkward names and errors -------------------------------------------------------------


def test_undecodable_file_name_works(project: Path, clock: str) -> None:
    name = b"caf\xe9.py"
    path = os.path.join(os.fsencode(project / "src" / "demo"), name)
    try:
        with open(path, "wb") as file:
            file.write(b"A = 1\n")
    except OSError as error:
        pytest.skip(f"this filesystem refuses non-UTF-8 names: {error}")
    os.utime(path, ns=(OLD_NS, OLD_NS))
    before = fingerprint_tree(project)
    assert fingerprint_tree(project, ["src/**/*.py"]) != fingerprint_tree(
        project, ["src/demo/[!c]*.py", "src/demo/core.py"]
    )
    with open(path, "wb") as file:
        file.write(b"A = 22\n")
    assert fingerprint_tree(project) != before


def test_files_vanishing_during_the_walk_are_skipped(
    project: Path, monkeypatch: pytest.MonkeyPatch, clock: str
) -> None:
    victim = project / "src" / "demo" / "core.py"
    real_list_dir = _tree._list_dir

    def list_then_delete(path: bytes) -> list[os.DirEntry[bytes]] | None:
        entries = real_list_dir(path)
        if path == os.fsencode(victim.parent) and victim.exists():
            victim.unlink()
        return entries

    monkeypatch.setattr(_tree, "_list_dir", list_then_delete)
    during = fingerprint_tree(project)
    monkeypatch.setattr(_tree, "_list_dir", real_list_dir)
    assert not victim.exists()
    assert during == fingerprint_tree(project)


@pytest.mark.parametrize("size", [0, 1, 1 << 20, (1 << 20) + 1, 3 << 20])
def test_file_digests_cover_every_byte_whatever_the_size(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path = write(tmp_path / "data.bin", data)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert _digests.read_digest(fd, size) == hashlib.sha256(data).hexdigest().encode()
    finally:
        os.close(fd)


def test_a_file_that_reports_no_size_is_read_to_its_end() -> None:
    # /proc-like files say 0 bytes and still have content; so may a file growing meanwhile.
    read_end, write_end = os.pipe()
    os.write(write_end, b"content")
    os.close(write_end)
    try:
        assert _digests.read_digest(read_end, 0) == hashlib.sha256(b"content").hexdigest().encode()
    finally:
        os.close(read_end)


def test_editing_the_last_byte_of_a_big_file_changes_token(project: Path, clock: str) -> None:
    big = write(project / "data.bin", b"\0" * (3 << 20))
    before = fingerprint_tree(project)
    write(big, b"\0" * ((3 << 20) - 1) + b"\1")
    assert fingerprint_tree(project) != before


def test_an_unreadable_file_is_recorded_not_fatal(
    project: Path, monkeypatch: pytest.MonkeyPatch, clock: str
) -> None:
    # Faked, so it is checked even as root (whom permissions do not stop). Without a stat
    # cache: a remembered digest would (rightly) spare reading the unchanged file.
    fingerprint_tree = _tree.fingerprint_tree
    before = fingerprint_tree(project)
    secret = os.fsencode(project / "src" / "demo" / "core.py")
    real_open = os.open

    def refusing_open(path: bytes, flags: int, *args: int) -> int:
        if path == secret:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refusing_open)
    refused = fingerprint_tree(project)
    assert refused != before
    monkeypatch.undo()
    assert fingerprint_tree(project) == before


def test_not_a_directory_is_rejected(tmp_path: Path) -> None:
    a_file = write(tmp_path / "file.txt", "")
    for path in (tmp_path / "missing", a_file):
        with pytest.raises(InvalidSourceError, match="not a directory") as caught:
            fingerprint_tree(path)
        assert caught.value.path == str(path)
        assert isinstance(caught.value, CacheError)
        assert isinstance(caught.value, ValueError)


def test_unreadable_subdirectory_raises(project: Path) -> None:
    secret = project / "src" / "secret"
    secret.mkdir()
    secret.chmod(0)
    try:
        try:
            os.listdir(secret)
        except PermissionError:
            pass
        else:
            pytest.skip("permissions are not enforced here (running as root?)")
        with pytest.raises(InvalidSourceError, match="cannot list directory") as caught:
            fingerprint_tree(project)
        assert caught.value.path == str(secret)
    finally:
        secret.chmod(0o755)


def test_unlistable_subdirectory_raises_whatever_the_user(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same promise as above, by faking the failure, so it is checked even as root.
    secret = project / "src" / "secret"
    write(secret / "key.py", "")
    real_scandir = os.scandir

    def scandir(path: bytes) -> object:
        if path == os.fsencode(secret):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(InvalidSourceError, match="Permission denied") as caught:
        fingerprint_tree(project)
    assert caught.value.path == str(secret)


# --- cache_keys -------------------------------------------------------------------------------


def test_cache_keys_narrow_what_counts(project: Path, clock: str) -> None:
    keys = ["pyproject.toml", "src/demo/core.py"]
    before = fingerprint_tree(project, keys)
    write(project / "README.md", "# a much longer readme\n")
    write(project / "tests" / "test_new.py", "")
    assert fingerprint_tree(project, keys) == before
    write(project / "src" / "demo" / "core.py", "VALUE = 22\n")
    assert fingerprint_tree(project, keys) != before


def test_cache_keys_glob_with_double_star(project: Path, clock: str) -> None:
    keys = ["src/**/*.py"]
    before = fingerprint_tree(project, keys)
    write(project / "src" / "demo" / "data.txt", "not python")
    write(project / "tests" / "deep" / "x.py", "")
    assert fingerprint_tree(project, keys) == before
    write(project / "src" / "demo" / "sub" / "deeper" / "x.py", "")
    after_add = fingerprint_tree(project, keys)
    assert after_add != before
    write(project / "src" / "demo" / "__init__.py", "X = 1\n")  # "**" also matches no directory
    assert fingerprint_tree(project, keys) != after_add


def test_cache_key_naming_a_directory_covers_everything_below_it(project: Path, clock: str) -> None:
    keys = ["src"]
    before = fingerprint_tree(project, keys)
    write(project / "src" / "demo" / "__pycache__" / "core.cpython-311.pyc", b"\0")
    write(project / "tests" / "test_more.py", "")
    assert fingerprint_tree(project, keys) == before
    write(project / "src" / "demo" / "data" / "table.csv", "a,b\n")
    assert fingerprint_tree(project, keys) != before


def test_cache_key_matching_nothing_counts_until_a_file_appears(project: Path, clock: str) -> None:
    keys = ["pyproject.toml", "requirements*.txt"]
    assert fingerprint_tree(project, keys) != fingerprint_tree(project, ["pyproject.toml"])
    assert fingerprint_tree(project, keys) != fingerprint_tree(project, [keys[0], "req*.in"])
    before = fingerprint_tree(project, keys)
    write(project / "requirements-dev.txt", "pytest\n")
    assert fingerprint_tree(project, keys) != before


def test_empty_cache_keys_depend_only_on_the_key_list(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    before = fingerprint_tree(project, [])
    write(project / "src" / "demo" / "core.py", "VALUE = 22\n")
    assert fingerprint_tree(project, []) == before == fingerprint_tree(other, ())
    assert before != fingerprint_tree(project)


@pytest.mark.parametrize(
    "key", ["/etc/passwd", "../sibling", "src/../../x", "..", "C:\\x", "//server/share/x"]
)
def test_absolute_or_escaping_cache_keys_are_rejected(project: Path, key: str) -> None:
    with pytest.raises(InvalidSourceError, match="must be relative to the project") as caught:
        fingerprint_tree(project, ["pyproject.toml", key])
    assert caught.value.path == str(project)
    assert isinstance(caught.value, ValueError)


def test_cache_keys_given_as_one_string_are_a_type_error(project: Path) -> None:
    with pytest.raises(TypeError):
        fingerprint_tree(project, "pyproject.toml")
