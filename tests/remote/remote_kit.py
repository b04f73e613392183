"""What the remote-tier tests share: two cache roots are two machines, one bucket between them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from procs import DEADLINE
from remote.s3server import FaultProxy, delete_object, put_object
from wheelcache import Source, WheelCache
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from remote.conftest import S3
    from remote.s3server import Fault
    from wheelcache import CachedWheel

__all__ = [
    "SDIST",
    "builder",
    "machine",
    "pull_through",
    "record_keys",
    "to_first_layout",
    "wheel_keys",
]

SDIST = Source("sha256:" + "5" * 64, "", "demo")
"""An sdist source: portable, so it travels through the remote."""


def builder(
    tmp_path: Path, name: str = "demo", seed: int = 0
) -> tuple[Callable[[Path], None], list[int]]:
    """A build function that writes one wheel and counts its calls."""
    calls: list[int] = []

    def build(output: Path) -> None:
        calls.append(1)
        make_wheel(output, name, "1.0", seed=seed)

    return build, calls


def machine(tmp_path: Path, name: str, url: str, remote_mode: str | None = None) -> WheelCache:
    """Another machine: its own cache root below *tmp_path*, the bucket at *url*."""
    return WheelCache(tmp_path / name, remote=url, remote_mode=remote_mode)


def wheel_keys(objects: dict[str, bytes]) -> list[str]:
    """The wheel objects among a bucket's objects."""
    return sorted(k for k in objects if "/wheels-v1/" in k)


def record_keys(objects: dict[str, bytes]) -> list[str]:
    """The records among a bucket's objects."""
    return sorted(k for k in objects if "/revisions-v1/" in k)


def to_first_layout(s3: S3) -> list[str]:
    """Move every record to where the first layout (earlier versions) kept it; the new keys.

    ``.../<filename>/<sha256>.rec2`` becomes ``.../<sha256>.json``, the same
    bytes: a bucket as the previous version of wheelcache left it.
    """
    moved = []
    for key, data in s3.objects().items():
        if "/revisions-v1/" in key and key.endswith(".rec2"):
            revision, _, last = key.rpartition("/")
            legacy = f"{revision.rpartition('/')[0]}/{last[: -len('.rec2')]}.json"
            put_object(s3.endpoint, s3.bucket, legacy, data)
            delete_object(s3.endpoint, s3.bucket, key)
            moved.append(legacy)
    return sorted(moved)


def pull_through(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch, fault: Fault
) -> tuple[CachedWheel | None, FaultProxy]:
    """Machine B gets SDIST through a :class:`FaultProxy` calling *fault*, with long timeouts.

    For tests whose *fault* holds a request until another one arrives (the
    remote timeout is the test's deadline). Returns the result and the proxy.
    """
    proxy = FaultProxy(s3.port, fault)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        monkeypatch.setenv("WHEELCACHE_REMOTE_TIMEOUT", str(DEADLINE))
        return machine(tmp_path, "b", s3.url).get(SDIST), proxy
    finally:
        proxy.close()
