"""What a pointer holds: :class:`Pointer` and its :class:`WheelRef` records.

Named tuples, not dataclasses: a lookup builds these on every hit, and a
frozen dataclass costs several times more to construct. Type checkers see
:class:`typing.NamedTuple` classes; at run time they derive from
:func:`collections.namedtuple` classes, the same thing without importing
:mod:`typing` (which a warm ``wheelcache build`` cannot afford). The format
and its rules are in :mod:`wheelcache._pointers.pointer`.
"""

from __future__ import annotations

__all__ = ["Pointer", "WheelRef"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    class _WheelRefFields(NamedTuple):
        sha256: str
        filename: str
        size: int
        tags: tuple[str, ...]

    class _PointerFields(NamedTuple):
        key: str
        freshness: str
        name: str | None
        wheels: tuple[WheelRef, ...]
        written: float
        filename: str | None = None

else:
    from collections import namedtuple

    _WheelRefFields = namedtuple("WheelRef", ["sha256", "filename", "size", "tags"])
    _PointerFields = namedtuple(
        "Pointer",
        ["key", "freshness", "name", "wheels", "written", "filename"],
        defaults=(None,),
    )


class WheelRef(_WheelRefFields):
    """One wheel named by a pointer: the entry's digest and what it holds.

    ``sha256`` (hex), ``filename``, ``size`` (bytes) and ``tags`` (a tuple of
    tag strings).
    """

    __slots__ = ()

    def as_json(self) -> dict[str, Any]:
        """The JSON object stored in the pointer."""
        return {
            "sha256": self.sha256,
            "filename": self.filename,
            "size": self.size,
            "tags": list(self.tags),
        }


class Pointer(_PointerFields):
    """The current revision of one source: its freshness and its wheels.

    ``key``, ``freshness``, ``name``, ``wheels`` (a tuple of :class:`WheelRef`),
    ``written``, and ``filename``: the sdist's file name, when the source was
    added from an archive (None otherwise).
    """

    __slots__ = ()
