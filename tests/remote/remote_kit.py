"""What the remote-tier tests share: two cache roots are two machines, one bucket between them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from wheelcache import Source, WheelCache
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["SDIST", "builder", "machine", "record_keys", "wheel_keys"]

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
