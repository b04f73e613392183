"""Pull: turn a local miss into a local hit from the remote's records and wheels.

One LIST of the revision's prefix finds its records, and their object names
say which wheels they name (file name and SHA-256): the wheels are ranked by
the caller's tags from the listing alone, and the best is downloaded with
its record read alongside (:func:`~wheelcache._remote.download.download`),
published only once the record is trusted and the bytes are the ones it
names. A record whose wheel object is missing is a miss for that wheel; a
wheel whose bytes are wrong, or whose record is not to be trusted, is
rejected and the next one tried.

Records of the first layout (``<sha256>.json``, no file name in the name)
are read first, several at once, and checked before they are ranked, as
before; one whose wheel a record of the current layout also names is not
read at all.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .._errors import InvalidWheelError
from .._pointers.pointer import WheelRef
from .._tags import ranked_compatible
from .download import Candidate, download
from .records import parse_record_key, revision_prefix
from .signing import trusted_record

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .._source import Source
    from .._store.store import Published, Store
    from .._tags import TagRanks
    from .download import Rejected
    from .objects import ObjectStore
    from .records import ListedRecord, Record

__all__ = ["MAX_RECORD_BYTES", "RECORD_READERS", "pull", "revision_candidates"]

logger = logging.getLogger("wheelcache.remote")

RECORD_READERS = 8
"""At most this many records of the first layout are read at once."""

MAX_RECORD_BYTES = 64 * 1024
"""A record is a few hundred bytes; anything much larger is not one."""

_NOT_A_RECORD = "not a record of this source's revision"


def revision_candidates(
    objects: ObjectStore, source: Source, key: bytes | None, reject: Rejected
) -> tuple[list[Candidate], list[ListedRecord]]:
    """The wheels the remote's records offer for *source*'s current revision, as listed.

    Records of the current layout are not read here (their names say enough);
    those of the first layout are, and only trusted ones are kept, except
    those naming a wheel a current record's name also names: they come back
    unread, second, as the fallback should every candidate fail (a name that
    lies must not hide a true record: it costs a wasted download, no more).
    """
    prefix = revision_prefix(source)
    named: dict[tuple[str, str], ListedRecord] = {}
    legacy: list[ListedRecord] = []
    for info in objects.list(prefix):
        listed = parse_record_key(prefix, info.key)
        if listed is None:
            if info.key.endswith((".json", ".rec2")):
                reject(info.key, _NOT_A_RECORD)
            continue
        if info.size > MAX_RECORD_BYTES:
            reject(info.key, _NOT_A_RECORD)
        elif listed.filename is None:
            legacy.append(listed)
        else:
            named.setdefault((listed.sha256, listed.filename), listed)
    candidates = []
    for listed in named.values():
        assert listed.filename is not None
        tags = _tags(listed.filename, listed.key, reject)
        if tags is not None:
            ref = WheelRef(listed.sha256, listed.filename, 0, tags)
            candidates.append(Candidate(ref, listed.key, None))
    shadowing = {sha256 for sha256, _ in named}
    shadowed = [listed for listed in legacy if listed.sha256 in shadowing]
    legacy = [listed for listed in legacy if listed.sha256 not in shadowing]
    candidates += _read_legacy(objects, source, legacy, key, reject)
    return candidates, shadowed


def _tags(filename: str, record_key: str, reject: Rejected) -> tuple[str, ...] | None:
    from .._wheels.names import parse_wheel_name

    try:
        return tuple(map(str, parse_wheel_name(filename).tags))
    except InvalidWheelError:
        reject(record_key, f"{filename!r} is not a wheel file name")
        return None


def _read_legacy(
    objects: ObjectStore,
    source: Source,
    listed: list[ListedRecord],
    key: bytes | None,
    reject: Rejected,
) -> list[Candidate]:
    """Read and check records of the first layout; the trusted ones as candidates."""
    candidates = []
    for item, data in zip(listed, _read_all(objects, [item.key for item in listed])):
        if data is None:
            continue  # pruned since the listing
        verdict: Record | str = trusted_record(data, source, item.key, key)
        if isinstance(verdict, str):
            reject(item.key, verdict)
            continue
        tags = _tags(verdict.filename, item.key, reject)
        if tags is not None:
            ref = WheelRef(verdict.sha256, verdict.filename, verdict.size, tags)
            candidates.append(Candidate(ref, item.key, verdict))
    return candidates


def _read_all(objects: ObjectStore, keys: list[str]) -> list[bytes | None]:
    """The objects at *keys*, in order; several are read at once, each in its own thread."""
    if len(keys) < 2:
        return [objects.read(key) for key in keys]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(len(keys), RECORD_READERS), "wheelcache-records") as pool:
        return list(pool.map(objects.read, keys))


def pull(
    objects: ObjectStore,
    store: Store,
    source: Source,
    ranks: TagRanks,
    *,
    key: bytes | None,
    reject: Rejected,
) -> Published | None:
    """Publish the best compatible wheel the remote has for *source*; None on a miss."""
    listed, shadowed = revision_candidates(objects, source, key, reject)

    def judge(data: bytes, record_key: str) -> Record | str:
        return trusted_record(data, source, record_key, key)

    def rounds() -> Iterator[list[Candidate]]:
        yield listed
        if shadowed:  # read only once every listed candidate has failed
            yield _read_legacy(objects, source, shadowed, key, reject)

    for candidates in rounds():
        by_ref = {c.ref: c for c in candidates}
        ranked = ranked_compatible(list(by_ref), ranks)
        if ranked:
            store.layout.ensure_root()  # a remote miss writes nothing locally
        for ref in ranked:
            published = download(objects, store, by_ref[ref], judge, reject)
            if published is not None:
                return published
    return None
