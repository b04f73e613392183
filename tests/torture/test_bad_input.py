"""Bad input: every malformed wheel or odd key gets a typed error or a clean success.

A refused wheel raises InvalidWheelError (a CacheError and a ValueError) that
names the file and says what is wrong, and the cache is exactly as before:
same files, same bytes. A source key is hashed, never used as a path, so any
string works and lands only in the cache's own pointer file.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ondisk import snapshot
from torture.torture_kit import Counted, assert_entries_complete, read_back
from wheelcache import CacheError, InvalidWheelError, NoCompatibleWheelError, Source, WheelCache
from wheelfactory import corrupt_crc, make_wheel, remove_members, truncate

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.torture

S = Source("bad:s", "1", "demo")
NAME = "demo-1.0-py3-none-any.whl"


@pytest.fixture
def cache_with_s(tmp_path: Path, counted: Counted) -> Counted:
    """A cache that already holds one good wheel for S (so "unchanged" means something)."""
    counted.add(S, make_wheel(tmp_path / "good", "demo", "1.0", seed=1))
    return counted


def _good(directory: Path, **kwargs: object) -> Path:
    return make_wheel(directory, "demo", "1.0", **kwargs)  # type: ignore[arg-type]


def _renamed(directory: Path, name: str) -> Path:
    wheel = _good(directory / "original")
    target = directory / name
    shutil.copyfile(wheel, target)
    return target


def _bytes(directory: Path, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / NAME
    path.write_bytes(data)
    return path


def _truncated(directory: Path) -> Path:
    wheel = _good(directory, payload_size=4096)
    truncate(wheel, wheel.stat().st_size // 2)
    return wheel


def _bad_crc(directory: Path) -> Path:
    wheel = _good(directory, payload_size=4096)
    corrupt_crc(wheel)
    return wheel


def _no_dist_info(directory: Path) -> Path:
    wheel = _good(directory)
    remove_members(wheel, *(f"demo-1.0.dist-info/{n}" for n in ("METADATA", "WHEEL", "RECORD")))
    return wheel


def _directory(directory: Path) -> Path:
    path = directory / NAME
    path.mkdir(parents=True)
    return path


def _symlink_to(target: Callable[[Path], Path]) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        pointed = target(directory / "target")
        directory.mkdir(parents=True, exist_ok=True)
        link = directory / NAME
        link.symlink_to(pointed)
        return link

    return make


def _fifo(directory: Path) -> Path:
    directory.mkdir(parents=True)
    path = directory / NAME
    os.mkfifo(path)
    return path


# (how to make the file, a fragment the error message must contain)
REFUSED: dict[str, tuple[Callable[[Path], Path], str]] = {
    "name without tags": (lambda d: _renamed(d, "demo-1.0.whl"), "bad file name"),
    "name without a version": (lambda d: _renamed(d, "demo.whl"), "bad file name"),
    "name with a bad version": (
        lambda d: _renamed(d, "demo-one-py3-none-any.whl"),
        "bad file name",
    ),
    "name that is not .whl": (lambda d: _renamed(d, "demo-1.0-py3-none-any.zip"), "bad file name"),
    "name with too many parts": (
        lambda d: _renamed(d, "demo-1.0-1-2-py3-none-any.whl"),
        "bad file name",
    ),
    "not a zip": (
        lambda d: _bytes(d, b"#!/bin/sh\necho this is not a wheel\n"),
        "not a zip archive",
    ),
    "empty file": (lambda d: _bytes(d, b""), "the file is empty"),
    "truncated zip": (_truncated, "truncated or damaged"),
    "bad CRC": (_bad_crc, "fails its CRC check"),
    "no .dist-info": (_no_dist_info, "no top-level .dist-info"),
    "METADATA names another project": (
        lambda d: _good(d, metadata_name="other"),
        "METADATA names project",
    ),
    "METADATA names another version": (
        lambda d: _good(d, metadata_version="2.0"),
        "METADATA names version",
    ),
    "a directory": (_directory, "is a directory"),
    "a dangling symlink": (_symlink_to(lambda d: d / "nowhere.whl"), "no such file"),
    "a symlink to a directory": (
        _symlink_to(_directory),
        "directory",
    ),
    "a symlink to /dev/null": (_symlink_to(lambda d: Path(os.devnull)), "not a regular file"),
    "a named pipe": (_fifo, "not a regular file"),
    "a missing file": (lambda d: d / NAME, "no such file"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_wheel_leaves_the_cache_unchanged(
    cache_with_s: Counted, tmp_path: Path, case: str
) -> None:
    make, fragment = REFUSED[case]
    wheel = make(tmp_path / "input")
    before = snapshot(cache_with_s.root)

    outcome: list[BaseException] = []
    worker = threading.Thread(
        target=lambda: outcome.append(_raised(lambda: cache_with_s.add(S, wheel)))
    )
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), f"add() of {case} hangs"
    (error,) = outcome
    assert isinstance(error, InvalidWheelError), repr(error)
    assert isinstance(error, CacheError)
    assert isinstance(error, ValueError)
    assert str(wheel) in str(error), str(error)
    assert fragment in str(error), str(error)
    assert snapshot(cache_with_s.root) == before
    assert cache_with_s.get(S) is not None  # the good wheel is still handed out


def _raised(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except BaseException as exc:
        return exc
    return AssertionError("no exception")


@pytest.mark.parametrize(
    "case", ["not a zip", "bad CRC", "METADATA names another project", "a directory"]
)
def test_build_output_refused_leaves_the_cache_unchanged(
    cache_with_s: Counted, tmp_path: Path, case: str
) -> None:
    make, fragment = REFUSED[case]
    before = snapshot(cache_with_s.root)
    fresh = Source(S.key, "2", "demo")

    def build(output: Path) -> None:
        made = make(tmp_path / "input")
        if made.is_dir() and not made.is_symlink():
            (output / NAME).mkdir()
        else:
            shutil.copyfile(made, output / NAME)

    if case == "a directory":
        with pytest.raises(NoCompatibleWheelError, match="no compatible wheel"):
            cache_with_s.get_or_build(fresh, build)
    else:
        with pytest.raises(InvalidWheelError, match=fragment):
            cache_with_s.get_or_build(fresh, build)
    assert snapshot(cache_with_s.root) == before


def test_symlink_to_a_good_wheel_is_cached_as_a_copy(cache_with_s: Counted, tmp_path: Path) -> None:
    wheel = _good(tmp_path / "real", seed=5)
    link = tmp_path / "link" / NAME
    link.parent.mkdir()
    link.symlink_to(wheel)

    added = cache_with_s.add(Source("bad:link", "1"), link)
    assert not added.path.is_symlink()
    assert added.path.read_bytes() == wheel.read_bytes()
    wheel.unlink()  # the cache does not depend on the original
    assert read_back(added, cache_with_s.root, time.monotonic()).ok
    assert cache_with_s.verify().sound


def test_same_bytes_under_another_valid_name_keep_both_sources_working(
    cache_with_s: Counted, tmp_path: Path
) -> None:
    """Identical bytes renamed (another tag set, here) are one entry; neither source may lose it."""
    first = _good(tmp_path / "first", seed=7)
    second = tmp_path / "second" / "demo-1.0-py2.py3-none-any.whl"
    second.parent.mkdir()
    shutil.copyfile(first, second)
    one, two = Source("bad:one", "1"), Source("bad:two", "1")

    cache_with_s.add(one, first)
    cache_with_s.add(two, second)
    for source in (one, two):
        hit = cache_with_s.get(source)
        assert hit is not None, f"{source.key} lost its wheel"
        assert read_back(hit, cache_with_s.root, time.monotonic()).ok
    report = cache_with_s.verify()
    assert report.sound, report
    quarantine = cache_with_s.root / "quarantine-v1"
    assert not quarantine.exists() or list(quarantine.iterdir()) == [], (
        "an intact entry was quarantined"
    )


ODD_KEYS = {
    "empty": "",
    "10 KB": "k" * 10240,
    "NUL bytes": "a\0b\0",
    "path separators": "../../../../etc/passwd",
    "backslashes and a drive": "C:\\Windows\\..\\evil",
    "lone surrogate": "\udc80",
    "unpaired high surrogate": "x\ud800y",
    "newlines and quotes": "line\nbreak\"quote'",
    "non-ASCII": "паке́т 包 📦",
}


def test_odd_source_keys_work_and_stay_inside_the_cache(
    cache_with_s: Counted, tmp_path: Path
) -> None:
    outside_before = sorted(
        p
        for p in tmp_path.rglob("*")
        if cache_with_s.root not in p.parents and p != cache_with_s.root
    )
    added = {}
    for number, (label, key) in enumerate(sorted(ODD_KEYS.items())):
        source = Source(key, f"fresh\0{key}", f"name {label}")
        wheel = _good(tmp_path / "odd" / str(number), seed=100 + number)
        added[key] = cache_with_s.add(source, wheel).sha256
        hit = cache_with_s.get(source)
        assert hit is not None, label
        assert hit.sha256 == added[key], label
        assert cache_with_s.get(Source(key, "other freshness")) is None
    outside_after = sorted(
        p
        for p in tmp_path.rglob("*")
        if cache_with_s.root not in p.parents and p != cache_with_s.root
    )
    created = set(outside_after) - set(outside_before)
    assert all(tmp_path / "odd" in p.parents or p == tmp_path / "odd" for p in created), created

    listed = {record.key: {w.sha256 for w in record.wheels} for record in cache_with_s.sources()}
    for key, sha256 in added.items():
        assert listed[key] == {sha256}, repr(key)
    pointers = [p.name for p in (cache_with_s.root / "sources-v1").rglob("*") if p.is_file()]
    assert all(len(name) == len("0" * 64 + ".json") for name in pointers), pointers
    assert cache_with_s.verify().sound
    cache_with_s.prune(grace=0)
    assert_entries_complete(cache_with_s.root)
    for key, sha256 in added.items():
        assert {w.sha256 for r in cache_with_s.sources() if r.key == key for w in r.wheels} == {
            sha256
        }


@pytest.mark.parametrize("bad", [None, b"bytes", 42])
def test_source_key_of_the_wrong_type_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="key"):
        Source(bad)  # type: ignore[arg-type]


def test_refusals_do_not_disturb_a_fresh_cache(tmp_path: Path) -> None:
    """A refused add as the very first operation creates no entry, pointer or temp file."""
    root = tmp_path / "fresh"
    cache = WheelCache(root)
    with pytest.raises(InvalidWheelError):
        cache.add(S, _bytes(tmp_path / "junk", b"junk"))
    entries = list((root / "wheels-v1").rglob("*")) if (root / "wheels-v1").exists() else []
    pointers = list((root / "sources-v1").rglob("*")) if (root / "sources-v1").exists() else []
    staging = list((root / "staging-v1").iterdir()) if (root / "staging-v1").exists() else []
    assert entries == pointers == staging == []
