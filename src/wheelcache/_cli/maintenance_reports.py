"""What the maintenance commands report: prune, remove, clean and verify.

Like :mod:`wheelcache._cli.reports` (whose rules for ``--json`` keys hold here
too): values in, JSON-ready dicts and lines of text out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .reports import count, short_key
from .units import format_clock, format_duration, format_size, iso_utc

if TYPE_CHECKING:
    from .._gc.reports import CleanReport, PruneReport, VerifyReport

__all__ = [
    "clean_json",
    "clean_lines",
    "prune_json",
    "prune_lines",
    "remove_json",
    "remove_lines",
    "verify_json",
    "verify_lines",
    "waiting_lines",
]


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
