"""Run wheelcache's benchmarks: print a table and write the results as JSON.

    python benchmarks/run.py              # the full run (about 10-15 minutes)
    python benchmarks/run.py --quick      # a smoke run (under a minute)
    python benchmarks/run.py --only hit   # one section

Sections: hit, publish, concurrency, gc, process, tree, remote, pytest, install, locks,
portable. See docs/benchmarks.md for what each figure means. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SECTIONS = (
    "hit",
    "publish",
    "concurrency",
    "gc",
    "process",
    "tree",
    "remote",
    "pytest",
    "install",
    "locks",
    "portable",
)


def _make_wheelcache_importable(env: dict[str, str]) -> None:
    """Import the installed wheelcache, else the one in this checkout's src/ (also for children)."""
    try:
        import wheelcache
    except ImportError:
        source = str(REPO / "src")
        sys.path.insert(0, source)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
        os.environ["PYTHONPATH"] = env["PYTHONPATH"]  # for multiprocessing children
        import wheelcache  # noqa: F401


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="few rounds and small sizes: a smoke run"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        metavar="SECTION",
        help=f"run only this section (repeatable): {', '.join(SECTIONS)}",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=HERE / "results.json",
        metavar="PATH",
        help="where to write the results (default: benchmarks/results.json)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="scratch directory (default: a new temp dir); its filesystem is measured",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument(
        "--markdown",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write the tables as Markdown (for docs/benchmarks.md)",
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        default=None,
        metavar="PATH",
        help="run nothing: print the tables of an earlier run's JSON",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sys.path.insert(0, str(HERE))
    if args.from_json is not None:
        return _replay(args)
    env = dict(os.environ)
    env.pop("WHEELCACHE_DIR", None)
    _make_wheelcache_importable(env)
    from _harness import Context, Report, machine_info

    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="wheelcache-bench-", dir=args.workdir))
    else:
        workdir = Path(tempfile.mkdtemp(prefix="wheelcache-bench-"))
    chosen = args.only or list(SECTIONS)
    report = Report(
        machine=machine_info(workdir),
        settings={"quick": args.quick, "sections": chosen, "argv": sys.argv[1:]},
    )
    context = Context(quick=args.quick, workdir=workdir, report=report, repo=REPO, env=env)
    machine = report.machine
    print(
        f"wheelcache {machine['wheelcache']} ({machine['wheelcache_path']}), pip {machine['pip']}, "
        f"Python {machine['python']}, {machine['cpus']} CPUs ({machine['cpu_model']}), "
        f"{machine['filesystem']} at {workdir}",
        flush=True,
    )
    failures = 0
    started = time.monotonic()
    try:
        for name in chosen:
            module = importlib.import_module(f"bench_{name}")
            began = time.monotonic()
            try:
                module.run(context)
            except Exception:  # one broken section must not lose the others' figures
                failures += 1
                report.status(
                    module.SECTION, "failed", traceback.format_exc().strip().splitlines()[-1]
                )
                traceback.print_exc()
            report.sections.setdefault(
                module.SECTION, {"state": "ran", "detail": "", "details": {}}
            )
            report.sections[module.SECTION]["seconds"] = round(time.monotonic() - began, 1)
            print(report.table(module.SECTION), flush=True)
            report.save(args.json)
    finally:
        if not args.keep:
            if shutil.which("rm"):  # much faster than shutil.rmtree on 100,000 entries
                subprocess.run(["rm", "-rf", str(workdir)], check=False)
            shutil.rmtree(workdir, ignore_errors=True)
    report.settings["seconds"] = round(time.monotonic() - started, 1)
    report.save(args.json)
    if args.markdown is not None:
        args.markdown.write_text(report.markdown() + "\n", encoding="utf-8")
    print(report.targets())
    print(f"\nresults written to {args.json} ({report.settings['seconds']:.0f} s)")
    return 1 if failures else 0


def _replay(args: argparse.Namespace) -> int:
    """Print (and optionally render as Markdown) the results saved by an earlier run."""
    import json

    from _harness import Figure, Ratio, Report
    from _stats import Summary

    saved = json.loads(args.from_json.read_text(encoding="utf-8"))
    report = Report(
        machine=saved["machine"], settings=saved["settings"], sections=saved["sections"]
    )

    def summary(item: dict) -> Summary:  # type: ignore[type-arg]
        return Summary(
            item["median"], item["p25"], item["p75"], item["min"], item["max"], item["n"]
        )

    for item in saved["figures"]:
        report.figures.append(
            Figure(item["section"], item["name"], item["unit"], summary(item), item["note"])
        )
    for item in saved["ratios"]:
        target = item["target"]
        report.ratios.append(
            Ratio(
                item["section"],
                item["name"],
                summary(item),
                None if target is None else (target["op"], target["value"]),
                item["note"],
            )
        )
    print(report.table())
    print(report.targets())
    if args.markdown is not None:
        args.markdown.write_text(report.markdown() + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
