"""What the two-host tests share: one directory as each host sees it."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from pathlib import Path


class Hosts(NamedTuple):
    """One shared directory as host A and as host B see it."""

    a: Path
    b: Path
