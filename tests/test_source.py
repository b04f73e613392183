"""Sources: identity, freshness, and the two constructors."""

from __future__ import annotations

import hashlib
import os
import pickle
from typing import TYPE_CHECKING

import pytest

from wheelcache import InvalidSourceError, Source
from wheelfactory import make_sdist

if TYPE_CHECKING:
    from pathlib import Path


DEMO_SDIST = {"demo-1.0/payload.txt": b"hello"}


def test_source_is_an_immutable_value() -> None:
    source = Source("key", "fresh", "demo")
    assert source == Source("key", "fresh", "demo")
    assert hash(source) == hash(Source("key", "fresh", "demo"))
    with pytest.raises(AttributeError, match="immutable"):
        source.key = "other"
    assert pickle.loads(pickle.dumps(source)) == source
    assert repr(source) == "Source(key='key', freshness='fresh', name='demo')"


def test_freshness_defaults_to_never_stale() -> None:
    assert Source("key").freshness == ""
    assert Source("key").name is None


def test_source_rejects_non_string_keys() -> None:
    with pytest.raises(TypeError):
        Source(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Source("k", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Source("k", "", 3)  # type: ignore[arg-type]


def test_distinct_keys_have_distinct_digests() -> None:
    keys = ["", "a", "a\0", "\ud800", "\udc00", "A"]
    assert len({Source(k).digest for k in keys}) == len(keys)


def test_from_archive_keys_by_content_hash(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "demo-1.0.tar.gz", DEMO_SDIST)
    source = Source.from_archive(sdist)
    assert source.key == "sha256:" + hashlib.sha256(sdist.read_bytes()).hexdigest()
    assert source.freshness == ""
    assert source.name == "demo"


def test_from_archive_same_bytes_elsewhere_is_the_same_source(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "demo-1.0.tar.gz", DEMO_SDIST)
    copy = tmp_path / "copy" / sdist.name
    copy.parent.mkdir()
    copy.write_bytes(sdist.read_bytes())
    assert Source.from_archive(copy) == Source.from_archive(sdist)


def test_from_archive_with_unconventional_name_has_no_name(tmp_path: Path) -> None:
    odd = make_sdist(tmp_path / "snapshot.tar.gz", DEMO_SDIST)
    assert Source.from_archive(odd).name is None


def test_from_archive_rejects_missing_and_directories(tmp_path: Path) -> None:
    with pytest.raises(InvalidSourceError, match="cannot read"):
        Source.from_archive(tmp_path / "absent.tar.gz")
    with pytest.raises(InvalidSourceError, match="not a file"):
        Source.from_archive(tmp_path)


def test_from_tree_keys_by_resolved_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "tree-demo"\nversion = "1"\n')
    monkeypatch.chdir(tmp_path)
    source = Source.from_tree("project")
    assert source.key == str(project.resolve())
    assert source.name == "tree-demo"
    assert source.freshness


def test_from_tree_freshness_changes_when_a_source_file_changes(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("x = 1\n")
    before = Source.from_tree(tmp_path)
    (tmp_path / "mod.py").write_text("x = 22\n")
    after = Source.from_tree(tmp_path)
    assert before.key == after.key
    assert before.freshness != after.freshness


def test_from_tree_cache_keys_narrow_freshness(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    (tmp_path / "notes.txt").write_text("a")
    before = Source.from_tree(tmp_path, cache_keys=["pyproject.toml"])
    (tmp_path / "notes.txt").write_text("ab")
    assert Source.from_tree(tmp_path, cache_keys=["pyproject.toml"]) == before


def test_from_tree_rejects_a_single_string_as_cache_keys(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="sequence"):
        Source.from_tree(tmp_path, cache_keys="pyproject.toml")


def test_from_tree_rejects_a_file(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("")
    with pytest.raises(InvalidSourceError):
        Source.from_tree(path)


def test_source_accepts_pathlike(tmp_path: Path) -> None:
    assert Source.from_tree(os.fspath(tmp_path)) == Source.from_tree(tmp_path)


def test_a_remote_identity_travels_with_a_source_but_is_not_part_of_equality() -> None:
    plain = Source("/work/demo", "tree-v2:ab", "demo")
    shared = Source(
        "/work/demo", "tree-v2:ab", "demo", remote_key="tree:demo:.", remote_freshness="f"
    )
    assert shared == plain
    copy = pickle.loads(pickle.dumps(shared))
    assert (copy.remote_key, copy.remote_freshness) == ("tree:demo:.", "f")
    assert (plain.remote_key, plain.remote_freshness) == (None, None)
    with pytest.raises(TypeError, match="together"):
        Source("k", remote_key="tree:demo:.")
    with pytest.raises(InvalidSourceError, match="remote_freshness"):
        Source("k", remote_key="k", remote_freshness="x" * 20000)


def test_from_tree_gives_a_remote_identity_only_for_a_cache_with_a_remote(
    tmp_path: Path,
) -> None:
    from wheelcache import WheelCache

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "Demo.Pkg"\n')
    assert Source.from_tree(project).remote_key is None
    assert Source.from_tree(project, cache=WheelCache(tmp_path / "c")).remote_key is None
    remote = WheelCache(tmp_path / "c", remote=(tmp_path / "bucket").as_uri())
    shared = Source.from_tree(project, cache=remote)
    assert (shared.remote_key, shared.remote_freshness) == ("tree:demo-pkg:.", shared.freshness)
