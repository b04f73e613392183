"""Count the builds of two test sessions run a few seconds apart (run by hand, not by pytest).

    python benchmarks/rebuilds_after_edit.py [--pause 4] [--workers 2]

The scenario of issue 18: a pytest-xdist run whose session fixture builds the
projects under test through the cache. Two projects are written (as by a
fresh checkout), one of them is then edited, and a first session runs at
once: each of its worker processes fingerprints both projects and calls
``get_or_build``. A second, identical session runs ``--pause`` seconds later,
with nothing touched in between. The script prints how many builds each
session made: the second session should make none.

It uses the wheelcache it imports (``PYTHONPATH=src`` for this checkout, or
another checkout's ``src`` to compare).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

WORKER = """
import os, sys, inspect
from pathlib import Path
sys.path.insert(0, {here!r})
from _wheels import make_wheel
from wheelcache import Source, WheelCache

cache = WheelCache({root!r})
log = Path({log!r})
for project in {projects!r}:
    name = Path(project).name
    if "cache" in inspect.signature(Source.from_tree).parameters:
        source = Source.from_tree(project, cache=cache)
    else:  # a wheelcache from before the stat cache
        source = Source.from_tree(project)

    def build(output, name=name):
        with open(log, "a") as file:
            file.write(f"{{os.getpid()}} {{name}}\\n")
        make_wheel(output, name)

    cache.get_or_build(source, build)
"""


def write_project(root: Path, name: str, files: int = 50) -> None:
    """Write a small project, as a checkout would."""
    (root / "src" / name).mkdir(parents=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "1"\n')
    for index in range(files):
        (root / "src" / name / f"m{index}.py").write_text(f"VALUE = {index}\n")


def session(code: str, workers: int) -> None:
    """Run one test session: *workers* processes at once, each running the fixture."""
    children = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(workers)]
    for child in children:
        if child.wait(timeout=120) != 0:
            raise SystemExit(f"a worker failed with exit status {child.returncode}")


def builds(log: Path) -> list[str]:
    try:
        return log.read_text().split("\n")[:-1]
    except FileNotFoundError:
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pause", type=float, default=4.0, help="seconds between the sessions")
    parser.add_argument("--workers", type=int, default=2, help="processes per session (xdist -n)")
    args = parser.parse_args(argv)
    import wheelcache

    print(f"wheelcache from {Path(wheelcache.__file__).parent}")
    with tempfile.TemporaryDirectory() as temp:
        base = Path(temp)
        projects = [base / "edited", base / "untouched"]
        for project in projects:
            write_project(project, project.name)
        time.sleep(0.5)
        (projects[0] / "src" / "edited" / "m7.py").write_text("VALUE = 77\n")  # the edit
        log = base / "builds.log"
        code = WORKER.format(
            here=str(HERE),
            root=str(base / "cache"),
            log=str(log),
            projects=[str(p) for p in projects],
        )
        seen = 0
        for run in (1, 2):
            if run == 2:
                time.sleep(args.pause)
            started = time.monotonic()
            session(code, args.workers)
            done = builds(log)
            names = sorted(line.split()[1] for line in done[seen:])
            print(
                f"session {run} ({args.workers} workers, {time.monotonic() - started:.2f} s): "
                f"{len(done) - seen} builds {names}"
            )
            seen = len(done)
    return 0


if __name__ == "__main__":
    os.environ.pop("WHEELCACHE_DIR", None)
    raise SystemExit(main())
