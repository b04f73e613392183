"""The public contract of WheelCache: lookups, adds, revisions, builds, listing."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import threading
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from packaging.tags import Tag
from packaging.version import Version

import wheelcache
from ondisk import sha256_of
from wheelcache import (
    CachedWheel,
    CacheError,
    InvalidWheelError,
    NoCompatibleWheelError,
    Source,
    WheelCache,
)
from wheelcache._layout import Layout
from wheelfactory import PY3, make_wheel

if TYPE_CHECKING:
    from collections.abc import Iterator


def pointer_of(cache: WheelCache, source: Source) -> dict[str, object]:
    data: dict[str, object] = json.loads(
        Layout(cache.root).pointer_file(source.digest).read_bytes()
    )
    return data


@contextlib.contextmanager
def edited_pointer(cache: WheelCache, source: Source) -> Iterator[dict[str, Any]]:
    """The source's pointer document; written back as it is when the with-block ends."""
    path = Layout(cache.root).pointer_file(source.digest)
    document: dict[str, Any] = json.loads(path.read_bytes())
    yield document
    path.write_text(json.dumps(document))


# -- construction ----------------------------------------------------------------------


def test_constructing_a_cache_writes_nothing(tmp_path: Path) -> None:
    cache = WheelCache(tmp_path / "cache")
    assert cache.root == tmp_path / "cache"
    assert not (tmp_path / "cache").exists()


def test_root_defaults_to_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELCACHE_DIR", str(tmp_path / "from-env"))
    assert WheelCache().root == tmp_path / "from-env"


def test_root_defaults_to_platformdirs_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from platformdirs import user_cache_path

    monkeypatch.delenv("WHEELCACHE_DIR", raising=False)
    root = WheelCache().root
    assert isinstance(root, Path)
    assert root == user_cache_path("wheelcache", appauthor=False)


def test_root_accepts_str_and_pathlike(tmp_path: Path) -> None:
    assert WheelCache(str(tmp_path)).root == tmp_path
    assert WheelCache(tmp_path).root == tmp_path


