"""Any key round-trips, and odd names in pointers are a miss, not a crash (issue 12, items 4-5)."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import pytest

import wheelcache._pointers.revision
from ondisk import DAY, age
from wheelcache import CacheError, InvalidSourceError, Source, WheelCache
from wheelcache._pointers.pointer import Pointer, WheelRef, encode
from wheelcache._source import MAX_KEY_LENGTH, MAX_NAME_LENGTH
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path


LONGEST = {
    "NULs": "\0" * MAX_KEY_LENGTH,
    "CJK": "\u4e2d" * MAX_KEY_LENGTH,
    "lone surrogates": "\ud800" * MAX_KEY_LENGTH,
    "astral": "\U0001f600" * MAX_KEY_LENGTH,
    "quotes and backslashes": '"\\' * (MAX_KEY_LENGTH // 2),
    "empty": "",
}


@pytest.mark.parametrize("kind", sorted(LONGEST))
def test_any_key_add_accepts_get_finds(cache: WheelCache, wheel: Path, kind: str) -> None:
    text = LONGEST[kind]
    source = Source(text, text, "\u4e2d" * MAX_NAME_LENGTH)

    added = cache.add(source, wheel)

    assert cache.get(source) == added
    assert [record.key for record in cache.sources()] == [text]
    assert cache.verify(repair=True).sound
    assert cache.get(source) == added
    assert cache.prune(grace=0).referenced_entries == 1


@pytest.mark.parametrize("field", ["key", "freshness", "name"])
def test_an_oversize_key_is_refused_stating_the_limit(field: str) -> None:
    limit = MAX_NAME_LENGTH if field == "name" else MAX_KEY_LENGTH
    arguments = {"key": "k", "freshness": "", "name": None, field: "x" * (limit + 1)}

    with pytest.raises(InvalidSourceError, match=f"the limit is {limit} characters") as caught:
        Source(**arguments)  # type: ignore[arg-type]

    assert f"Source.{field}" in str(caught.value)


def test_add_refuses_a_revision_too_large_for_readers(
    cache: WheelCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Source("many wheels", "r1")
    first = make_wheel(tmp_path / "a", "demo", "1.0", tags="py3-none-any")
    second = make_wheel(tmp_path / "b", "demo", "1.0", tags="py2-none-any")
    cache.add(source, first)
    pointer = cache._layout.pointer_file(source.digest)
    monkeypatch.setattr(wheelcache._pointers.revision, "MAX_POINTER_BYTES", pointer.stat().st_size)

    with pytest.raises(CacheError, match=r"over the \d+-byte limit readers accept"):
        cache.add(source, second)

    assert cache.get(source) is not None  # the recorded revision is untouched


ODD_FILENAMES = {
    "lone surrogate": "demo\ud800-1.0-py3-none-any.whl",
    "escaped surrogate": "demo\udcff-1.0-py3-none-any.whl",
    "newline": "demo\n-1.0-py3-none-any.whl",
    "NUL": "demo\0-1.0-py3-none-any.whl",
    "too long": "d" * 300 + "-1.0-py3-none-any.whl",
}


@pytest.mark.parametrize("kind", sorted(ODD_FILENAMES))
def test_an_odd_name_in_a_pointer_is_a_miss_not_a_crash(
    cache: WheelCache, source: Source, wheel: Path, kind: str
) -> None:
    added = cache.add(source, wheel)
    pointer = cache._layout.pointer_file(source.digest)
    odd = WheelRef(added.sha256, ODD_FILENAMES[kind], added.size, ("py3-none-any",))
    data = encode(Pointer(source.key, source.freshness, "demo", (odd,), 0.0))
    os.chmod(pointer, 0o644)
    pointer.write_bytes(data)
    age(added.path, DAY)

    assert cache.get(source) is None
    assert list(cache.sources()) == []
    assert cache.verify().unreadable_pointers == (pointer,)
    repaired = cache.verify(repair=True)
    assert not pointer.exists()
    assert len(repaired.quarantined) == 1

    pointer.write_bytes(data)
    age(pointer, DAY / 4)  # used within the grace period: not idle, retired in two phases
    report = cache.prune(max_age=0, grace=DAY / 2)  # retires it: the digest names it

    assert report.retired_sources == (source.digest,)
    assert report.removed_entries == 0  # freshened as it was retired
    assert added.path.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"written": float("nan")},
        {"written": float("inf")},
        {"size": -1},
        {"size": True},
        {"sha256": "A" * 64},
        {"tags": ["py3-none-any", 3]},
        {"key": 3},
    ],
    ids=repr,
)
def test_every_pointer_field_is_validated_on_read(
    cache: WheelCache, source: Source, wheel: Path, change: dict[str, object]
) -> None:
    cache.add(source, wheel)
    pointer = cache._layout.pointer_file(source.digest)
    document = json.loads(pointer.read_bytes())
    for field, value in change.items():
        target = document if field in document else document["wheels"][0]
        target[field] = value
    os.chmod(pointer, 0o644)
    pointer.write_text(json.dumps(document))

    assert cache.get(source) is None
    assert list(cache.sources()) == []
    assert cache.verify().unreadable_pointers == (pointer,)
