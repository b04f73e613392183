"""Timing, results and tables shared by every benchmark section.

A *figure* is a quantity measured repeatedly (one value per round) and
summarised by its median and spread. A *ratio* divides two figures measured in
the same rounds, round by round, so that a burst of noise on this shared
machine moves both sides of a comparison together; the ratio's own median and
spread are what the tables and the targets use.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _stats import Summary, paired_ratios, summarize

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "Context",
    "Figure",
    "Ratio",
    "Report",
    "drop_dirty_pages",
    "interleaved",
    "machine_info",
    "per_call",
]


# -- timing ------------------------------------------------------------------------


def per_call(
    function: Callable[[], object], number: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Seconds per call of *function*, over *number* back-to-back calls (GC paused).

    *clock* is wall time by default; ``time.process_time`` (this process's CPU
    time, user + system) suits work that never waits, on a busy machine.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        started = clock()
        for _ in range(number):
            function()
        elapsed = clock() - started
    finally:
        if enabled:
            gc.enable()
    return elapsed / number


def interleaved(
    cases: dict[str, tuple[Callable[[], object], int]],
    *,
    rounds: int,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Time every case once per round, rotating the order; return seconds per call per round.

    ``cases`` maps a name to (function, calls per round). Because every case
    runs in every round, ratios of two cases can be taken round by round.
    """
    names = list(cases)
    results: dict[str, list[float]] = {name: [] for name in names}
    for index in range(warmup + rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            function, number = cases[name]
            seconds = per_call(function, number, clock)
            if index >= warmup:
                results[name].append(seconds)
    return results


def drop_dirty_pages() -> None:
    """Write back every dirty page now, so the next timed fsync pays only for its own bytes."""
    if hasattr(os, "sync"):
        os.sync()


# -- results -----------------------------------------------------------------------


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


@dataclass
class Figure:
    """One measured quantity: a summary of its per-round values."""

    section: str
    name: str
    unit: str
    summary: Summary
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "name": self.name,
            "unit": self.unit,
            **self.summary.as_json(),
            "note": self.note,
        }


@dataclass
class Ratio:
    """A ratio of two figures taken round by round, optionally checked against a target.

    ``target`` is (operator, bound): (">=", 20.0) means "at least 20x".
    """

    section: str
    name: str
    summary: Summary
    target: tuple[str, float] | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None or math.isnan(self.summary.median):
            return None
        operator, bound = self.target
        value = self.summary.median
        return value >= bound if operator == ">=" else value <= bound

    @property
    def target_text(self) -> str:
        if self.target is None:
            return ""
        operator, bound = self.target
        return f"{'≥' if operator == '>=' else '≤'} {bound:g}"

    def as_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "name": self.name,
            **self.summary.as_json(),
            "target": None
            if self.target is None
            else {"op": self.target[0], "value": self.target[1]},
            "met": self.met,
            "note": self.note,
        }


