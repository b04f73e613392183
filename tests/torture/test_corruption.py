"""Corruption: damaged pointers and entries are misses, verify reports them, writing heals.

The contract, case by case: ``get()`` answers a miss (never an exception)
for whatever it can notice cheaply (a pointer that does not parse, an entry
that is missing, the wrong size, or not a file); ``verify()`` reports every
kind of damage; ``add()`` and ``get_or_build()`` heal what makes ``get()``
miss. ``get()`` does not re-hash a wheel on the hit path, so a flipped byte
that keeps the size is found by ``verify()`` and healed by ``add()`` (which
re-hashes an entry before reusing it), or by ``get_or_build()`` once
``verify(repair=True)`` has quarantined the entry.

Permission damage is tested in a child process that has given up root's
override of file permissions (or is not root), so the modes mean something.
"""

from __future__ import annotations

import json
import random
import shutil
import stat
import time
from typing import TYPE_CHECKING, Any

import pytest

from ondisk import flip_a_byte
from torture.torture_kit import Children, Counted, filesystem_tick, read_back
from wheelcache import CachedWheel, CacheError, Source, WheelCache
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.torture

S = Source("corrupt:s", "1", "demo")
T = Source("corrupt:t", "1", "bystander")
"""An unrelated source: whatever happens to S, T keeps working."""


class Damaged:
    """A cache holding S's wheel and T's wheel, ready to be damaged."""

    def __init__(self, tmp_path: Path, counted: Counted) -> None:
        self.tmp = tmp_path
        self.root = tmp_path / "cache"
        self.cache = counted
        self.wheel = make_wheel(tmp_path / "wheels", "demo", "1.0", payload_size=8192)
        self.entry: CachedWheel = self.cache.add(S, self.wheel)
        self.bystander = self.cache.add(T, make_wheel(tmp_path / "other", "bystander", "1.0"))
        self.pointer = WheelCache(self.root)._layout.pointer_file(S.digest)
        assert self.pointer.exists()

    def heal(self, how: str) -> CachedWheel:
        if how == "add":
            added: CachedWheel = self.cache.add(S, self.wheel)
            return added

        def build(output: Path) -> None:
            shutil.copyfile(self.wheel, output / self.wheel.name)

        built: CachedWheel = self.cache.get_or_build(S, build)
        return built

    def assert_healthy(self) -> None:
        """S and T are handed out whole, and verify finds nothing wrong."""
        for source, expected in ((S, self.entry), (T, self.bystander)):
            hit = self.cache.get(source)
            assert hit is not None, (source, hit)
            assert hit.sha256 == expected.sha256, (source, hit)
            outcome = read_back(hit, self.root, time.monotonic())
            assert outcome.ok, outcome.problem
        report = self.cache.verify()
        assert report.sound, report

    def assert_bystander_fine(self) -> None:
        hit = self.cache.get(T)
        assert hit is not None
        assert read_back(hit, self.root, time.monotonic()).ok


@pytest.fixture
def damaged(tmp_path: Path, counted: Counted) -> Damaged:
    return Damaged(tmp_path, counted)


