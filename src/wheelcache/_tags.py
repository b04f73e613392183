"""Choosing the best wheel for an interpreter.

The caller gives tags most preferred first (``packaging.tags.sys_tags()`` by
default). A wheel's rank is the position of its best tag in that list; the
lowest rank wins, and between equal ranks the wheel added last wins (a later
build of the same revision supersedes an earlier one).

Ranks are looked up by the tag's string form (``"cp311-cp311-manylinux_2_28_x86_64"``)
because pointers store tags as strings; parsing tags on the hot path would cost
more than the rest of a lookup. The default ranking is computed once per
process, and the last explicit ranking is remembered: an installer passes the
same tag list on every lookup, and ranking ~900 tags costs far more than a hit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from packaging.tags import Tag

    from ._pointers.pointer import WheelRef

__all__ = ["TagRanks", "default_ranks", "rank_tags", "ranked_compatible"]

TagRanks = Mapping[str, int]
"""Tag string -> preference (0 is best)."""

R = TypeVar("R", bound="WheelRef")


@lru_cache(maxsize=1)
def default_ranks() -> TagRanks:
    """The ranking of this interpreter's supported tags, computed once."""
    from packaging.tags import sys_tags

    return rank_tags(sys_tags())


def rank_tags(tags: Iterable[Tag]) -> TagRanks:
    """Build a ranking from tags given most preferred first."""
    ranks: dict[str, int] = {}
    for position, tag in enumerate(tags):
        ranks.setdefault(str(tag), position)
    return ranks


def ranks_for(tags: Iterable[Tag] | None) -> TagRanks:
    """The ranking for a caller's ``tags`` argument (None: this interpreter)."""
    global _last_explicit
    if tags is None:
        return default_ranks()
    key = tuple(tags)
    # Comparing tuples of the very same Tag objects is an identity check per
    # item, so a repeated list costs a few microseconds instead of a ranking.
    # The slot is replaced whole, so threads never see a key with the wrong ranks.
    remembered = _last_explicit
    if remembered is not None and remembered[0] == key:
        return remembered[1]
    ranks = rank_tags(key)
    _last_explicit = (key, ranks)
    return ranks


_last_explicit: tuple[tuple[Tag, ...], TagRanks] | None = None
_by_rank_then_latest = itemgetter(0, 1)


def ranked_compatible(wheels: Sequence[R], ranks: TagRanks) -> list[R]:
    """The compatible wheels, best first (ties: the one listed later first)."""
    if len(wheels) == 1:  # the common case: no sorting, no tuples
        for tag in wheels[0].tags:
            if tag in ranks:
                return [wheels[0]]
        return []
    rank_of = ranks.get
    scored = []
    for index, wheel in enumerate(wheels):
        best = None
        for tag in wheel.tags:
            rank = rank_of(tag)
            if rank is not None and (best is None or rank < best):
                best = rank
        if best is not None:
            scored.append((best, -index, wheel))
    scored.sort(key=_by_rank_then_latest)
    return [wheel for _, _, wheel in scored]
