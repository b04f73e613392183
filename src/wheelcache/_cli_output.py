"""What the ``wheelcache`` command shows: sizes, durations, times, tables, progress, reports.

Everything here is values in, text (or JSON-ready dicts) out, so the command's
look is tested without a terminal. JSON keys are listed here, in one place
per command, so they stay stable. Sizes read and print in decimal units, as pip shows them
(``1.5 MB`` is 1 500 000 bytes); ``KiB``/``MiB``/``GiB``/``TiB`` are accepted
for binary amounts. Colour is used only on a terminal and never when
``NO_COLOR`` is set (https://no-color.org); progress is drawn only on a
terminal, on stderr.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from ._reports import PruneReport, VerifyReport
    from ._stats import CacheStats
    from ._wheel import CachedWheel

__all__ = [
    "ListedWheel",
    "ProgressLine",
    "count",
    "format_age",
    "format_size",
    "info_json",
    "info_lines",
    "iso_utc",
    "list_json",
    "list_summary",
    "list_table",
    "parse_duration",
    "parse_size",
    "prune_json",
    "prune_lines",
    "render_table",
    "short_key",
    "use_color",
    "verify_json",
    "verify_lines",
    "wheel_json",
]

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([smhdw]?)")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(i?)(b?)")
_SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_SIZE_UNITS = ("kB", "MB", "GB", "TB", "PB")
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
)


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``90``, ``30s``, ``30m``, ``12h``, ``7d`` or ``2w``.

    Raises :class:`argparse.ArgumentTypeError`, so argparse reports a bad
    value as a usage error.
    """
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use a number and a unit s, m, h, d or w"
            " (e.g. 30m, 12h, 7d)"
        )
    return float(match[1]) * _DURATION_UNITS[match[2]]


def parse_size(text: str) -> int:
    """Bytes in a size such as ``1000``, ``500M``, ``5G``, ``5GB`` or ``512MiB``.

    ``K``, ``M``, ``G`` and ``T`` are powers of 1000 (with or without a
    trailing ``B``); with an ``i`` (``MiB``) powers of 1024. Case is ignored.
    """
    match = _SIZE.fullmatch(text.strip().lower())
    if match is None or (match[3] and not match[2]):
        raise argparse.ArgumentTypeError(
            f"invalid size {text!r}: use a number and a unit K, M, G or T (e.g. 500M, 5G)"
        )
    base = 1024 if match[3] else 1000
    return int(float(match[1]) * base ** _SIZE_POWERS[match[2]])


def format_size(size: int) -> str:
    """A size for people: ``0 bytes``, ``1 byte``, ``999 bytes``, ``1.5 kB``, ``12.3 MB``."""
    if size < 1000:
        return "1 byte" if size == 1 else f"{size} bytes"
    value = float(size)
    for unit in _SIZE_UNITS:
        value /= 1000
        if value < 999.95 or unit == _SIZE_UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def format_age(then: float, now: float | None = None) -> str:
    """How long ago *then* (seconds since the epoch) was: ``just now``, ``5m ago``, ``3d ago``."""
    seconds = (time.time() if now is None else now) - then
    if seconds < 60:
        return "just now"
    for limit, unit, name in ((3600, 60, "m"), (86400, 3600, "h"), (86400 * 60, 86400, "d")):
        if seconds < limit:
            return f"{int(seconds // unit)}{name} ago"
    return f"{int(seconds // (86400 * 7))}w ago"


