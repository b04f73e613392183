"""A tree's portable identity: equal for two checkouts of one commit, different after any edit.

Unit tests of :mod:`wheelcache._tree.portable` and :mod:`wheelcache._tree.gitfresh`;
tests/remote/test_remote_trees.py shows the same through two machines and a bucket.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

import pytest

from gitrepos import clone, commit_all, git, make_repo
from wheelcache._tree.fingerprint import fingerprint_tree
from wheelcache._tree.gitfresh import blob_id
from wheelcache._tree.gitquery import ask_git
from wheelcache._tree.portable import portable_identity

if TYPE_CHECKING:
    from pathlib import Path


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _repo(tmp_path: Path) -> Path:
    """A repository holding the project "Demo_Pkg" in libs/demo, plus a .gitignore."""
    repo = tmp_path / "origin"
    project = repo / "libs" / "demo"
    _write(project / "pyproject.toml", '[project]\nname = "Demo_Pkg"\nversion = "1"\n')
    _write(project / "src" / "demo" / "__init__.py", "VALUE = 1\n")
    _write(project / "src" / "demo" / "data.txt", "data\n")
    _write(repo / "other" / "pyproject.toml", '[project]\nname = "other"\n')
    _write(repo / ".gitignore", "*.log\nbuild/\ndist/\n__pycache__/\n.venv/\n*.egg-info/\n")
    return make_repo(repo)


def _identity(project: Path, cache_keys: list[str] | None = None) -> tuple[str, str] | None:
    tree = project.resolve()
    return portable_identity(tree, cache_keys, "Demo_Pkg", fingerprint_tree(tree, cache_keys))


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, Path]:
    """The project in two clones of one commit, in unrelated directories."""
    repo = _repo(tmp_path)
    one = clone(repo, tmp_path / "machine-a" / "work" / "checkout")
    two = clone(repo, tmp_path / "b" / "ci" / "x")
    return one / "libs" / "demo", two / "libs" / "demo"


def test_two_clones_of_one_commit_have_the_same_portable_identity(
    clones: tuple[Path, Path],
) -> None:
    one, two = clones
    identity = _identity(one)
    assert identity is not None
    assert identity == _identity(two)
    assert identity[0] == "tree:demo-pkg:libs/demo"  # the normalised name, the path in the repo
    assert identity[1].startswith("tree-git-v1:")


def test_an_edited_tracked_file_changes_the_portable_freshness(clones: tuple[Path, Path]) -> None:
    one, two = clones
    (two / "src" / "demo" / "__init__.py").write_text("VALUE = 2\n")
    assert _identity(two) != _identity(one)
    (two / "src" / "demo" / "__init__.py").write_text("VALUE = 1\n")  # and back
    assert _identity(two) == _identity(one)


def test_a_same_size_edit_within_one_tick_changes_the_portable_freshness(
    clones: tuple[Path, Path],
) -> None:
    one, two = clones
    data = two / "src" / "demo" / "data.txt"
    before = data.stat()
    data.write_text("DATA\n")
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert _identity(two) != _identity(one)


def test_an_untracked_file_changes_the_portable_freshness(clones: tuple[Path, Path]) -> None:
    one, two = clones
    _write(two / "src" / "demo" / "extra.py", "X = 1\n")
    assert _identity(two) != _identity(one)


def test_a_new_empty_directory_changes_the_portable_freshness_as_it_does_locally(
    clones: tuple[Path, Path],
) -> None:
    one, two = clones
    (two / "src" / "demo" / "empty").mkdir()
    assert _identity(two) != _identity(one)
    assert fingerprint_tree(two) != fingerprint_tree(one)


def test_a_deleted_or_chmodded_file_changes_the_portable_freshness(
    clones: tuple[Path, Path],
) -> None:
    one, two = clones
    (two / "src" / "demo" / "data.txt").chmod(0o755)
    assert _identity(two) != _identity(one)
    (two / "src" / "demo" / "data.txt").unlink()
    assert _identity(two) != _identity(one)


def test_a_git_ignored_file_counts_when_the_local_freshness_counts_it(
    clones: tuple[Path, Path],
) -> None:
    one, two = clones
    _write(two / "src" / "demo" / "notes.log", "ignored by git, read by a build\n")
    assert git(two, "status", "--porcelain") == ""  # git does not see it
    assert fingerprint_tree(two) != fingerprint_tree(one)
    assert _identity(two) != _identity(one)


def test_what_the_local_freshness_skips_is_skipped_git_ignored_or_not(
    clones: tuple[Path, Path],
) -> None:
    one, two = clones
    _write(two / "build" / "lib" / "demo" / "__init__.py", "VALUE = 1\n")
    _write(two / "dist" / "demo-1.tar.gz", "an output\n")
    _write(two / "src" / "demo" / "__pycache__" / "x.cpython-311.pyc", "bytecode")
    _write(two / "src" / "demo" / "stray.pyc", "bytecode")
    _write(two / "src" / "demo_pkg.egg-info" / "PKG-INFO", "metadata\n")
    _write(two / ".venv" / "pyvenv.cfg", "home = /usr\n")
    _write(two / "env" / "pyvenv.cfg", "home = /usr\n")  # a virtualenv git does not ignore
    _write(two / "env" / "lib" / "site.py", "pass\n")
    _write(two / ".mypy_cache" / "x.json", "{}\n")
    assert fingerprint_tree(two) == fingerprint_tree(one)
    assert _identity(two) == _identity(one)


def test_an_untracked_copy_of_a_file_committed_elsewhere_has_the_same_id(
    clones: tuple[Path, Path],
) -> None:
    one, two = clones
    _write(one / "src" / "demo" / "new.py", "NEW = 1\n")
    commit_all(one.parent.parent, "add new.py")
    _write(two / "src" / "demo" / "new.py", "NEW = 1\n")  # untracked here
    _write(two / "src" / "demo" / "__init__.py", "VALUE = 1\n")
    assert _identity(two) == _identity(one)
    assert (
        blob_id(two / "src" / "demo" / "new.py")
        == git(two, "hash-object", "src/demo/new.py").strip().encode()
    )


def test_a_staged_edit_agrees_with_the_same_edit_unstaged(clones: tuple[Path, Path]) -> None:
    one, two = clones
    _write(one / "src" / "demo" / "__init__.py", "VALUE = 3\n")
    _write(two / "src" / "demo" / "__init__.py", "VALUE = 3\n")
    git(one, "add", "src/demo/__init__.py")
    assert _identity(two) == _identity(one)


def test_a_file_outside_the_project_does_not_count(clones: tuple[Path, Path]) -> None:
    one, two = clones
    _write(two.parent.parent / "other" / "new.py", "pass\n")
    _write(two.parent.parent / "README", "readme\n")
    assert _identity(two) == _identity(one)


def test_cache_keys_narrow_the_portable_freshness(clones: tuple[Path, Path]) -> None:
    one, two = clones
    keys = ["pyproject.toml", "src/**/*.py"]
    _write(two / "src" / "demo" / "data.txt", "not a key\n")
    assert _identity(two, keys) == _identity(one, keys)
    assert _identity(two) != _identity(one)
    _write(two / "src" / "demo" / "more.py", "pass\n")
    assert _identity(two, keys) != _identity(one, keys)
    assert _identity(one, keys) != _identity(one, ["src"])


def test_the_same_name_elsewhere_in_the_repository_is_another_source(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    shutil.copytree(repo / "libs" / "demo", repo / "vendored" / "demo")
    commit_all(repo)
    first, second = _identity(repo / "libs" / "demo"), _identity(repo / "vendored" / "demo")
    assert first is not None
    assert second is not None
    assert (first[0], second[0]) == ("tree:demo-pkg:libs/demo", "tree:demo-pkg:vendored/demo")
    assert first[1] == second[1]  # same contents


def test_outside_git_a_tree_is_keyed_by_name_and_its_local_freshness(tmp_path: Path) -> None:
    if ask_git(tmp_path.resolve()) is not None:
        pytest.skip("the temporary directory is inside a git checkout")
    project = _write(tmp_path / "plain" / "pyproject.toml", '[project]\nname = "demo"\n').parent
    shutil.copytree(project, tmp_path / "elsewhere" / "deeper")
    tree = project.resolve()
    local = fingerprint_tree(tree)
    assert ask_git(tree) is None
    assert portable_identity(tree, None, "demo", local) == ("tree:demo:.", local)
    other = (tmp_path / "elsewhere" / "deeper").resolve()
    assert portable_identity(other, None, "demo", fingerprint_tree(other)) == ("tree:demo:.", local)


def test_a_project_without_a_name_has_no_portable_identity(clones: tuple[Path, Path]) -> None:
    one, _ = clones
    assert portable_identity(one.resolve(), None, None, fingerprint_tree(one)) is None


def test_a_symlink_leading_out_of_the_project_makes_it_not_portable(
    clones: tuple[Path, Path], tmp_path: Path
) -> None:
    one, _ = clones
    outside = _write(tmp_path / "outside.txt", "elsewhere\n")
    (one / "src" / "demo" / "link.txt").symlink_to(outside)
    assert _identity(one) is None
    (one / "src" / "demo" / "link.txt").unlink()
    (one / "src" / "demo" / "link.txt").symlink_to("data.txt")  # inside: fine
    assert _identity(one) is not None


def test_a_tracked_symlink_counts_by_its_target(clones: tuple[Path, Path]) -> None:
    one, two = clones
    (one / "src" / "demo" / "alias.txt").symlink_to("data.txt")
    commit_all(one.parent.parent, "a link")
    (two / "src" / "demo" / "alias.txt").symlink_to("data.txt")
    assert _identity(two) == _identity(one)
    (two / "src" / "demo" / "alias.txt").unlink()
    (two / "src" / "demo" / "alias.txt").symlink_to("__init__.py")
    assert _identity(two) != _identity(one)


def test_a_submodule_makes_a_project_not_portable(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    inner = make_repo(_write(tmp_path / "inner" / "x.py", "pass\n").parent)
    git(
        repo,
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        str(inner),
        "libs/demo/sub",
    )
    assert _identity(repo / "libs" / "demo") is None


def test_a_blob_id_is_what_git_hash_object_says(tmp_path: Path) -> None:
    make_repo(_write(tmp_path / "r" / "a", "x").parent)
    for size in (0, 5, 3 << 20):
        path = tmp_path / "r" / f"f{size}"
        path.write_bytes(os.urandom(size))
        assert blob_id(path) == git(tmp_path / "r", "hash-object", path.name).strip().encode()


def test_tracked_files_in_directories_the_local_freshness_skips_do_not_count(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path)
    project = repo / "libs" / "demo"
    _write(project / "build" / "kept.txt", "committed output\n")
    _write(project / "tools" / "pyvenv.cfg", "home = /usr\n")
    _write(project / "tools" / "lib.py", "pass\n")
    git(repo, "add", "-f", "libs/demo/build/kept.txt", "libs/demo/tools")
    commit_all(repo)
    before, local = _identity(project), fingerprint_tree(project)
    _write(project / "build" / "kept.txt", "changed output\n")
    _write(project / "tools" / "lib.py", "changed\n")
    assert (_identity(project), fingerprint_tree(project)) == (before, local)


def test_an_untracked_project_in_a_checkout_is_walked_by_the_local_rules(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    project = _write(repo / "scratch" / "p" / "pyproject.toml", '[project]\nname = "p"\n').parent
    _write(project / "p" / "__init__.py", "pass\n")
    _write(project / "p" / "__pycache__" / "x.pyc", "bytecode")
    before = _identity(project)
    assert before is not None
    assert before[0] == "tree:demo-pkg:scratch/p"
    _write(project / "p" / "__pycache__" / "y.pyc", "bytecode")
    assert _identity(project) == before
    git(repo, "add", "-f", "scratch/p/pyproject.toml", "scratch/p/p/__init__.py")
    commit_all(repo)
    assert _identity(project) == before  # the same files, tracked now: the same ids
    _write(project / "p" / "__init__.py", "changed\n")
    assert _identity(project) != before


def test_without_git_a_checkout_is_not_portable_and_nothing_fails(
    clones: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    one, _ = clones
    monkeypatch.setenv("PATH", str(one))  # no git here
    assert _identity(one) is None