def _with_wheels(data: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    document = json.loads(data)
    change(document)
    return json.dumps(document).encode()


POINTER_DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda data: data[: len(data) // 2],
    "empty": lambda data: b"",
    "garbage": lambda data: random.Random(7).randbytes(len(data)),
    "NUL bytes": lambda data: b"\0" * len(data),
    "JSON but not an object": lambda data: b"[]",
    "deeply nested JSON": lambda data: b"[" * 100_000 + b"]" * 100_000,
    "wheels is not a list": lambda data: _with_wheels(data, lambda d: d.update(wheels="x")),
    "a digest that is not hex": lambda data: _with_wheels(
        data, lambda d: d["wheels"][0].update(sha256="z" * 64)
    ),
    "a file name with a path": lambda data: _with_wheels(
        data, lambda d: d["wheels"][0].update(filename="../../../demo-1.0-py3-none-any.whl")
    ),
    "a negative size": lambda data: _with_wheels(data, lambda d: d["wheels"][0].update(size=-1)),
}


@pytest.mark.parametrize("heal", ["add", "get_or_build"])
@pytest.mark.parametrize("damage", sorted(POINTER_DAMAGE))
def test_damaged_pointer_is_a_miss_that_verify_reports_and_writing_heals(
    damaged: Damaged, damage: str, heal: str
) -> None:
    damaged.pointer.write_bytes(POINTER_DAMAGE[damage](damaged.pointer.read_bytes()))

    assert damaged.cache.get(S) is None
    assert [r.key for r in damaged.cache.sources()] == [T.key]
    report = damaged.cache.verify()
    assert report.unreadable_pointers == (damaged.pointer,), report
    damaged.cache.prune(grace=3600)  # an unparseable pointer does not stop garbage collection
    damaged.assert_bystander_fine()

    healed = damaged.heal(heal)
    assert healed.sha256 == damaged.entry.sha256
    damaged.assert_healthy()


@pytest.mark.parametrize("heal", ["add", "get_or_build"])
def test_pointer_naming_a_missing_entry(damaged: Damaged, heal: str) -> None:
    shutil.rmtree(damaged.entry.path.parent)

    assert damaged.cache.get(S) is None
    report = damaged.cache.verify()
    assert [(d.pointer, d.missing) for d in report.dangling] == [
        (damaged.pointer, (damaged.entry.sha256,))
    ]
    damaged.assert_bystander_fine()

    damaged.heal(heal)
    damaged.assert_healthy()


def test_flipped_byte_is_reported_by_verify_and_healed_by_add(damaged: Damaged) -> None:
    flip_a_byte(damaged.entry.path)

    hit = damaged.cache.get(S)  # same size: by design get() does not notice (no re-hash)
    assert hit is None or hit.sha256 == damaged.entry.sha256
    report = damaged.cache.verify()
    assert [c.sha256 for c in report.corrupt] == [damaged.entry.sha256]
    assert "hashes to" in report.corrupt[0].problem
    damaged.assert_bystander_fine()

    damaged.heal("add")  # re-hashes the entry it would reuse, quarantines it, publishes anew
    damaged.assert_healthy()
    assert len(list((damaged.root / "quarantine-v1").iterdir())) == 1


def test_flipped_byte_is_rebuilt_by_get_or_build_after_verify_repair(damaged: Damaged) -> None:
    flip_a_byte(damaged.entry.path)

    report = damaged.cache.verify(repair=True)
    assert [c.sha256 for c in report.corrupt] == [damaged.entry.sha256]
    assert damaged.cache.get(S) is None
    damaged.heal("get_or_build")
    damaged.assert_healthy()


@pytest.mark.parametrize("heal", ["add", "get_or_build"])
def test_emptied_entry_directory(damaged: Damaged, heal: str) -> None:
    damaged.entry.path.unlink()

    assert damaged.cache.get(S) is None
    report = damaged.cache.verify()
    assert [(c.sha256, c.problem) for c in report.corrupt] == [
        (damaged.entry.sha256, "holds no wheel")
    ]
    damaged.assert_bystander_fine()

    damaged.heal(heal)
    damaged.assert_healthy()


@pytest.mark.parametrize("heal", ["add", "get_or_build"])
def test_truncated_entry(damaged: Damaged, heal: str) -> None:
    path = damaged.entry.path
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    with open(path, "r+b") as handle:
        handle.truncate(damaged.entry.size // 2)

    assert damaged.cache.get(S) is None
    report = damaged.cache.verify()
    assert [c.sha256 for c in report.corrupt] == [damaged.entry.sha256]
    damaged.heal(heal)
    damaged.assert_healthy()


@pytest.mark.parametrize("heal", ["add", "get_or_build"])
def test_directory_where_the_wheel_should_be(damaged: Damaged, heal: str) -> None:
    damaged.entry.path.unlink()
    damaged.entry.path.mkdir()

    assert damaged.cache.get(S) is None
    assert not damaged.cache.verify().sound
    damaged.heal(heal)
    damaged.assert_healthy()


# -- wrong permissions -----------------------------------------------------------------------


def _run_without_permission_override(
    damaged: Damaged, children: Children, ledger_dir: Path, ops: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    config = {
        "mode": "ops",
        "root": str(damaged.root),
        "key": S.key,
        "freshness": S.freshness,
        "name": S.name,
        "wheel": str(damaged.wheel),
        "wheels": [str(damaged.wheel)],
        "ledger": str(ledger_dir / "permissions"),
        "without_dac": True,
        "ops": ops,
    }
    result = children.start(config).result()
    if "skip" in result:
        pytest.skip(result["skip"])
    outcomes: list[dict[str, Any]] = result["outcomes"]
    return outcomes


PERMISSION_CASES = {
    "unreadable pointer": lambda d: d.pointer.chmod(0),
    "unreadable wheel": lambda d: d.entry.path.chmod(0),
    "unreadable entry directory": lambda d: d.entry.path.parent.chmod(0),
}


@pytest.mark.parametrize("case", sorted(PERMISSION_CASES))
def test_wrong_permissions_are_a_miss_that_verify_reports_and_add_heals(
    damaged: Damaged, children: Children, ledger_dir: Path, case: str
) -> None:
    PERMISSION_CASES[case](damaged)
    try:
        get, verify, add, get_again, verify_again = _run_without_permission_override(
            damaged,
            children,
            ledger_dir,
            [{"op": "get"}, {"op": "verify"}, {"op": "add"}, {"op": "get"}, {"op": "verify"}],
        )
    finally:
        for path in (damaged.pointer, damaged.entry.path.parent, damaged.entry.path):
            if path.exists():
                path.chmod(stat.S_IRWXU if path.is_dir() else stat.S_IRUSR | stat.S_IWUSR)
    assert "raised" not in get, get
    assert get["path"] is None or get["readable"], f"get() handed out a wheel it cannot read: {get}"
    assert "raised" not in verify, verify
    assert not verify["sound"], f"verify() did not report the {case}: {verify}"
    assert "raised" not in add, f"add() did not heal the {case}: {add}"
    assert get_again.get("readable"), get_again
    assert verify_again["sound"], verify_again


def test_unwritable_pointer_directory_is_a_typed_error(
    damaged: Damaged, children: Children, ledger_dir: Path
) -> None:
    shard = damaged.pointer.parent
    shard.chmod(stat.S_IRUSR | stat.S_IXUSR)
    other = make_wheel(damaged.tmp / "next", "demo", "1.0", seed=9)
    try:
        get, add = _run_without_permission_override(
            damaged, children, ledger_dir, [{"op": "get"}, {"op": "add", "wheel": str(other)}]
        )
    finally:
        shard.chmod(stat.S_IRWXU)
    assert get.get("readable"), get
    assert add.get("raised") == "CacheError", add
    assert str(damaged.pointer) in add["message"], add
    assert "Permission denied" in add["message"], add
    healed = damaged.cache.get(S)
    assert healed is not None
    assert healed.sha256 == damaged.entry.sha256


def test_pointer_shard_replaced_by_a_file(damaged: Damaged) -> None:
    shard = damaged.pointer.parent
    shutil.rmtree(shard)
    shard.write_bytes(b"not a directory")

    assert damaged.cache.get(S) is None
    with pytest.raises(CacheError, match="cannot write"):
        damaged.cache.add(S, damaged.wheel)
    damaged.assert_bystander_fine()
    shard.unlink()
    damaged.heal("add")
    damaged.assert_healthy()


def test_prune_is_not_stopped_by_an_entry_it_cannot_read(
    damaged: Damaged, children: Children, ledger_dir: Path
) -> None:
    old = damaged.bystander
    damaged.cache.add(
        Source(T.key, "2", T.name), make_wheel(damaged.tmp / "t2", "bystander", "1.0", seed=3)
    )
    filesystem_tick()  # T's first wheel is now unreferenced and older than a prune started now
    old.path.parent.chmod(0)
    try:
        prune, verify = _run_without_permission_override(
            damaged, children, ledger_dir, [{"op": "prune", "grace": 0.0}, {"op": "verify"}]
        )
    finally:
        if old.path.parent.exists():
            old.path.parent.chmod(stat.S_IRWXU)
    assert "raised" not in prune, f"one unreadable, unreferenced entry stopped prune: {prune}"
    assert prune["removed"] == 1, prune
    assert verify["sound"], verify
    assert not old.path.parent.exists()