def iso_utc(timestamp: float) -> str:
    """*timestamp* (seconds since the epoch) in ISO 8601, UTC, to the second."""
    from datetime import datetime, timezone

    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def use_color(stream: TextIO) -> bool:
    """True when *stream* is a terminal and the user has not asked for no colour."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: frozenset[int] = frozenset(),
    bold_header: bool = False,
) -> list[str]:
    """Lay out *rows* under *headers* in aligned columns, two spaces apart.

    Columns whose index is in *right* are right-aligned (numbers, sizes); the
    last column is not padded, so lines carry no trailing spaces.
    """
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row)]
    lines = []
    for number, row in enumerate([list(headers), *map(list, rows)]):
        cells = []
        for index, (cell, width) in enumerate(zip(row, widths)):
            if index in right:
                cells.append(cell.rjust(width))
            elif index == len(widths) - 1:
                cells.append(cell)
            else:
                cells.append(cell.ljust(width))
        line = "  ".join(cells).rstrip()
        if number == 0 and bold_header:
            line = f"\x1b[1m{line}\x1b[0m"
        lines.append(line)
    return lines


class ProgressLine:
    """A one-line progress report redrawn in place on a terminal.

    Matches the library's ``progress(phase, done, total)`` callback. Disabled
    (does nothing) unless *enabled*; redraws at most ten times a second; a
    *total* of 0 means the total is unknown. Use as a context manager so the
    line is wiped when the work ends.
    """

    _INTERVAL = 0.1

    def __init__(self, stream: TextIO, *, enabled: bool) -> None:
        self._stream = stream
        self._enabled = enabled
        self._width = 0
        self._drawn_at = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        """Show that *done* of *total* items of *phase* are finished."""
        if not self._enabled:
            return
        now = time.monotonic()
        if now - self._drawn_at < self._INTERVAL and (total == 0 or done < total):
            return
        self._drawn_at = now
        text = f"{phase}: {done}/{total} ({done * 100 // total}%)" if total else f"{phase}: {done}"
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = max(self._width, len(text))

    def close(self) -> None:
        """Wipe the progress line, if one was drawn."""
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


# -- what each command reports ----------------------------------------------------------


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


def list_json(found: Sequence[ListedWheel]) -> dict[str, Any]:
    """``wheelcache list --json``."""
    wheels = []
    for item in found:
        document = wheel_json(item.wheel)
        document["source"] = item.source
        document["source_name"] = item.source_name
        document["last_used"] = iso_utc(item.last_used)
        document["last_used_timestamp"] = item.last_used
        wheels.append(document)
    return {"wheels": wheels, "count": len(wheels), "total_bytes": _unique_bytes(found)}


def list_table(found: Sequence[ListedWheel]) -> tuple[list[str], list[list[str]], frozenset[int]]:
    """``wheelcache list``: headers, rows and the right-aligned columns."""
    headers = ["Name", "Version", "Size", "Last used", "SHA-256", "File", "Source"]
    rows = [
        [
            item.wheel.name,
            str(item.wheel.version),
            format_size(item.wheel.size),
            format_age(item.last_used),
            item.wheel.sha256[:12],
            item.wheel.filename,
            short_key(item.source),
        ]
        for item in found
    ]
    return headers, rows, frozenset({2})


def list_summary(found: Sequence[ListedWheel]) -> str:
    """How many distinct wheels, and their bytes (a wheel named twice counts once)."""
    unique = len({item.wheel.sha256 for item in found})
    return f"{count(unique, 'wheel')}, {format_size(_unique_bytes(found))}"


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
        "seconds": report.seconds,
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
    return lines


def verify_json(report: VerifyReport) -> dict[str, Any]:
    """``wheelcache verify --json``."""
    return {
        "sound": report.sound,
        "entries_checked": report.entries_checked,
        "bytes_checked": report.bytes_checked,
        "corrupt": [
            {"sha256": item.sha256, "path": str(item.path), "problem": item.problem}
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
    }


def verify_lines(report: VerifyReport) -> list[str]:
    """``wheelcache verify``: one line per problem, then a summary."""
    lines = [f"corrupt wheel: {item.path}: {item.problem}" for item in report.corrupt]
    for item in report.dangling:
        missing = count(len(item.missing), "missing wheel")
        lines.append(
            f"dangling pointer: {item.pointer} (source {item.key}) names {missing}:"
            f" {', '.join(item.missing)}"
        )
    lines += [f"unreadable pointer: {path}" for path in report.unreadable_pointers]
    checked = count(report.entries_checked, "wheel")
    summary = f"Checked {checked} ({format_size(report.bytes_checked)})"
    if report.sound:
        return [*lines, f"{summary}: no problems found."]
    problems = len(report.corrupt) + len(report.dangling) + len(report.unreadable_pointers)
    lines.append(f"{summary}: {count(problems, 'problem')} found.")
    if report.repaired:
        lines.append(
            f"Repaired: moved {count(len(report.quarantined), 'item')} to quarantine,"
            f" mended {count(report.mended_pointers, 'pointer')}."
        )
    else:
        lines.append(
            "Run 'wheelcache verify --repair' to quarantine corrupt wheels and mend pointers."
        )
    return lines
