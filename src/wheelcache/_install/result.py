"""What :meth:`WheelCache.install <wheelcache.WheelCache.install>` returns."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["InstallResult"]


@dataclass(frozen=True)
class InstallResult:
    """What installing one wheel did."""

    name: str
    version: str
    action: str
    """``installed``, or ``unchanged`` when the environment already held this exact wheel."""
    link_mode: str | None
    """How files were placed: ``clone``, ``hardlink`` or ``copy`` (None when unchanged)."""
    files: int
    """Files placed (linked, copied or written)."""
    seconds: float
    dist_info: str
    """The installed ``.dist-info`` directory."""
    replaced: tuple[str, ...] = ()
    """Versions of the project that were uninstalled first."""
    unsatisfied: tuple[str, ...] = ()
    """``Requires-Dist`` requirements the environment does not satisfy (nothing is resolved)."""
    wheel_sha256: str = ""