def test_first_write_creates_cachedir_tag_and_layout_record(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    cache.add(source, wheel)
    tag = (cache.root / "CACHEDIR.TAG").read_bytes()
    assert tag.startswith(b"Signature: 8a477f597d28d172789f06886806bc55")
    record = json.loads((cache.root / "wheelcache-layout.json").read_text())
    assert record == {"format": "wheelcache", "layout": 1}


def test_layout_record_of_a_newer_version_is_left_alone(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    cache.root.mkdir()
    newer = {"format": "wheelcache", "layout": 7}
    (cache.root / "wheelcache-layout.json").write_text(json.dumps(newer))
    cache.add(source, wheel)
    assert json.loads((cache.root / "wheelcache-layout.json").read_text()) == newer
    assert cache.get(source, PY3) is not None


# -- add and get ---------------------------------------------------------------------------


def test_get_misses_when_there_is_no_pointer(cache: WheelCache, source: Source) -> None:
    assert cache.get(source) is None


def test_add_then_get_returns_the_wheel(cache: WheelCache, source: Source, wheel: Path) -> None:
    added = cache.add(source, wheel)
    hit = cache.get(source, PY3)
    assert hit == added
    assert isinstance(hit, CachedWheel)
    assert hit.filename == wheel.name
    assert hit.sha256 == sha256_of(wheel)
    assert hit.size == wheel.stat().st_size
    assert hit.name == "demo"
    assert hit.version == Version("1.0")
    assert hit.tags == frozenset(PY3)
    assert hit.path.read_bytes() == wheel.read_bytes()


def test_get_defaults_to_this_interpreters_tags(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    cache.add(source, wheel)
    hit = cache.get(source)
    assert hit is not None
    assert hit.filename == wheel.name


def test_entry_is_named_by_the_sha256_of_the_wheel(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    added = cache.add(source, wheel)
    digest = sha256_of(wheel)
    assert added.path == cache.root / "wheels-v1" / digest[:2] / digest / wheel.name
    assert sorted(os.listdir(added.path.parent)) == [wheel.name]


def test_entry_files_are_read_only(cache: WheelCache, source: Source, wheel: Path) -> None:
    added = cache.add(source, wheel)
    mode = stat.S_IMODE(added.path.stat().st_mode)
    assert mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) == 0


def test_add_leaves_no_staging_behind(cache: WheelCache, source: Source, wheel: Path) -> None:
    cache.add(source, wheel)
    assert os.listdir(cache.root / "staging-v1") == []


def test_get_misses_when_freshness_differs(cache: WheelCache, wheel: Path) -> None:
    cache.add(Source("key", "old"), wheel)
    assert cache.get(Source("key", "new"), PY3) is None
    assert cache.get(Source("key", "old"), PY3) is not None


def test_same_freshness_merges_wheels_of_one_revision(cache: WheelCache, tmp_path: Path) -> None:
    source = Source("key", "rev")
    cp39 = make_wheel(tmp_path / "a", "demo", "1.0", "cp39-cp39-linux_x86_64")
    cp311 = make_wheel(tmp_path / "b", "demo", "1.0", "cp311-cp311-linux_x86_64")
    cache.add(source, cp39)
    cache.add(source, cp311)
    hit39 = cache.get(source, [Tag("cp39", "cp39", "linux_x86_64")])
    hit311 = cache.get(source, [Tag("cp311", "cp311", "linux_x86_64")])
    assert hit39 is not None
    assert hit39.filename == cp39.name
    assert hit311 is not None
    assert hit311.filename == cp311.name
    wheels = pointer_of(cache, source)["wheels"]
    assert isinstance(wheels, list)
    assert len(wheels) == 2


def test_new_freshness_starts_a_revision_naming_only_the_new_wheel(
    cache: WheelCache, tmp_path: Path
) -> None:
    old = cache.add(Source("key", "one"), make_wheel(tmp_path / "a", seed=1))
    new = cache.add(Source("key", "two"), make_wheel(tmp_path / "b", seed=2))
    pointer = pointer_of(cache, Source("key", "two"))
    assert [w["sha256"] for w in pointer["wheels"]] == [new.sha256]  # type: ignore[attr-defined]
    # Append-only: the old wheel is still there for whoever holds its path.
    assert old.path.read_bytes()


def test_adding_the_same_wheel_again_is_a_no_op_returning_the_entry(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    first = cache.add(source, wheel)
    pointer = Layout(cache.root).pointer_file(source.digest)
    before = pointer.read_bytes()
    second = cache.add(source, wheel)
    assert second == first
    assert pointer.read_bytes() == before
    assert len(list(cache.wheels())) == 1


def test_identical_builds_are_stored_once(cache: WheelCache, wheel: Path) -> None:
    a = cache.add(Source("a"), wheel)
    b = cache.add(Source("b"), wheel)
    assert a.path == b.path
    assert len(list(cache.wheels())) == 1


def test_wheel_with_same_file_name_supersedes_the_earlier_one(
    cache: WheelCache, source: Source, tmp_path: Path
) -> None:
    cache.add(source, make_wheel(tmp_path / "a", seed=1))
    second = cache.add(source, make_wheel(tmp_path / "b", seed=2))
    assert cache.get(source, PY3) == second
    assert len(pointer_of(cache, source)["wheels"]) == 1  # type: ignore[arg-type]


def test_get_prefers_the_most_preferred_tag(cache: WheelCache, tmp_path: Path) -> None:
    source = Source("key")
    generic = cache.add(source, make_wheel(tmp_path / "a", tags="py3-none-any"))
    specific = cache.add(source, make_wheel(tmp_path / "b", tags="cp311-cp311-linux_x86_64"))
    tags = [Tag("cp311", "cp311", "linux_x86_64"), Tag("py3", "none", "any")]
    assert cache.get(source, tags) == specific
    assert cache.get(source, list(reversed(tags))) == generic


def test_get_accepts_any_iterable_of_tags(cache: WheelCache, source: Source, wheel: Path) -> None:
    cache.add(source, wheel)
    assert cache.get(source, iter(PY3)) is not None
    assert cache.get(source, (t for t in PY3)) is not None


def test_get_misses_when_no_wheel_is_compatible(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    cache.add(source, wheel)
    assert cache.get(source, [Tag("cp27", "cp27mu", "win32")]) is None
    assert cache.get(source, []) is None


def test_get_misses_when_the_entry_vanished(cache: WheelCache, source: Source, wheel: Path) -> None:
    added = cache.add(source, wheel)
    os.chmod(added.path.parent, 0o755)
    added.path.unlink()
    assert cache.get(source, PY3) is None


def test_get_trusts_a_mode_readable_by_everyone_without_asking_the_kernel(
    cache: WheelCache, source: Source, wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = cache.add(source, wheel)
    assert stat.S_IMODE(added.path.stat().st_mode) == 0o444

    def no_second_path_walk(path: object, mode: int) -> bool:
        raise AssertionError("os.access called for a world-readable entry")

    monkeypatch.setattr(os, "access", no_second_path_walk)
    assert cache.get(source, PY3) == added


@pytest.mark.parametrize("readable", [True, False])
def test_get_asks_whether_an_entry_whose_mode_was_narrowed_can_be_read(
    cache: WheelCache,
    source: Source,
    wheel: Path,
    monkeypatch: pytest.MonkeyPatch,
    readable: bool,
) -> None:
    """(As root every file is readable, so the kernel's answer is simulated.)"""
    added = cache.add(source, wheel)
    os.chmod(added.path, 0o400)
    asked: list[str] = []

    def access(path: str, mode: int) -> bool:
        asked.append(path)
        return readable

    monkeypatch.setattr(os, "access", access)
    assert cache.get(source, PY3) == (added if readable else None)
    assert asked == [str(added.path)]


def test_get_falls_back_to_next_compatible_wheel_when_best_vanished(
    cache: WheelCache, tmp_path: Path
) -> None:
    source = Source("key")
    generic = cache.add(source, make_wheel(tmp_path / "a", tags="py3-none-any"))
    specific = cache.add(source, make_wheel(tmp_path / "b", tags="cp311-cp311-linux_x86_64"))
    specific.path.unlink()
    tags = [Tag("cp311", "cp311", "linux_x86_64"), Tag("py3", "none", "any")]
    assert cache.get(source, tags) == generic


def test_get_misses_when_the_entry_was_truncated(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    added = cache.add(source, wheel)
    os.chmod(added.path, 0o644)
    with open(added.path, "r+b") as handle:
        handle.truncate(10)
    assert cache.get(source, PY3) is None


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"\x00\xff garbage",
        b"[]",
        b'{"wheelcache": "source-pointer", "version": 1}',
        b'{"wheelcache": "source-pointer", "version": 1, "key": 3, "freshness": "", "wheels": []}',
        b'{"wheelcache": "source-pointer", "version": 1, "key": "k", "freshness": "",'
        b' "wheels": [{"sha256": "zz", "filename": "a.whl", "size": 1, "tags": []}]}',
        b"[" * 100_000,
    ],
    ids=["empty", "truncated", "binary", "list", "no-fields", "bad-key", "bad-wheel", "deep"],
)
def test_get_never_raises_on_a_damaged_pointer(
    cache: WheelCache, wheel: Path, content: bytes
) -> None:
    source = Source("k")
    cache.add(source, wheel)
    Layout(cache.root).pointer_file(source.digest).write_bytes(content)
    assert cache.get(source, PY3) is None


def test_pointer_of_a_newer_version_is_a_miss(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    cache.add(source, wheel)
    with edited_pointer(cache, source) as document:
        document["version"] = 2
    assert cache.get(source, PY3) is None


def test_unknown_pointer_fields_are_ignored(cache: WheelCache, source: Source, wheel: Path) -> None:
    cache.add(source, wheel)
    with edited_pointer(cache, source) as document:
        document["added-by-a-later-version"] = {"x": 1}
        document["wheels"][0]["also-new"] = True
    assert cache.get(source, PY3) is not None


def test_pointer_recording_another_key_is_a_miss(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    cache.add(source, wheel)
    with edited_pointer(cache, source) as document:
        document["key"] = "a different source that collided"
    assert cache.get(source, PY3) is None


@pytest.mark.parametrize(
    "key",
    ["", "x" * 10_000, "a\0b", "../../etc/passwd", "C:\\Windows", "naïve-ünïcødé", "\ud800lone"],
    ids=["empty", "10k", "nul", "traversal", "backslash", "unicode", "surrogate"],
)
def test_any_string_is_a_usable_source_key(cache: WheelCache, wheel: Path, key: str) -> None:
    source = Source(key, "f")
    added = cache.add(source, wheel)
    assert cache.get(source, PY3) == added
    assert [record.key for record in cache.sources()] == [key]
    # Keys never become paths: everything stays inside the cache's buckets.
    for path in cache.root.rglob("*"):
        assert path.resolve().is_relative_to(cache.root.resolve())


def test_add_rejects_an_invalid_wheel_and_leaves_the_cache_unchanged(
    cache: WheelCache, source: Source, tmp_path: Path
) -> None:
    bogus = tmp_path / "demo-1.0-py3-none-any.whl"
    bogus.write_bytes(b"not a zip")
    with pytest.raises(InvalidWheelError) as info:
        cache.add(source, bogus)
    assert str(bogus) in str(info.value)
    assert isinstance(info.value, ValueError)
    assert cache.get(source, PY3) is None
    assert list(cache.wheels()) == []
    staging = cache.root / "staging-v1"
    assert not staging.exists() or os.listdir(staging) == []


def test_add_rejects_a_missing_file(cache: WheelCache, source: Source, tmp_path: Path) -> None:
    with pytest.raises(InvalidWheelError, match="no such file"):
        cache.add(source, tmp_path / "demo-1.0-py3-none-any.whl")


def test_add_rejects_a_bad_file_name(cache: WheelCache, source: Source, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    renamed = wheel.rename(tmp_path / "not-a-wheel-name.zip")
    with pytest.raises(InvalidWheelError) as info:
        cache.add(source, renamed)
    assert str(renamed) in str(info.value)


def test_add_rejects_a_directory(cache: WheelCache, source: Source, tmp_path: Path) -> None:
    directory = tmp_path / "demo-1.0-py3-none-any.whl"
    directory.mkdir()
    with pytest.raises(InvalidWheelError, match="directory"):
        cache.add(source, directory)


def test_add_accepts_a_symlink_to_a_wheel(
    cache: WheelCache, source: Source, wheel: Path, tmp_path: Path
) -> None:
    link = tmp_path / "link" / wheel.name
    link.parent.mkdir()
    link.symlink_to(wheel)
    added = cache.add(source, link)
    assert not added.path.is_symlink()
    assert added.path.read_bytes() == wheel.read_bytes()


def test_filesystem_failure_surfaces_as_cache_error_naming_the_path(
    tmp_path: Path, source: Source, wheel: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache root should be")
    with pytest.raises(CacheError) as info:
        WheelCache(blocker / "cache").add(source, wheel)
    assert str(blocker) in str(info.value)


# -- get_or_build ------------------------------------------------------------------------------


def test_get_or_build_builds_on_a_miss_and_hits_afterwards(
    cache: WheelCache, source: Source
) -> None:
    calls: list[Path] = []

    def build(output: Path) -> None:
        calls.append(output)
        assert list(output.iterdir()) == []
        make_wheel(output)

    first = cache.get_or_build(source, build, PY3)
    second = cache.get_or_build(source, build, PY3)
    assert first == second
    assert len(calls) == 1
    # The build ran in a directory inside the cache (same filesystem), now gone.
    assert calls[0].resolve().is_relative_to(cache.root.resolve())
    assert not calls[0].exists()


def test_get_or_build_propagates_build_errors_and_caches_nothing(
    cache: WheelCache, source: Source
) -> None:
    class BackendFailed(Exception):
        pass

    def build(output: Path) -> None:
        make_wheel(output)
        raise BackendFailed("compiler exploded")

    with pytest.raises(BackendFailed, match="compiler exploded"):
        cache.get_or_build(source, build)
    assert cache.get(source) is None
    assert list(cache.wheels()) == []


def test_get_or_build_raises_when_build_writes_no_wheel(cache: WheelCache, source: Source) -> None:
    with pytest.raises(NoCompatibleWheelError, match="no wheel"):
        cache.get_or_build(source, lambda output: None)
    assert isinstance(NoCompatibleWheelError("x"), CacheError)


def test_get_or_build_raises_when_no_built_wheel_is_compatible(
    cache: WheelCache, source: Source
) -> None:
    def build(output: Path) -> None:
        make_wheel(output, tags="cp27-cp27mu-win32")

    with pytest.raises(NoCompatibleWheelError, match="cp27"):
        cache.get_or_build(source, build, PY3)
    assert list(cache.wheels()) == []


def test_get_or_build_records_every_wheel_the_build_wrote(
    cache: WheelCache, source: Source
) -> None:
    def build(output: Path) -> None:
        make_wheel(output, tags="py3-none-any")
        make_wheel(output, tags="cp311-cp311-linux_x86_64")

    hit = cache.get_or_build(source, build, [Tag("cp311", "cp311", "linux_x86_64"), *PY3])
    assert hit.filename.endswith("cp311-cp311-linux_x86_64.whl")
    assert cache.get(source, PY3) is not None


def test_get_or_build_rejects_an_invalid_built_wheel(cache: WheelCache, source: Source) -> None:
    def build(output: Path) -> None:
        (output / "demo-1.0-py3-none-any.whl").write_bytes(b"junk")

    with pytest.raises(InvalidWheelError):
        cache.get_or_build(source, build, PY3)
    assert cache.get(source, PY3) is None


def test_get_or_build_from_threads_builds_once(cache: WheelCache, source: Source) -> None:
    builds = []
    start = threading.Barrier(6)
    results: list[CachedWheel] = []
    errors: list[BaseException] = []

    def build(output: Path) -> None:
        builds.append(1)
        make_wheel(output)

    def worker() -> None:
        try:
            start.wait(timeout=60)
            results.append(cache.get_or_build(source, build, PY3))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(results) == 6
    assert len(set(results)) == 1
    assert len(builds) == 1


def test_threads_adding_different_wheels_to_one_revision_lose_none(
    cache: WheelCache, tmp_path: Path
) -> None:
    source = Source("key", "rev")
    wheels = [
        make_wheel(tmp_path / str(i), "demo", "1.0", f"cp3{i}-cp3{i}-linux_x86_64")
        for i in range(8)
    ]
    start = threading.Barrier(len(wheels))
    errors: list[BaseException] = []

    def worker(path: Path) -> None:
        try:
            start.wait(timeout=60)
            cache.add(source, path)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in wheels]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    recorded = {w["filename"] for w in pointer_of(cache, source)["wheels"]}  # type: ignore[attr-defined]
    assert recorded == {w.name for w in wheels}


# -- find and listing -----------------------------------------------------------------------------


def test_find_returns_the_entry_with_that_sha256(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    added = cache.add(source, wheel)
    assert cache.find(added.sha256) == added
    assert cache.find(added.sha256.upper()) == added
    assert cache.find("0" * 64) is None


def test_find_rejects_what_is_not_a_sha256(cache: WheelCache) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        cache.find("abc")


def test_sources_lists_every_source_with_its_wheels(cache: WheelCache, tmp_path: Path) -> None:
    a = cache.add(Source("a", "1", "alpha"), make_wheel(tmp_path / "a", "alpha"))
    cache.add(Source("b", "1", "beta"), make_wheel(tmp_path / "b", "beta"))
    records = {record.key: record for record in cache.sources()}
    assert set(records) == {"a", "b"}
    assert records["a"].name == "alpha"
    assert records["a"].freshness == "1"
    assert records["a"].wheels == (a,)
    assert records["a"].last_used > 0


def test_wheels_lists_every_entry(cache: WheelCache, tmp_path: Path) -> None:
    added = {
        cache.add(Source("k", str(i)), make_wheel(tmp_path / str(i), seed=i)) for i in range(3)
    }
    assert set(cache.wheels()) == added


def test_listing_an_empty_or_missing_cache_yields_nothing(tmp_path: Path) -> None:
    cache = WheelCache(tmp_path / "nothing-here")
    assert list(cache.sources()) == []
    assert list(cache.wheels()) == []


# -- the public surface ----------------------------------------------------------------------------


def test_public_api_is_exactly_what_all_declares() -> None:
    for name in wheelcache.__all__:
        assert hasattr(wheelcache, name), name
    # Not API: submodules imported meanwhile (wheelcache.pytest_plugin, which pytest
    # loads) and the helpers pytest's assertion rewriting adds ("@py_builtins"): the
    # plugin makes pytest rewrite the wheelcache package, as it does for any plugin.
    public = {
        name
        for name, value in vars(wheelcache).items()
        if name.isidentifier() and not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public <= set(wheelcache.__all__)


def test_errors_share_one_root() -> None:
    for name in wheelcache.__all__:
        value = getattr(wheelcache, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, CacheError), name
