"""Sizes, durations and times as the ``wheelcache`` command reads and writes them.

Sizes read and print in decimal units, as pip shows them (``1.5 MB`` is
1 500 000 bytes); ``KiB``/``MiB``/``GiB``/``TiB`` are accepted for binary
amounts. The parsers raise :class:`argparse.ArgumentTypeError`, so argparse
reports a bad value as a usage error (imported only then: the reports that
print sizes and ages are also printed by the warm install path, which has no
argparse).
"""

from __future__ import annotations

import re
import time

__all__ = [
    "format_age",
    "format_clock",
    "format_duration",
    "format_size",
    "iso_utc",
    "parse_duration",
    "parse_size",
]

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([smhdw]?)")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(i?)(b?)")
_SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_SIZE_UNITS = ("kB", "MB", "GB", "TB", "PB")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``90``, ``30s``, ``30m``, ``12h``, ``7d`` or ``2w``.

    Raises :class:`argparse.ArgumentTypeError`, so argparse reports a bad
    value as a usage error.
    """
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        import argparse

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
        import argparse

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


def format_duration(seconds: float) -> str:
    """A duration as :func:`parse_duration` reads it: ``1h``, ``30m``, ``90s``, ``2d``."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def format_clock(timestamp: float, now: float | None = None) -> str:
    """A moment in local time: ``14:05`` today, ``2026-12-02 14:05`` on another day."""
    moment = time.localtime(timestamp)
    today = time.localtime(time.time() if now is None else now)
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M", moment)
    return time.strftime("%Y-%m-%d %H:%M", moment)


def iso_utc(timestamp: float) -> str:
    """*timestamp* (seconds since the epoch) in ISO 8601, UTC, to the second."""
    from datetime import datetime, timezone

    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
