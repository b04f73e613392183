"""What each ``wheelcache`` command reports: JSON-ready dicts and lines of text.

Everything here is values in, text (or JSON-ready dicts) out, so the command's
look is tested without a terminal. ``--json`` prints one JSON object on stdout;
its keys are listed here, in one place per command, so they stay stable: later
versions may add keys, never rename or remove them. Sizes are in bytes; a time
is given twice, as ISO 8601 UTC (``last_used``) and as seconds since the epoch
(``last_used_timestamp``). Each command's help lists its keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from .console import render_table
from .units import format_age, format_size, iso_utc

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._gc.stats import CacheStats
    from .._install.install import Installed
    from .._install.result import InstallResult
    from .._wheel import CachedWheel

__all__ = [
    "ListedWheel",
    "count",
    "info_json",
    "info_lines",
    "install_json",
    "install_line",
    "list_json",
    "list_summary",
    "list_table",
    "short_key",
    "wheel_json",
]

_STATS_FIELDS = (
    "root",
    "layout_version",
    "wheels",
    "wheel_bytes",
    "sources",
    "referenced_entries",
    "referenced_bytes",
    "reclaimable_bytes",
    "staging_items",
    "staging_bytes",
    "trash_items",
    "trash_bytes",
    "quarantine_items",
    "trees",
    "tree_bytes",
)


def count(number: int, noun: str) -> str:
    """``1 wheel``, ``3 wheels``."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def short_key(key: str | None) -> str:
    """A source key for a table: sdist digests shortened, no source as ``-``.

    Keys may hold lone surrogates (undecodable file names); they are shown
    escaped, so printing never fails.
    """
    if key is None:
        return "-"
    if key.startswith("sha256:") and len(key) > 19:
        return key[:19] + "..."
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def wheel_json(wheel: CachedWheel) -> dict[str, Any]:
    """The keys every JSON description of a cached wheel has."""
    return {
        "name": wheel.name,
        "version": str(wheel.version),
        "filename": wheel.filename,
        "size": wheel.size,
        "sha256": wheel.sha256,
        "path": str(wheel.path.absolute()),
    }


class ListedWheel(NamedTuple):
    """One row of ``wheelcache list``: a wheel, and the source that names it (if any)."""

    wheel: CachedWheel
    source: str | None
    source_name: str | None
    last_used: float
    """The source's last use; for a wheel no source names, when it was last freshened."""
    source_file: str | None = None
    """The sdist's file name, when the source was added from an archive."""
    tree_bytes: int | None = None
    """Bytes of the wheel's unpacked tree (made by installs); None when it has none."""


def list_json(found: Sequence[ListedWheel]) -> dict[str, Any]:
    """``wheelcache list --json``."""
    wheels = []
    for item in found:
        document = wheel_json(item.wheel)
        document["source"] = item.source
        document["source_name"] = item.source_name
        document["source_file"] = item.source_file
        document["last_used"] = iso_utc(item.last_used)
        document["last_used_timestamp"] = item.last_used
        document["tree_bytes"] = item.tree_bytes
        wheels.append(document)
    return {"wheels": wheels, "count": len(wheels), "total_bytes": _unique_bytes(found)}


def list_table(found: Sequence[ListedWheel]) -> tuple[list[str], list[list[str]], frozenset[int]]:
    """``wheelcache list``: headers, rows and the right-aligned columns."""
    headers = ["Name", "Version", "Size", "Unpacked", "Last used", "SHA-256", "File", "Source"]
    rows = [
        [
            item.wheel.name,
            str(item.wheel.version),
            format_size(item.wheel.size),
            "-" if item.tree_bytes is None else format_size(item.tree_bytes),
            format_age(item.last_used),
            item.wheel.sha256[:12],
            item.wheel.filename,
            item.source_file or short_key(item.source),
        ]
        for item in found
    ]
    return headers, rows, frozenset({2, 3})


def list_summary(found: Sequence[ListedWheel]) -> str:
    """How many distinct wheels, and their bytes (a wheel named twice counts once)."""
    unique = len({item.wheel.sha256 for item in found})
    summary = f"{count(unique, 'wheel')}, {format_size(_unique_bytes(found))}"
    trees = {i.wheel.sha256: i.tree_bytes for i in found if i.tree_bytes is not None}
    if trees:
        summary += f"; {count(len(trees), 'unpacked tree')}, {format_size(sum(trees.values()))}"
    return summary


def _unique_bytes(found: Sequence[ListedWheel]) -> int:
    return sum({item.wheel.sha256: item.wheel.size for item in found}.values())


def info_json(stats: CacheStats) -> dict[str, Any]:
    """``wheelcache info --json``."""
    document: dict[str, Any] = {field: getattr(stats, field) for field in _STATS_FIELDS}
    document["root"] = str(stats.root.absolute())
    return document


def info_lines(stats: CacheStats) -> list[str]:
    """``wheelcache info``: one aligned ``label: value`` line per figure."""
    rows = [
        ["Cache directory:", str(stats.root.absolute())],
        ["Layout version:", str(stats.layout_version)],
        ["Wheels:", f"{stats.wheels} ({format_size(stats.wheel_bytes)})"],
        ["Unpacked trees:", f"{stats.trees} ({format_size(stats.tree_bytes)})"],
        ["Sources:", str(stats.sources)],
        ["Referenced:", f"{stats.referenced_entries} ({format_size(stats.referenced_bytes)})"],
        ["Reclaimable:", format_size(stats.reclaimable_bytes)],
        ["Staging:", f"{stats.staging_items} ({format_size(stats.staging_bytes)})"],
        ["Trash:", f"{stats.trash_items} ({format_size(stats.trash_bytes)})"],
        ["Quarantine:", str(stats.quarantine_items)],
    ]
    return render_table(["", ""], rows)[1:]


def install_line(result: InstallResult | Installed) -> str:
    """``wheelcache install``: ``installed demo 1.0 (hardlink, 3 ms)`` or ``unchanged demo 1.0``."""
    if result.action == "unchanged":
        return f"unchanged {result.name} {result.version}"
    details = f"{result.link_mode}, {result.seconds * 1000:.0f} ms"
    if result.replaced:
        details += f"; replaced {', '.join(result.replaced)}"
    return f"installed {result.name} {result.version} ({details})"


def install_json(
    result: InstallResult, wheel: CachedWheel, source: dict[str, Any], built: bool
) -> dict[str, Any]:
    """One distribution in ``wheelcache install --json``."""
    return {
        "name": result.name,
        "version": result.version,
        "action": result.action,
        "link_mode": result.link_mode,
        "files": result.files,
        "seconds": result.seconds,
        "dist_info": result.dist_info,
        "replaced": list(result.replaced),
        "unsatisfied": list(result.unsatisfied),
        "wheel": wheel_json(wheel),
        "built": built,
        "source": source,
    }
