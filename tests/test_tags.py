"""Choosing the best wheel for a list of tags."""

from __future__ import annotations

from typing import TYPE_CHECKING

from packaging.tags import Tag, sys_tags

from wheelcache import _tags
from wheelcache._pointers.pointer import WheelRef
from wheelcache._tags import (
    default_ranks,
    rank_tags,
    ranked_compatible,
    ranked_remembered,
    ranks_for,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pytest

    from wheelcache._tags import TagRanks


def ref(name: str, *tags: str) -> WheelRef:
    return WheelRef("0" * 64, name, 1, tags)


def test_lowest_rank_wins() -> None:
    ranks = rank_tags([Tag("cp311", "cp311", "linux_x86_64"), Tag("py3", "none", "any")])
    wheels = [ref("generic", "py3-none-any"), ref("specific", "cp311-cp311-linux_x86_64")]
    assert [w.filename for w in ranked_compatible(wheels, ranks)] == ["specific", "generic"]


def test_a_wheel_ranks_by_its_best_tag() -> None:
    ranks = rank_tags([Tag("py3", "none", "any"), Tag("py2", "none", "any")])
    wheels = [ref("py2-only", "py2-none-any"), ref("both", "py2-none-any", "py3-none-any")]
    assert ranked_compatible(wheels, ranks)[0].filename == "both"


def test_between_equal_ranks_the_wheel_added_last_wins() -> None:
    ranks = rank_tags([Tag("py3", "none", "any")])
    wheels = [ref("earlier", "py3-none-any"), ref("later", "py3-none-any")]
    assert [w.filename for w in ranked_compatible(wheels, ranks)] == ["later", "earlier"]


def test_incompatible_wheels_are_left_out() -> None:
    ranks = rank_tags([Tag("py3", "none", "any")])
    assert ranked_compatible([ref("win", "cp27-cp27m-win32")], ranks) == []


def test_duplicate_tags_keep_their_first_position() -> None:
    tag = Tag("py3", "none", "any")
    assert rank_tags([tag, Tag("py2", "none", "any"), tag]) == {
        "py3-none-any": 0,
        "py2-none-any": 1,
    }


def test_default_ranking_is_this_interpreters_and_computed_once() -> None:
    assert default_ranks() is default_ranks()
    assert default_ranks() == rank_tags(sys_tags())


def test_an_explicit_tag_list_is_ranked_once_while_it_is_repeated() -> None:
    tags = [Tag("cp311", "cp311", "linux_x86_64"), Tag("py3", "none", "any")]
    first = ranks_for(tags)
    assert first == rank_tags(tags)
    assert ranks_for(list(tags)) is first  # the same tags in a new list
    assert ranks_for(iter(tags)) is first  # ... or an iterator
    assert ranks_for([Tag("py3", "none", "any"), Tag("cp311", "cp311", "linux_x86_64")]) == {
        "py3-none-any": 0,
        "cp311-cp311-linux_x86_64": 1,
    }


def test_a_different_tag_list_is_never_answered_with_the_last_ranking() -> None:
    ranks_for([Tag("py3", "none", "any")])
    assert ranks_for([Tag("py2", "none", "any")]) == {"py2-none-any": 0}
    assert ranks_for([]) == {}
    assert ranks_for([Tag("py3", "none", "any")]) == {"py3-none-any": 0}


def test_no_tags_means_this_interpreters_ranking() -> None:
    ranks_for([Tag("py2", "none", "any")])
    assert dict(ranks_for(None)) == default_ranks()
    assert ranks_for(None) is ranks_for(None)


def test_the_default_ranking_answers_for_pure_python_tags_as_sys_tags_would() -> None:
    real = default_ranks()
    lazy = ranks_for(None)
    for tag in ("py3-none-any", "py2-none-any", "py311-none-any", "cp311-cp311-linux_x86_64"):
        assert (tag in lazy) == (tag in real), tag
    assert lazy.get("py3-none-any") == real["py3-none-any"]


def test_a_lookup_of_a_pure_python_wheel_imports_no_packaging_tags() -> None:
    """packaging.tags costs a command more than the rest of its warm hit."""
    import subprocess
    import sys

    code = (
        "import sys; from wheelcache._tags import ranked_compatible, ranks_for;"
        "from wheelcache._pointers.pointer import WheelRef;"
        "tags = ('py2-none-any', 'py3-none-any');"
        "ref = WheelRef('a' * 64, 'x-1.0-py2.py3-none-any.whl', 1, tags);"
        "assert ranked_compatible([ref], ranks_for(None)) == [ref];"
        "assert ranked_compatible([ref._replace(tags=('py2-none-any',))], ranks_for(None)) == [];"
        "print('packaging.tags' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )

    assert (result.returncode, result.stdout) == (0, "False\n"), result.stderr


def test_many_wheels_rank_by_best_tag_then_latest() -> None:
    ranks = rank_tags([Tag("cp311", "cp311", "linux_x86_64"), Tag("py3", "none", "any")])
    wheels = [
        ref("old-generic", "py3-none-any"),
        ref("foreign", "cp27-cp27m-win32"),
        ref("specific", "py3-none-any", "cp311-cp311-linux_x86_64"),
        ref("new-generic", "py3-none-any"),
    ]
    assert [w.filename for w in ranked_compatible(wheels, ranks)] == [
        "specific",
        "new-generic",
        "old-generic",
    ]


def test_a_ranking_is_remembered_for_the_same_wheels_and_ranks_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A repeated hit on a source with several wheels does not rank them again,
    and never answers other wheels or other ranks with a remembered ranking."""
    calls: list[int] = []

    def counted(wheels: Sequence[WheelRef], ranks: TagRanks) -> list[WheelRef]:
        calls.append(len(wheels))
        return ranked_compatible(wheels, ranks)

    monkeypatch.setattr(_tags, "ranked_compatible", counted)
    py3_first = rank_tags([Tag("py3", "none", "any"), Tag("cp311", "cp311", "linux_x86_64")])
    cp311_first = rank_tags([Tag("cp311", "cp311", "linux_x86_64"), Tag("py3", "none", "any")])
    wheels = (ref("generic", "py3-none-any"), ref("specific", "cp311-cp311-linux_x86_64"))

    first = ranked_remembered(wheels, py3_first)
    assert [w.filename for w in first] == ["generic", "specific"]
    assert ranked_remembered(wheels, py3_first) is first
    assert calls == [2]  # ranked once
    assert [w.filename for w in ranked_remembered(wheels, cp311_first)] == ["specific", "generic"]
    equal_wheels = tuple(wheels)[::-1][::-1]  # equal, but another object
    assert equal_wheels is not wheels
    assert [w.filename for w in ranked_remembered(equal_wheels, py3_first)] == [
        "generic",
        "specific",
    ]
    assert calls == [2, 2, 2]


def test_remembered_rankings_keep_no_earlier_explicit_ranks_and_no_large_pointers() -> None:
    """Memory stays bounded: other explicit ranks replace the table of the last ones,
    and sources with many wheels are not remembered at all."""
    wheels = (ref("generic", "py3-none-any"), ref("specific", "cp311-cp311-linux_x86_64"))
    for position in range(3):  # a caller alternating tag lists makes new ranks each time
        ranks = rank_tags([Tag("py3", "none", "any")] * (position + 1))
        ranked_remembered(wheels, ranks)
        owner, table = _tags._by_explicit
        assert owner is ranks
        assert list(table) == [id(wheels)]

    many = tuple(ref(f"w{n}", "py3-none-any") for n in range(_tags.MOST_WHEELS_REMEMBERED + 1))
    ranks = rank_tags([Tag("py3", "none", "any")])
    first = ranked_remembered(many, ranks)
    assert ranked_remembered(many, ranks) is not first
    assert ranked_remembered(many, ranks) == first
    assert id(many) not in _tags._by_explicit[1]
