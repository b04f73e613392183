"""Where the ``wheelcache`` command writes: results on stdout, progress on stderr.

A :class:`Console` is what every command writes through: lines, JSON and
aligned tables go to stdout; a :class:`ProgressLine` is redrawn in place on
stderr. Colour is used only on a terminal and never when ``NO_COLOR`` is set
(https://no-color.org); progress is drawn only on a terminal, on stderr.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

__all__ = ["Console", "ProgressLine", "render_table", "use_color"]


class Console:
    """Where a command's results (stdout) and progress (stderr) go."""

    # A plain class: importing dataclasses would slow down every warm hit.
    def __init__(self, out: TextIO, err: TextIO, verbosity: int) -> None:
        self.out = out
        self.err = err
        self.verbosity = verbosity

    def line(self, text: str = "") -> None:
        """Print one line of results."""
        self.out.write(text + "\n")

    def lines(self, texts: Sequence[str]) -> None:
        """Print lines of results."""
        for text in texts:
            self.line(text)

    def json(self, document: dict[str, Any]) -> None:
        """Print *document* as one JSON object."""
        import json

        self.out.write(json.dumps(document, indent=2) + "\n")

    def table(
        self, headers: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int]
    ) -> None:
        """Print *rows* in aligned columns under *headers* (bold on a terminal)."""
        self.lines(render_table(headers, rows, right=right, bold_header=use_color(self.out)))

    def progress(self) -> ProgressLine:
        """A progress line on stderr, drawn only on a terminal and not with ``-q``."""
        isatty = getattr(self.err, "isatty", None)
        return ProgressLine(self.err, enabled=self.verbosity >= 0 and bool(isatty and isatty()))


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
