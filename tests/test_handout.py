"""Lookups keep the grace promise for what they hand out, without locks or routine writes.

The hit path (``WheelCache.get``) only reads, except for two writes it is
allowed: freshening an entry it hands out after a writer dropped it, and
recording the source's last use at most once per interval. Ages are set with
``os.utime``, never by sleeping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import wheelcache._store.lookup
from lockaudit import record_locks
from ondisk import DAY, age, is_fresh, pointer_path
from wheelcache import Source, WheelCache, _tags
from wheelcache._cache import USE_INTERVAL
from wheelfactory import wheel_with_seed

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_lookup_that_raced_a_pointer_replace_freshens_what_it_hands_out(
    cache: WheelCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A get() that read the old pointer hands out an entry the writer already dropped.

    The writer's freshening happened before the hand-out, so the lookup must
    freshen again. The replace is injected after get() has read the pointer
    (when it ranks the wheels by tag), and the entry made to look as if the
    writer's freshening were half an hour old.
    """
    old_rev = Source("src", "rev-1")
    first = cache.add(old_rev, wheel_with_seed(tmp_path, 1))
    writer = WheelCache(cache.root)
    real_ranked = _tags.ranked_remembered

    def replace_then_rank(*args: Any, **kwargs: Any) -> Any:
        writer.add(Source("src", "rev-2"), wheel_with_seed(tmp_path, 2))
        age(first.path, 30 * 60)
        return real_ranked(*args, **kwargs)

    monkeypatch.setattr(wheelcache._store.lookup, "ranked_remembered", replace_then_rank)
    handed_out = cache.get(old_rev)

    assert handed_out == first
    assert is_fresh(first.path)


def test_hit_on_a_current_pointer_does_not_write_the_entry(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    added = cache.add(source, wheel)
    age(added.path, DAY)
    before = added.path.stat().st_mtime_ns

    for _ in range(5):
        assert cache.get(source) == added

    assert added.path.stat().st_mtime_ns == before


def test_hits_update_last_used_at_most_once_per_interval(
    cache: WheelCache, source: Source, wheel: Path
) -> None:
    cache.add(source, wheel)
    pointer = pointer_path(cache, source)

    age(pointer, USE_INTERVAL / 2)
    recent = pointer.stat().st_mtime_ns
    assert cache.get(source) is not None
    assert pointer.stat().st_mtime_ns == recent, "used within the interval: no write"

    age(pointer, USE_INTERVAL + 60)
    assert cache.get(source) is not None
    bumped = pointer.stat().st_mtime_ns
    assert is_fresh(pointer)
    for _ in range(10):
        assert cache.get(source) is not None
    assert pointer.stat().st_mtime_ns == bumped, "one update per interval, not one per hit"
    assert [r.last_used for r in cache.sources()] == [pointer.stat().st_mtime]


def test_last_used_update_takes_no_lock(
    cache: WheelCache, source: Source, wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No lookup takes any lock: an ordinary hit, one that records the use, a find()."""
    added = cache.add(source, wheel)
    taken = record_locks(monkeypatch)

    assert cache.get(source) == added  # used just now: an ordinary hit
    age(pointer_path(cache, source), DAY)
    assert cache.get(source) == added  # records the use
    assert cache.find(added.sha256) == added  # freshens the entry

    assert is_fresh(pointer_path(cache, source))
    assert taken == []
