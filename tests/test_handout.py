"""Lookups keep the grace promise for what they hand out, without locks or routine writes."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from packaging.tags import Tag

from wheelcache import Source, WheelCache, _cache
from wheelcache._layout import Layout
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

PY3 = [Tag("py3", "none", "any")]
LONG_AGO = time.time() - 10 * 3600


def age(path: Path) -> None:
    os.utime(path, (LONG_AGO, LONG_AGO))


def test_lookup_that_raced_a_pointer_replace_freshens_what_it_hands_out(
    cache: WheelCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer replaced the pointer after this lookup read it: the lookup freshens."""
    old = cache.add(Source("k", "one"), make_wheel(tmp_path / "a", seed=1))
    new_wheel = make_wheel(tmp_path / "b", seed=2)
    real_ranked_compatible = _cache.ranked_compatible

    def replace_pointer_mid_lookup(wheels: Any, ranks: Any) -> Any:
        # Runs after the lookup read the pointer, before it checks the entry.
        cache.add(Source("k", "two"), new_wheel)  # drops `old`, freshening it
        age(old.path)  # as if the writer had freshened long ago and then stalled
        return real_ranked_compatible(wheels, ranks)

    monkeypatch.setattr(_cache, "ranked_compatible", replace_pointer_mid_lookup)
    before = time.time() - 5
    hit = cache.get(Source("k", "one"), PY3)
    assert hit == old
    assert old.path.stat().st_mtime >= before


def test_ordinary_hit_writes_nothing(cache: WheelCache, source: Source, wheel: Path) -> None:
    added = cache.add(source, wheel)
    pointer = Layout(cache.root).pointer_file(source.digest)
    entry_before = added.path.stat().st_mtime_ns
    pointer_before = pointer.stat().st_mtime_ns
    for _ in range(100):
        assert cache.get(source, PY3) == added
    assert added.path.stat().st_mtime_ns == entry_before
    assert pointer.stat().st_mtime_ns == pointer_before


def test_hit_records_last_use_once_the_interval_has_passed(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    cache.add(source, wheel)
    pointer = Layout(cache.root).pointer_file(source.digest)
    stale = time.time() - _cache.USE_INTERVAL - 5
    os.utime(pointer, (stale, stale))
    cache.get(source, PY3)
    first = pointer.stat().st_mtime
    assert first > stale + _cache.USE_INTERVAL
    cache.get(source, PY3)
    assert pointer.stat().st_mtime == first  # at most one update per interval


def test_lookup_does_not_freshen_an_entry_its_pointer_still_names(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    added = cache.add(source, wheel)
    age(added.path)
    cache.get(source, PY3)
    assert added.path.stat().st_mtime == LONG_AGO
