"""Running a ``get_or_build`` callback: its output checked, published and recorded.

The caller holds the source's build lock. The callback writes wheels into a
fresh workspace; if none is compatible with the caller's tags, nothing is
published (:class:`~wheelcache.NoCompatibleWheelError`); otherwise every
wheel is published and recorded in the source's pointer, and the best
compatible one is returned.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .._errors import NoCompatibleWheelError
from .._pointers.pointer import WheelRef
from .._pointers.revision import record_published
from .._tags import ranked_compatible
from .._wheel import CachedWheel
from .._wheels.names import parse_wheel_name

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from .._source import Source
    from .._store.store import Store
    from .._tags import TagRanks

__all__ = ["build_and_record"]

logger = logging.getLogger("wheelcache")


def build_and_record(
    store: Store,
    source: Source,
    build: Callable[[Path], Any],
    ranks: TagRanks,
    *,
    lock_timeout: float | None,
    then: Callable[[list[CachedWheel]], None] | None = None,
) -> CachedWheel:
    """Run *build* in a workspace; publish and record what it wrote; return the best wheel.

    *then*, if given, is told every wheel published once they are recorded
    (the remote tier queues them for upload).
    """
    with store.workspace("build") as output_dir:
        logger.info("building %s", source.name or source.key)
        build(output_dir)
        built = sorted(
            path for path in output_dir.iterdir() if path.suffix == ".whl" and path.is_file()
        )
        names = []
        for path in built:
            info = parse_wheel_name(path.name)
            names.append(WheelRef("", path.name, 0, tuple(str(t) for t in info.tags)))
        if not ranked_compatible(names, ranks):
            found = ", ".join(path.name for path in built) or "no wheel at all"
            raise NoCompatibleWheelError(
                f"building {source.name or source.key} produced no compatible wheel ({found})"
            )
        published = [store.publish(path) for path in built]
        record_published(
            store,
            source,
            list(published),
            republish={p.sha256: w for p, w in zip(published, built)},
            timeout=lock_timeout,
        )
    if then is not None:
        then([CachedWheel(p.path, p.sha256, p.size) for p in published])
    best = ranked_compatible([p.ref() for p in published], ranks)[0]
    return CachedWheel(store.layout.entry_file(best.sha256, best.filename), best.sha256, best.size)
