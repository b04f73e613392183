"""Model: a Hypothesis state machine checks the cache against a plain model of what must be there.

The model is two dictionaries: each source's current revision (its freshness
and its wheels, in the order they were recorded) and the set of entries on
disk. Rules add, get, get_or_build, find, change a source's freshness, prune
(grace 0, a long grace, and retiring every source) and clean. After every
step the cache on disk must equal the model exactly, and verify must find
nothing wrong.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from packaging.tags import Tag

from torture.torture_kit import Counted, Ledger, entry_digests, filesystem_tick
from wheelcache import Source, WheelCache
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.torture

TAGS = [Tag("py3", "none", "any")]
KEYS = ("model:a", "model:b", "model:c")


@dataclass(frozen=True)
class Wheel:
    path: Path
    sha256: str

    @property
    def filename(self) -> str:
        return self.path.name


def build_pool(directory: Path) -> list[Wheel]:
    """Wheels to add: two share a file name with different bytes (the later supersedes)."""
    made = [
        make_wheel(directory / "0", "demo", "1.0", seed=0),
        make_wheel(directory / "1", "demo", "1.0", seed=1),  # same name as 0, other bytes
        make_wheel(directory / "2", "demo", "1.0", "py2.py3-none-any", seed=0),
        make_wheel(directory / "3", "other", "2.0", seed=0),
        make_wheel(directory / "4", "other", "2.0", seed=4, payload_size=20_000),
    ]
    return [Wheel(path, hashlib.sha256(path.read_bytes()).hexdigest()) for path in made]


class CacheMachine(RuleBasedStateMachine):
    base: Path
    pool: list[Wheel]
    ledger: Ledger
    _numbers = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        self.root = self.base / f"cache-{next(self._numbers)}"
        self.cache = Counted(WheelCache(self.root), self.ledger)
        self.freshness = dict.fromkeys(range(len(KEYS)), 0)
        self.pointers: dict[int, tuple[int, list[Wheel]]] = {}
        self.entries: set[str] = set()

    def source(self, index: int) -> Source:
        return Source(KEYS[index], f"f{self.freshness[index]}", "demo")

    def expected_hit(self, index: int) -> Wheel | None:
        current = self.pointers.get(index)
        if current is None or current[0] != self.freshness[index]:
            return None
        return current[1][-1]  # every wheel ranks the same: the one recorded last wins

    def record(self, index: int, wheel: Wheel) -> None:
        current = self.pointers.get(index)
        if current is not None and current[0] == self.freshness[index]:
            wheels = current[1]
            if wheel not in wheels:
                wheels = [w for w in wheels if w.filename != wheel.filename] + [wheel]
        else:
            wheels = [wheel]
        self.pointers[index] = (self.freshness[index], wheels)
        self.entries.add(wheel.sha256)

    # -- rules ------------------------------------------------------------------------

    @rule(index=st.integers(0, len(KEYS) - 1), choice=st.integers(0, 4))
    def add(self, index: int, choice: int) -> None:
        wheel = self.pool[choice]
        added = self.cache.add(self.source(index), wheel.path)
        assert added.sha256 == wheel.sha256
        self.record(index, wheel)

    @rule(index=st.integers(0, len(KEYS) - 1))
    def get(self, index: int) -> None:
        hit = self.cache.get(self.source(index), TAGS)
        expected = self.expected_hit(index)
        assert (hit.sha256 if hit else None) == (expected.sha256 if expected else None)
        if hit is not None:
            assert hashlib.sha256(hit.path.read_bytes()).hexdigest() == hit.sha256

    @rule(index=st.integers(0, len(KEYS) - 1), choice=st.integers(0, 4))
    def get_or_build(self, index: int, choice: int) -> None:
        wheel = self.pool[choice]
        builds = []

        def build(output: Path) -> None:
            builds.append(1)
            shutil.copyfile(wheel.path, output / wheel.filename)

        expected = self.expected_hit(index)
        got = self.cache.get_or_build(self.source(index), build, TAGS)
        if expected is not None:
            assert builds == []
            assert got.sha256 == expected.sha256
        else:
            assert builds == [1]
            assert got.sha256 == wheel.sha256
            self.record(index, wheel)

    @rule(choice=st.integers(0, 4))
    def find(self, choice: int) -> None:
        wheel = self.pool[choice]
        found = self.cache.find(wheel.sha256)
        assert (found is not None) == (wheel.sha256 in self.entries)

    @rule(index=st.integers(0, len(KEYS) - 1))
    def refresh(self, index: int) -> None:
        """The source changed: its freshness token moves on (nothing is written)."""
        self.freshness[index] += 1

    def referenced(self) -> set[str]:
        return {w.sha256 for _fresh, wheels in self.pointers.values() for w in wheels}

    @rule(
        kind=st.sampled_from(["prune", "prune with a long grace", "retire every source", "clean"])
    )
    def collect_garbage(self, kind: str) -> None:
        """One rule for all of garbage collection, so it is not most of what happens."""
        if kind == "prune":
            filesystem_tick()  # every entry is now strictly older than the prune
            self.cache.prune(grace=0)
            self.entries = self.referenced()
        elif kind == "prune with a long grace":
            assert self.cache.prune(grace=3600).removed_entries == 0
        elif kind == "retire every source":
            filesystem_tick()
            report = self.cache.prune(grace=0, max_age=0)
            assert len(report.retired_sources) == len(self.pointers)
            # What the retired pointers named stays (protected) until a later prune.
            self.entries = self.referenced()
            self.pointers = {}
        else:
            self.cache.clean()
            self.pointers = {}
            self.entries = set()

    # -- what must hold after every step ----------------------------------------------

    @invariant()
    def entries_match(self) -> None:
        assert entry_digests(self.root) == self.entries

    @invariant()
    def pointers_match(self) -> None:
        on_disk = {
            record.key: (record.freshness, [w.sha256 for w in record.wheels])
            for record in self.cache.sources()
        }
        model = {
            KEYS[index]: (f"f{fresh}", [w.sha256 for w in wheels])
            for index, (fresh, wheels) in self.pointers.items()
        }
        assert on_disk == model

    @invariant()
    def verify_is_clean(self) -> None:
        report = self.cache.verify()
        assert report.sound, report

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def test_cache_matches_the_model(tmp_path: Path, ledger: Ledger) -> None:
    CacheMachine.base = tmp_path
    CacheMachine.pool = build_pool(tmp_path / "pool")
    CacheMachine.ledger = ledger
    run_state_machine_as_test(
        CacheMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
