"""Pointer files: format, compatibility rules and defensive parsing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from wheelcache._pointers import pointer as _pointer
from wheelcache._pointers.any_version import referenced_digests
from wheelcache._pointers.pointer import (
    MAX_POINTER_BYTES,
    Pointer,
    WheelRef,
    decode,
    encode,
    read_pointer,
)

if TYPE_CHECKING:
    from pathlib import Path

DIGEST = "ab" * 32
REF = WheelRef(DIGEST, "demo-1.0-py3-none-any.whl", 123, ("py3-none-any",))


def sample(**changes: object) -> Pointer:
    fields: dict[str, object] = {
        "key": "k",
        "freshness": "f",
        "name": "demo",
        "wheels": (REF,),
        "written": 1.5,
    }
    fields.update(changes)
    return Pointer(**fields)  # type: ignore[arg-type]


def document(**changes: object) -> bytes:
    data = json.loads(encode(sample()))
    data.update(changes)
    return json.dumps(data).encode()


def test_pointer_round_trips() -> None:
    pointer = sample()
    assert decode(encode(pointer)) == pointer


def test_pointer_is_self_describing_and_versioned() -> None:
    data = json.loads(encode(sample()))
    assert data["wheelcache"] == "source-pointer"
    assert data["version"] == 1


@pytest.mark.parametrize("key", ["", "\0", "\ud800", "é" * 1000, "a/b\\c"])
def test_any_key_survives_encoding(key: str) -> None:
    pointer = sample(key=key)
    assert decode(encode(pointer)) == pointer


def test_unknown_fields_are_ignored() -> None:
    assert decode(document(extra={"nested": [1, 2]})) == sample()


def test_newer_version_is_not_understood() -> None:
    assert decode(document(version=2)) is None


def test_newer_version_still_protects_its_entries() -> None:
    assert referenced_digests(document(version=9, key=None)) == {DIGEST}


@pytest.mark.parametrize(
    "filename",
    ["../evil.whl", "a/b.whl", "a\\b.whl", ".hidden.whl", "nul\0.whl", "demo.tar.gz", 7],
)
def test_unsafe_wheel_file_names_make_the_pointer_unusable(filename: object) -> None:
    wheel = {"sha256": DIGEST, "filename": filename, "size": 1, "tags": ["py3-none-any"]}
    assert decode(document(wheels=[wheel])) is None


@pytest.mark.parametrize(
    "wheel",
    [
        {"sha256": "AB" * 32, "filename": "d-1-py3-none-any.whl", "size": 1, "tags": []},
        {"sha256": DIGEST, "filename": "d-1-py3-none-any.whl", "size": -1, "tags": []},
        {"sha256": DIGEST, "filename": "d-1-py3-none-any.whl", "size": True, "tags": []},
        {"sha256": DIGEST, "filename": "d-1-py3-none-any.whl", "size": 1, "tags": "py3"},
        {"sha256": DIGEST, "filename": "d-1-py3-none-any.whl", "size": 1, "tags": [1]},
        "not an object",
    ],
)
def test_one_malformed_wheel_record_makes_the_pointer_unusable(wheel: object) -> None:
    assert decode(document(wheels=[REF.as_json(), wheel])) is None


@pytest.mark.parametrize(
    "data",
    [b"", b"null", b"[]", b"{}", b"\xff\xfe", b'{"wheelcache": "other"}', b"[" * 50_000],
)
def test_garbage_is_not_a_pointer(data: bytes) -> None:
    assert decode(data) is None
    assert referenced_digests(data) == frozenset()


def test_read_pointer_misses_for_absent_file(tmp_path: Path) -> None:
    assert read_pointer(tmp_path / "absent.json") is None


def test_read_pointer_misses_for_a_directory(tmp_path: Path) -> None:
    assert read_pointer(tmp_path) is None


def test_read_pointer_refuses_oversized_files(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(encode(sample()) + b" " * MAX_POINTER_BYTES)
    assert read_pointer(path) is None


def test_read_pointer_returns_the_stat_of_the_file_read(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(encode(sample()))
    found = read_pointer(path)
    assert found is not None
    pointer, info = found
    assert pointer == sample()
    assert info.st_ino == path.stat().st_ino


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    parsed: list[bytes] = []
    real_parse = _pointer._parse

    def parse(data: bytes) -> Any:
        parsed.append(data)
        return real_parse(data)

    monkeypatch.setattr(_pointer, "_parse", parse)
    _pointer._decode_remembered.cache_clear()
    return parsed


def test_a_small_pointer_is_parsed_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = count_parses(monkeypatch)
    data = encode(sample())
    first = decode(data)
    assert first == sample()
    assert decode(bytes(bytearray(data))) is first  # equal bytes read again later
    assert len(parsed) == 1


def test_different_bytes_are_parsed_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = count_parses(monkeypatch)
    assert decode(encode(sample(written=1.0))) == sample(written=1.0)
    assert decode(encode(sample(written=2.0))) == sample(written=2.0)
    assert decode(b"not json") is None
    assert decode(b"not json") is None  # a remembered miss is still a miss
    assert len(parsed) == 3


def test_a_large_pointer_is_parsed_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = count_parses(monkeypatch)
    many = tuple(REF._replace(filename=f"demo-1.{i}-py3-none-any.whl") for i in range(200))
    data = encode(sample(wheels=many))
    assert len(data) > _pointer._REMEMBERED_BYTES
    assert decode(data) == decode(data) == sample(wheels=many)
    assert len(parsed) == 2


def test_sdist_file_name_is_an_optional_field_older_readers_ignore() -> None:
    wheel = WheelRef("a" * 64, "demo-1.0-py3-none-any.whl", 10, ("py3-none-any",))
    plain = Pointer("k", "f", "demo", (wheel,), 1.0)
    named = plain._replace(filename="demo-1.0.tar.gz")

    assert json.loads(encode(plain)).keys() == json.loads(encode(named)).keys() - {"filename"}
    assert decode(encode(named)) == named
    assert decode(encode(plain)) == plain
    document = json.loads(encode(named))
    document["filename"] = 42
    assert decode(json.dumps(document).encode()) == plain, "malformed: absent, still usable"