@dataclass
class Report:
    """Every figure and ratio of a run, printed as they arrive and saved as JSON."""

    machine: dict[str, Any]
    settings: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def figure(
        self,
        section: str,
        name: str,
        values: Sequence[float],
        unit: str,
        *,
        scale: float = 1.0,
        note: str = "",
    ) -> Figure:
        """Record a figure from raw per-round values (multiplied by *scale* for *unit*)."""
        item = Figure(section, name, unit, summarize(values).scaled(scale), note)
        self.figures.append(item)
        return item

    def ratio(
        self,
        section: str,
        name: str,
        numerators: Sequence[float],
        denominators: Sequence[float],
        *,
        target: tuple[str, float] | None = None,
        note: str = "",
    ) -> Ratio:
        """Record numerator/denominator, taken round by round."""
        item = Ratio(
            section, name, summarize(paired_ratios(numerators, denominators)), target, note
        )
        self.ratios.append(item)
        return item

    def status(self, section: str, state: str, detail: str = "", **details: Any) -> None:
        """Record how a section ended ("ran", "not available", "failed"), why, and its facts."""
        self.sections[section] = {"state": state, "detail": detail, "details": details}

    # -- output ------------------------------------------------------------------

    def table(self, section: str | None = None) -> str:
        """The figures and ratios (of one section, or all) as aligned plain text."""
        lines: list[str] = []
        sections = (
            [section]
            if section
            else list(
                dict.fromkeys(
                    [f.section for f in self.figures]
                    + [r.section for r in self.ratios]
                    + list(self.sections)
                )
            )
        )
        for name in sections:
            figures = [f for f in self.figures if f.section == name]
            ratios = [r for r in self.ratios if r.section == name]
            state = self.sections.get(name, {})
            lines.append(f"== {name} ==")
            if state.get("state") not in (None, "ran"):
                lines.append(f"   {state['state']}: {state.get('detail', '')}")
            for key, value in state.get("details", {}).items():
                lines.append(f"   {key}: {value}")
            if figures:
                width = max(len(f.name) for f in figures)
                heads = "".join(f"  {h:>9}" for h in ("median", "p25", "p75", "min"))
                lines.append(f"   {'figure':<{width}}{heads}  {'n':>3}  unit")
                for f in figures:
                    s = f.summary
                    lines.append(
                        f"   {f.name:<{width}}"
                        + "".join(f"  {_fmt(v):>9}" for v in (s.median, s.p25, s.p75, s.min))
                        + f"  {s.n:>3}  {f.unit}"
                        + (f"   ({f.note})" if f.note else "")
                    )
            if ratios:
                width = max(len(r.name) for r in ratios)
                heads = "".join(f"  {h:>8}" for h in ("median", "p25", "p75"))
                lines.append(f"   {'ratio (same rounds)':<{width}}{heads}  {'target':>7}  met")
                for r in ratios:
                    s = r.summary
                    met = {True: "yes", False: "NO", None: ""}[r.met]
                    lines.append(
                        f"   {r.name:<{width}}  {_fmt(s.median) + 'x':>8}  {_fmt(s.p25) + 'x':>8}"
                        f"  {_fmt(s.p75) + 'x':>8}  {r.target_text:>7}  {met}"
                        + (f"   ({r.note})" if r.note else "")
                    )
            lines.append("")
        return "\n".join(lines)

    def targets(self) -> str:
        """One line per target: met or missed, with the figure."""
        lines = ["== targets =="]
        for r in self.ratios:
            if r.target is None:
                continue
            verdict = "met   " if r.met else "MISSED"
            figure = f"{_fmt(r.summary.median)}x"
            lines.append(f"   {verdict} {r.section}: {r.name} = {figure} (target {r.target_text})")
        return "\n".join(lines)

    def markdown(self) -> str:
        """The figures and ratios as Markdown tables, one pair per section."""
        lines: list[str] = []
        sections = list(
            dict.fromkeys(
                [f.section for f in self.figures]
                + [r.section for r in self.ratios]
                + list(self.sections)
            )
        )
        for name in sections:
            lines += [f"### {name}", ""]
            state = self.sections.get(name, {})
            if state.get("state") not in (None, "ran"):
                lines += [f"*{state['state']}: {state.get('detail', '')}*", ""]
            figures = [f for f in self.figures if f.section == name]
            if figures:
                lines += [
                    "| figure | median | p25 to p75 | min | n | unit |",
                    "|---|--:|--:|--:|--:|---|",
                ]
                for f in figures:
                    s = f.summary
                    lines.append(
                        f"| {f.name} | {_fmt(s.median)} | {_fmt(s.p25)} to {_fmt(s.p75)}"
                        f" | {_fmt(s.min)} | {s.n} | {f.unit} |"
                    )
                lines.append("")
            ratios = [r for r in self.ratios if r.section == name]
            if ratios:
                lines += [
                    "| ratio (same rounds) | median | p25 to p75 | target | met |",
                    "|---|--:|--:|--:|---|",
                ]
                for r in ratios:
                    s = r.summary
                    met = {True: "yes", False: "**no**", None: ""}[r.met]
                    lines.append(
                        f"| {r.name} | {_fmt(s.median)}x | {_fmt(s.p25)}x to {_fmt(s.p75)}x"
                        f" | {r.target_text} | {met} |"
                    )
                lines.append("")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "settings": self.settings,
            "sections": self.sections,
            "figures": [f.as_json() for f in self.figures],
            "ratios": [r.as_json() for r in self.ratios],
        }

    def save(self, path: Path) -> None:
        """Write the JSON report atomically (temp file beside it, then replace)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temp.write_text(
            json.dumps(self.as_json(), indent=2, allow_nan=True) + "\n", encoding="utf-8"
        )
        os.replace(temp, path)


@dataclass
class Context:
    """What a section needs: the run's mode, a scratch area and the report."""

    quick: bool
    workdir: Path
    report: Report
    repo: Path
    python: str = sys.executable
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    _counter: int = 0

    def scratch(self, name: str) -> Path:
        """A new empty directory below the work directory."""
        self._counter += 1
        path = self.workdir / f"{self._counter:02d}-{name}"
        path.mkdir(parents=True)
        return path

    def pick(self, quick: Any, full: Any) -> Any:
        """The quick-mode value or the full-run value."""
        return quick if self.quick else full


# -- the machine -------------------------------------------------------------------


def _command(*argv: str) -> str:
    if shutil.which(argv[0]) is None:
        return ""
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=20, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _version_of(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _revision(package: Path) -> str:
    """The git commit of the checkout the library was imported from ("+dirty" if src/ changed)."""
    commit = _command("git", "-C", str(package), "rev-parse", "--short", "HEAD")
    if not commit:
        return "unknown"
    changed = _command("git", "-C", str(package), "status", "--porcelain", "--", str(package))
    return commit + ("+dirty" if changed else "")


def machine_info(workdir: Path) -> dict[str, Any]:
    """What the figures were measured on: CPUs, kernel, filesystem, Python, packages."""
    import wheelcache

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lscpu = _command("lscpu")
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in lscpu.splitlines()
            if line.startswith("Model name")
        ),
        platform.processor(),
    )
    df = _command("df", "-T", str(workdir)).splitlines()
    filesystem = df[-1].split()[1] if len(df) >= 2 and len(df[-1].split()) > 1 else "unknown"
    return {
        "cpus": affinity,
        "cpu_model": cpu_model,
        "lscpu_head": "\n".join(lscpu.splitlines()[:10]),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "filesystem": filesystem,
        "df": "\n".join(df),
        "workdir": str(workdir),
        "wheelcache": getattr(wheelcache, "__version__", "?"),
        "wheelcache_revision": _revision(Path(wheelcache.__file__).parent),
        "wheelcache_path": str(Path(wheelcache.__file__).parent),
        "pip": _version_of("pip"),
        "packaging": _version_of("packaging"),
        "filelock": _version_of("filelock"),
        "platformdirs": _version_of("platformdirs"),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
