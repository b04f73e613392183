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
from .units import format_age, format_clock, format_duration, format_size, iso_utc

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._gc.reports import CleanReport, PruneReport, VerifyReport
    from .._gc.stats import CacheStats
    from .._install.install import InstallResult
    from .._wheel import CachedWheel

__all__ = [
    "ListedWheel",
    "clean_json",
    "clean_lines",
    "count",
    "info_json",
    "info_lines",
    "install_json",
    "install_line",
    "list_json",
    "list_summary",
    "list_table",
    "prune_json",
    "prune_lines",
    "remove_json",
    "remove_lines",
    "short_key",
    "verify_json",
    "verify_lines",
    "waiting_lines",
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


def prune_json(report: PruneReport) -> dict[str, Any]:
    """``wheelcache prune --json``."""
    return {
        "dry_run": report.dry_run,
        "removed_entries": report.removed_entries,
        "freed_bytes": report.freed_bytes,
        "kept_entries": report.kept_entries,
        "kept_bytes": report.kept_bytes,
        "referenced_entries": report.referenced_entries,
        "referenced_bytes": report.referenced_bytes,
        "retired_sources": list(report.retired_sources),
        "reclaimed_staging": report.reclaimed_staging,
        "reclaimed_trash": report.reclaimed_trash,
        "restored_entries": report.restored_entries,
        "removed_quarantine": report.removed_quarantine,
        "waiting_entries": report.waiting_entries,
        "waiting_bytes": report.waiting_bytes,
        "waiting_until": None if report.waiting_until is None else iso_utc(report.waiting_until),
        "waiting_until_timestamp": report.waiting_until,
        "grace": report.grace,
        "seconds": report.seconds,
        "removed_trees": report.removed_trees,
        "kept_trees": report.kept_trees,
        "kept_tree_bytes": report.kept_tree_bytes,
    }


def prune_lines(report: PruneReport) -> list[str]:
    """``wheelcache prune``: what went (or would go) and what stays."""
    would = report.dry_run
    lines = [
        f"{'Would remove' if would else 'Removed'} {count(report.removed_entries, 'wheel')}"
        f" ({format_size(report.freed_bytes)}).",
        f"Kept {count(report.kept_entries, 'wheel')} ({format_size(report.kept_bytes)}),"
        f" {report.referenced_entries} referenced ({format_size(report.referenced_bytes)}).",
    ]
    if report.removed_trees:
        trees = count(report.removed_trees, "unpacked tree")
        lines.append(f"{'Would remove' if would else 'Removed'} {trees}.")
    if report.retired_sources:
        retired = count(len(report.retired_sources), "source")
        lines.append(f"{'Would retire' if would else 'Retired'} {retired}.")
    leftovers = report.reclaimed_staging + report.reclaimed_trash
    if leftovers:
        cleaned = count(leftovers, "leftover")
        lines.append(
            f"{'Would clean up' if would else 'Cleaned up'} {cleaned} of interrupted work."
        )
    if report.restored_entries:
        lines.append(f"Restored {count(report.restored_entries, 'wheel')} used during the prune.")
    if report.removed_quarantine:
        removed = count(report.removed_quarantine, "item")
        lines.append(f"{'Would empty' if would else 'Emptied'} {removed} from the quarantine.")
    lines.extend(waiting_lines(report))
    return lines


def remove_json(report: PruneReport) -> dict[str, Any]:
    """``wheelcache remove --json``."""
    keys = ("dry_run", "removed_entries", "freed_bytes", "referenced_entries", "referenced_bytes")
    document = {key: getattr(report, key) for key in keys}
    document["retired_sources"] = list(report.retired_sources)
    waiting = ("waiting_entries", "waiting_bytes", "waiting_until", "waiting_until_timestamp")
    document.update({key: value for key, value in prune_json(report).items() if key in waiting})
    document["grace"] = report.grace
    return document


def remove_lines(report: PruneReport) -> list[str]:
    """``wheelcache remove``: the sources retired, the wheels deleted, what waits."""
    would = report.dry_run
    sources = ", ".join(short_key(key) for key in report.retired_sources)
    lines = [
        f"{'Would retire' if would else 'Retired'}"
        f" {count(len(report.retired_sources), 'source')}: {sources}.",
        f"{'Would remove' if would else 'Removed'} {count(report.removed_entries, 'wheel')}"
        f" ({format_size(report.freed_bytes)}).",
    ]
    if report.referenced_entries:
        lines.append(
            f"Kept {count(report.referenced_entries, 'wheel')} other sources name"
            f" ({format_size(report.referenced_bytes)})."
        )
    return lines + waiting_lines(report)


def clean_json(report: CleanReport) -> dict[str, Any]:
    """``wheelcache clean --json``."""
    keys = ("dry_run", "removed_entries", "removed_sources", "removed_quarantine", "freed_bytes")
    return {key: getattr(report, key) for key in keys}


def clean_lines(report: CleanReport) -> list[str]:
    """``wheelcache clean``: what was emptied."""
    return [
        f"{'Would remove' if report.dry_run else 'Removed'}"
        f" {count(report.removed_entries, 'wheel')}, {count(report.removed_sources, 'source')}"
        f" and {count(report.removed_quarantine, 'quarantined item')}"
        f" ({format_size(report.freed_bytes)})."
    ]


def waiting_lines(report: PruneReport) -> list[str]:
    """What must wait for the grace period: ``12.3 MB more becomes removable after 14:05``."""
    if not report.waiting_bytes or report.waiting_until is None:
        return []
    return [
        f"{format_size(report.waiting_bytes)} more becomes removable after"
        f" {format_clock(report.waiting_until)} (grace {format_duration(report.grace)})."
    ]


def verify_json(report: VerifyReport) -> dict[str, Any]:
    """``wheelcache verify --json``."""
    return {
        "sound": report.sound,
        "entries_checked": report.entries_checked,
        "bytes_checked": report.bytes_checked,
        "corrupt": [
            {
                "sha256": item.sha256,
                "path": str(item.path),
                "problem": item.problem,
                "sources": list(item.sources),
            }
            for item in report.corrupt
        ],
        "dangling": [
            {"key": item.key, "pointer": str(item.pointer), "missing": list(item.missing)}
            for item in report.dangling
        ],
        "unreadable_pointers": [str(path) for path in report.unreadable_pointers],
        "repaired": report.repaired,
        "quarantined": [str(path) for path in report.quarantined],
        "mended_pointers": report.mended_pointers,
        "links": [str(path) for path in report.links],
        "not_permitted": [str(path) for path in report.not_permitted],
        "corrupt_trees": [
            {"sha256": item.sha256, "path": str(item.path), "problem": item.problem}
            for item in report.corrupt_trees
        ],
    }


def verify_lines(report: VerifyReport) -> list[str]:
    """``wheelcache verify``: one line per problem, then a summary."""
    lines = []
    for item in report.corrupt:
        line = f"corrupt wheel: {item.path}: {item.problem}"
        if item.sources:
            keys = ", ".join(map(short_key, item.sources))
            line += f" (named by {count(len(item.sources), 'source')}: {keys})"
        lines.append(line)
    lines += [
        f"corrupt unpacked tree: {item.path}: {item.problem}" for item in report.corrupt_trees
    ]
    for pointer in report.dangling:
        missing = count(len(pointer.missing), "missing wheel")
        lines.append(
            f"dangling pointer: {pointer.pointer} (source {pointer.key}) names {missing}:"
            f" {', '.join(pointer.missing)}"
        )
    lines += [f"unreadable pointer: {path}" for path in report.unreadable_pointers]
    lines += [f"symbolic link inside the cache (not followed): {path}" for path in report.links]
    lines += [
        f"not permitted to read (nothing in it was checked): {path}"
        for path in report.not_permitted
    ]
    checked = count(report.entries_checked, "wheel")
    summary = f"Checked {checked} ({format_size(report.bytes_checked)})"
    if report.sound:
        return [*lines, f"{summary}: no problems found."]
    problems = (
        len(report.corrupt)
        + len(report.corrupt_trees)
        + len(report.dangling)
        + len(report.unreadable_pointers)
        + len(report.links)
        + len(report.not_permitted)
    )
    lines.append(f"{summary}: {count(problems, 'problem')} found.")
    if report.repaired:
        lines.append(
            f"Repaired: moved {count(len(report.quarantined), 'item')} to quarantine,"
            f" mended {count(report.mended_pointers, 'pointer')}."
        )
    else:
        lines.append(
            "Run 'wheelcache verify --repair' to quarantine corrupt wheels and links"
            " and mend pointers."
        )
    return lines


def install_line(result: InstallResult) -> str:
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
