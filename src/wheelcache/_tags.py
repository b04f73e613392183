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

The default ranking is computed only when a lookup needs it: whether a single
wheel tagged ``py3-none-any`` suits this interpreter needs no ranking (every
Python 3's ``sys_tags()`` lists that tag and no ``py2-none-any``), and
importing ``packaging.tags`` costs a command like ``wheelcache build`` more
than everything else it does on a hit (:class:`_DefaultRanks`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from functools import lru_cache
from operator import itemgetter

TYPE_CHECKING = False  # no typing at run time: a warm ``wheelcache build`` ranks tags
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from typing import ClassVar, TypeVar

    from packaging.tags import Tag

    from ._pointers.pointer import WheelRef

    R = TypeVar("R", bound=WheelRef)

__all__ = [
    "MOST_WHEELS_REMEMBERED",
    "REMEMBERED_RANKINGS",
    "TagRanks",
    "default_ranks",
    "rank_tags",
    "ranked_compatible",
    "ranked_remembered",
]

TagRanks = Mapping[str, int]
"""Tag string -> preference (0 is best)."""


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


class _DefaultRanks(Mapping[str, int]):
    """:func:`default_ranks`, computed on first need; membership of the pure tags without it."""

    _KNOWN: ClassVar[dict[str, bool]] = {
        f"py{sys.version_info[0]}-none-any": True,
        "py2-none-any": sys.version_info[0] == 2,
    }

    def __contains__(self, tag: object) -> bool:
        known = self._KNOWN.get(tag) if isinstance(tag, str) else None
        return known if known is not None else tag in default_ranks()

    def __getitem__(self, tag: str) -> int:
        return default_ranks()[tag]

    def __iter__(self) -> Iterator[str]:
        return iter(default_ranks())

    def __len__(self) -> int:
        return len(default_ranks())


_DEFAULT_RANKS = _DefaultRanks()


def ranks_for(tags: Iterable[Tag] | None) -> TagRanks:
    """The ranking for a caller's ``tags`` argument (None: this interpreter, lazily)."""
    global _last_explicit
    if tags is None:
        return _DEFAULT_RANKS
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
    # The default ranking is needed from here on: its own dict's get is a
    # C call, where the lazy Mapping's takes three Python calls per tag.
    rank_of = (default_ranks() if ranks is _DEFAULT_RANKS else ranks).get
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


REMEMBERED_RANKINGS = 64
"""At most this many rankings are remembered per ranking of tags (see :func:`ranked_remembered`)."""

MOST_WHEELS_REMEMBERED = 16
"""Sources with more wheels than this are ranked on every lookup, like their pointers are parsed."""

_Slot = tuple["tuple[WheelRef, ...]", "tuple[WheelRef, ...]"]
_by_default: dict[int, _Slot] = {}
_by_explicit: tuple[TagRanks | None, dict[int, _Slot]] = (None, {})


def ranked_remembered(wheels: tuple[R, ...], ranks: TagRanks) -> Sequence[R]:
    """:func:`ranked_compatible`, remembered for the very same *wheels* and *ranks* objects.

    A pointer read again with the same bytes is the same object
    (:func:`wheelcache._pointers.pointer.decode` remembers them), and so are
    the default ranks and a repeated explicit ranking (:func:`ranks_for`): a
    repeated hit on a source with several wheels then skips the ranking.

    Rankings are remembered in a table per ranking of tags: one for the
    default ranks, one for the last explicit ranks (replaced whole when
    other explicit ranks come, so no earlier ranks are kept alive), each of
    at most :data:`REMEMBERED_RANKINGS` slots, cleared when full, of at most
    :data:`MOST_WHEELS_REMEMBERED` wheels. A slot keeps its *wheels*, so
    their id cannot be reused while it is remembered; a table is chosen by
    the ranks object itself. The wheels and a remembered result are tuples,
    which nothing can change.
    """
    global _by_explicit
    if not 1 < len(wheels) <= MOST_WHEELS_REMEMBERED:
        return ranked_compatible(wheels, ranks)  # nothing remembered: no copy either
    if ranks is _DEFAULT_RANKS:
        table = _by_default
    else:
        owner, table = _by_explicit
        if owner is not ranks:  # replaced whole: a thread sees one pair or the other
            table = {}
            _by_explicit = (ranks, table)
    slot = table.get(id(wheels))
    if slot is not None and slot[0] is wheels:
        return slot[1]  # type: ignore[return-value]  # stored for these very wheels
    ranked = tuple(ranked_compatible(wheels, ranks))
    if len(table) >= REMEMBERED_RANKINGS:
        table.clear()
    table[id(wheels)] = (wheels, ranked)
    return ranked
