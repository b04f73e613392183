"""The store seam: get, put-if-absent, list and delete objects, and nothing else.

The only module that imports the object-store client (obstore) and the only
one that knows what its exceptions mean. Code above it sees keys, bytes and
three outcomes: done, "not found" / "already exists" (answers, not errors),
and :class:`RemoteUnavailable` for everything else (refused or dropped
connections, timeouts, 5xx and throttling after the client's bounded retry,
bad credentials), which the tier turns into "local only from now on".
"""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import obstore
from obstore.exceptions import AlreadyExistsError
from obstore.store import from_url

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = [
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "RETRY_SECONDS",
    "ObjectInfo",
    "ObjectStore",
    "RemoteUnavailable",
]

CONNECT_TIMEOUT = 5.0
"""Seconds to establish a connection before the remote counts as unreachable."""

READ_TIMEOUT = 15.0
"""Seconds a request may wait for its next bytes before it counts as failed."""

RETRY_SECONDS = 10.0
"""The client retries a failed request once, within at most this many seconds."""

STREAM_CHUNK = 1 << 20
"""Bytes per chunk of a download: large enough to keep the disk busy, small enough to stream."""

_CLOUD_SCHEMES = frozenset({"s3", "s3a", "gs", "az", "adl", "azure", "abfs", "abfss"})


class RemoteUnavailable(Exception):
    """The remote did not answer usefully; the cause is chained."""


class ObjectInfo(NamedTuple):
    """One object found by a listing."""

    key: str
    size: int
    modified: float
    """Its LastModified, as a POSIX timestamp."""


@contextlib.contextmanager
def _answers(action: str, key: str) -> Iterator[None]:
    """Turn every failure but "not found" into :class:`RemoteUnavailable`."""
    try:
        yield
    except (FileNotFoundError, AlreadyExistsError):
        raise
    except Exception as exc:
        raise RemoteUnavailable(f"{action} {key}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


class ObjectStore:
    """Objects below one URL (``s3://bucket/prefix``, ``file:///directory``, ...)."""

    def __init__(self, url: str, *, timeout: float | None = None, create: bool = False) -> None:
        self.url = url
        scheme = url.split("://", 1)[0].lower()
        options: dict[str, Any] = {}
        if scheme in _CLOUD_SCHEMES:
            client: dict[str, Any] = {
                "connect_timeout": timedelta(seconds=timeout or CONNECT_TIMEOUT),
                "read_timeout": timedelta(seconds=timeout or READ_TIMEOUT),
            }
            endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT") or ""
            if scheme in ("s3", "s3a") and endpoint.startswith("http://"):
                client["allow_http"] = True
            options["client_options"] = client
            options["retry_config"] = {
                "max_retries": 1,
                "retry_timeout": timedelta(seconds=RETRY_SECONDS),
                "backoff": {
                    "init_backoff": timedelta(milliseconds=100),
                    "max_backoff": timedelta(seconds=1),
                    "base": 2,
                },
            }
        elif scheme == "file" and create:
            options["mkdir"] = True
        with _answers("open", url):
            self._store = from_url(url, **options)

    def get(self, key: str) -> Iterator[bytes] | None:
        """The object's bytes in chunks, or None if there is no such object.

        A failure while the body streams raises :class:`RemoteUnavailable`
        from the iteration.
        """
        try:
            with _answers("GET", key):
                result = obstore.get(self._store, key)
        except FileNotFoundError:
            return None
        return self._chunks(result, key)

    def _chunks(self, result: Any, key: str) -> Iterator[bytes]:
        with _answers("GET", key):
            for chunk in result.stream(min_chunk_size=STREAM_CHUNK):
                yield bytes(chunk) if not isinstance(chunk, bytes) else chunk

    def read(self, key: str) -> bytes | None:
        """A small object's bytes, or None if there is no such object."""
        chunks = self.get(key)
        if chunks is None:
            return None
        try:
            return b"".join(chunks)
        except RemoteUnavailable as exc:
            if isinstance(exc.__cause__, FileNotFoundError):
                return None
            raise

    def exists(self, key: str) -> bool:
        """True when the object exists (one HEAD)."""
        try:
            with _answers("HEAD", key):
                obstore.head(self._store, key)
        except FileNotFoundError:
            return False
        return True

    def put_if_absent(self, key: str, data: bytes | Path) -> bool:
        """Create the object unless it exists; True when this call created it.

        "Already exists" is success: every object is named by its content or
        by what it records, so whatever is there is what this call would write.
        """
        try:
            with _answers("PUT", key):
                obstore.put(self._store, key, data, mode="create", use_multipart=False)
        except AlreadyExistsError:
            return False
        except FileNotFoundError as exc:
            if isinstance(data, bytes) or os.path.exists(data):
                raise RemoteUnavailable(f"PUT {key}: the bucket does not exist") from exc
            raise  # the local file vanished
        return True

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with the path segments *prefix*."""
        try:
            with _answers("LIST", prefix):
                for batch in obstore.list(self._store, prefix, chunk_size=1000):
                    for meta in batch:
                        modified = meta["last_modified"].timestamp()
                        yield ObjectInfo(meta["path"], meta["size"], modified)
        except FileNotFoundError as exc:  # a listing finds nothing; "not found" is the bucket
            raise RemoteUnavailable(f"LIST {prefix}: the bucket does not exist") from exc

    def delete(self, key: str) -> None:
        """Delete the object; one that is already gone is fine."""
        try:
            with _answers("DELETE", key):
                obstore.delete(self._store, key)
        except FileNotFoundError:
            pass
