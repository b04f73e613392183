"""The command's remote parts: ``push``, ``prune --remote`` and the remote in ``info``.

Values in, text or JSON-ready dicts out, plus the two handlers; the library
does the work (:class:`~wheelcache._remote.api.RemoteMethods`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .reports import count
from .units import format_size

if TYPE_CHECKING:
    import argparse

    from .._cache import WheelCache
    from .._remote.reports import PushReport, RemotePruneReport
    from .._remote.tier import RemoteStatus
    from .console import Console

__all__ = [
    "CONFIGURED",
    "cmd_push",
    "open_cache",
    "prune_remote",
    "push_json",
    "push_lines",
    "remote_prune_json",
    "remote_prune_lines",
    "status_json",
    "status_lines",
]

_LABEL_WIDTH = len("Cache directory:  ")
"""The label column of ``wheelcache info``'s other lines (the longest label, two spaces)."""

CONFIGURED = "\0configured"
"""``--remote`` given without a URL: the configured remote ($WHEELCACHE_REMOTE)."""


def open_cache(args: argparse.Namespace) -> WheelCache:
    """The cache the global options name: ``--cache-dir``, ``--remote``, ``--remote-mode``."""
    from .._cache import WheelCache

    remote = getattr(args, "remote", None)
    return WheelCache(
        args.cache_dir,
        remote=None if remote in (None, CONFIGURED) else remote,
        remote_mode=getattr(args, "remote_mode", None),
    )


def status_json(status: RemoteStatus | None) -> dict[str, Any] | None:
    """The ``remote`` key of ``wheelcache info --json``."""
    if status is None:
        return None
    return {
        "url": status.url,
        "mode": status.mode,
        "answered": status.answered,
        "problem": status.problem,
        "rejected_objects": status.rejected,
    }


def status_lines(status: RemoteStatus | None) -> list[str]:
    """The remote's lines in ``wheelcache info``, aligned with the lines above them."""
    if status is None:
        return [f"{'Remote:':<{_LABEL_WIDTH}}none"]
    answer = "answered" if status.answered else f"did not answer ({status.problem})"
    rows = [
        ("Remote:", status.url),
        ("Remote mode:", status.mode),
        ("Remote status:", answer),
        ("Rejected:", f"{status.rejected} remote objects refused"),
    ]
    return [f"{label:<{_LABEL_WIDTH}}{value}" for label, value in rows]


def push_json(report: PushReport) -> dict[str, Any]:
    """``wheelcache push --json``."""
    return report._asdict()


def push_lines(report: PushReport) -> list[str]:
    """``wheelcache push``."""
    lines = [
        f"Recorded {count(report.wheels, 'wheel')} of {count(report.sources, 'source')}"
        f" remotely; uploaded {count(report.uploaded, 'wheel')}."
    ]
    if report.skipped:
        lines.append(f"Skipped {count(report.skipped, 'source')} keyed by a local path.")
    return lines


def remote_prune_json(report: RemotePruneReport) -> dict[str, Any]:
    """``wheelcache prune --remote --json``."""
    return report._asdict()


def remote_prune_lines(report: RemotePruneReport) -> list[str]:
    """``wheelcache prune --remote``."""
    verb = "Would remove" if report.dry_run else "Removed"
    return [
        f"{verb} {count(report.removed_records, 'record')} and"
        f" {count(report.removed_wheels, 'wheel')} ({format_size(report.freed_bytes)}).",
        f"Kept {count(report.kept_records, 'record')} and {count(report.kept_wheels, 'wheel')}"
        f" ({format_size(report.kept_bytes)}).",
    ]


def cmd_push(args: argparse.Namespace, console: Console) -> int:
    """``wheelcache push``: upload every current local revision to the remote."""
    report = open_cache(args).push()
    if args.json:
        console.json(push_json(report))
    else:
        console.lines(push_lines(report))
    return 0


def prune_remote(args: argparse.Namespace, console: Console) -> int:
    """``wheelcache prune --remote``: expire old records, then wheels no record names."""
    from .._errors import InvalidSourceError

    if args.max_size is not None:
        raise InvalidSourceError("--max-size", "applies to the local cache, not with --remote")
    report = open_cache(args).prune_remote(
        max_age=args.max_age, grace=args.grace, dry_run=args.dry_run
    )
    if args.json:
        console.json(remote_prune_json(report))
    else:
        console.lines(remote_prune_lines(report))
    return 0
