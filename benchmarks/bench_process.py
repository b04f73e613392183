"""5. Whole process: ``wheelcache build SDIST`` on a warm hit, pip, and import time.

Every figure is the wall time of a fresh process, interleaved round by round:

* ``python -c pass``: the interpreter's own start-up, the floor of any command;
* ``python -c "import wheelcache"``: start-up plus importing the library;
* ``wheelcache build SDIST`` with the wheel already cached (``python -m
  wheelcache`` when no console script is installed): hash the sdist, look it
  up, print the path;
* ``wheelcache build PROJECT`` with the wheel already cached: fingerprint the
  project directory (the sdist's contents, unpacked), look it up, print the
  path;
* ``pip wheel --no-deps --no-index`` with a warm pip cache, given the sdist as
  ``name @ file://...`` (with a bare path pip cannot know the project's name
  before building, so it never consults its cache and builds again; that case
  is measured too).

The sdist has an in-tree build backend with no requirements, so nothing is
downloaded. ``-X importtime`` lists the modules that cost the most to import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from _wheels import make_sdist

if TYPE_CHECKING:
    from _harness import Context

SECTION = "5. whole process (ms per command)"


def _wheelcache_command(ctx: Context) -> list[str]:
    script = Path(ctx.python).with_name("wheelcache")
    if script.exists():
        return [str(script)]
    return [ctx.python, "-m", "wheelcache"]


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=600)


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        check=False,
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{argv} exited with {result.returncode}")
    return elapsed


def import_profile(ctx: Context, top: int = 10) -> list[str]:
    """The modules with the largest cumulative import time under ``import wheelcache``."""
    result = _run([ctx.python, "-X", "importtime", "-c", "import wheelcache"], ctx.env)
    rows = []
    for line in result.stderr.splitlines():
        # "import time:   self [us] | cumulative | imported package"
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line[len("import time:") :].split("|", 2)
        rows.append((int(cumulative), int(own), name.strip()))
    rows.sort(reverse=True)
    return [
        f"{name}: {cum / 1000:.1f} ms cumulative, {own / 1000:.1f} ms own"
        for cum, own, name in rows[:top]
    ]


def _stdlib_modules_of_import(ctx: Context, env: dict[str, str]) -> list[str]:
    """The public standard-library modules that ``import wheelcache`` loads."""
    probe = (
        "import sys; before = set(sys.modules); import wheelcache; "
        "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    loaded = _run([ctx.python, "-c", probe], env).stdout.split()
    return [name for name in loaded if not name.startswith("_") and name in sys.stdlib_module_names]


def _unpacked(sdist: Path, directory: Path) -> Path:
    """The project inside *sdist*, unpacked below *directory*, older than the racy window.

    A tree's fingerprint also hashes the contents of files changed within the
    last few seconds (docs/design.md §8); a project edited just now would not
    be a plain warm hit.
    """
    import tarfile

    with tarfile.open(sdist) as archive:
        archive.extractall(directory, filter="data")
    (project,) = directory.iterdir()
    past = time.time() - 60
    for path in [project, *project.rglob("*")]:
        os.utime(path, (past, past))
    time.sleep(3.5)  # ctimes cannot be set back: wait them out
    return project


def run(ctx: Context) -> None:
    report = ctx.report
    root = ctx.scratch("process")
    env = dict(ctx.env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # .pyc files must be written and used
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    sdist = make_sdist(root / "sdist")
    cache_dir = root / "wheelcache"
    pip_cache = root / "pip-cache"
    pip_out = root / "pip-out"
    wheelcache = _wheelcache_command(ctx)
    build = [*wheelcache, "--cache-dir", str(cache_dir), "build", str(sdist)]
    project = _unpacked(sdist, root / "project")
    build_project = [*wheelcache, "--cache-dir", str(cache_dir), "build", str(project)]

    available = _run([*wheelcache, "build", "--help"], env)
    cold = _run(build, env) if available.returncode == 0 else available
    stdlib = _stdlib_modules_of_import(ctx, env)
    preload = "import " + ", ".join(stdlib)
    commands: dict[str, list[str]] = {
        "python -c pass": [ctx.python, "-c", "pass"],
        "python -c 'import wheelcache'": [ctx.python, "-c", "import wheelcache"],
    }
    cli = cold.returncode == 0 and cold.stdout.strip().endswith(".whl")
    if cli and _run(build_project, env).returncode == 0:
        commands["wheelcache build SDIST (warm hit)"] = build
        commands["wheelcache build PROJECT (warm hit)"] = build_project
    else:
        reason = (cold.stderr.strip().splitlines() or ["no output"])[-1]
        report.status(SECTION, "partly available", f"wheelcache build: not available ({reason})")
    pip = [
        ctx.python,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-index",
        "--disable-pip-version-check",
        "--cache-dir",
        str(pip_cache),
        "-w",
        str(pip_out),
    ]
    named = [*pip, f"benchdemo @ {sdist.resolve().as_uri()}"]
    warm = _run(named, env)  # fills pip's cache
    if warm.returncode == 0:
        check = _run(named, env)
        assert "Using cached" in check.stdout + check.stderr, "pip's cache must hit"
        commands["pip wheel --no-deps 'name @ file://SDIST' (warm cache)"] = named
        commands["pip wheel --no-deps SDIST (bare path: rebuilds)"] = [*pip, str(sdist)]

    rounds = ctx.pick(3, 15)
    times: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for _ in range(2):  # warm the page cache and .pyc files
        for name in names:
            _timed(commands[name], env)
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(_timed(commands[name], env))
            if name.startswith("pip wheel"):
                shutil.rmtree(pip_out, ignore_errors=True)
    for name, values in times.items():
        report.figure(SECTION, name, values, "ms", scale=1e3)
    base = times["python -c pass"]
    imports = [a - b for a, b in zip(times["python -c 'import wheelcache'"], base)]
    report.figure(
        SECTION, "import wheelcache (difference of the two above)", imports, "ms", scale=1e3
    )
    # Process wall times on this kind of machine move in steps of a few ms,
    # too coarse for this difference, so it is timed inside the process.
    timed_import = (
        f"{preload}; import time; started = time.perf_counter(); import wheelcache; "
        "print(time.perf_counter() - started)"
    )
    own = [float(_run([ctx.python, "-c", timed_import], env).stdout) for _ in range(rounds)]
    report.figure(
        SECTION,
        "import wheelcache after the standard modules it uses (timed in-process)",
        own,
        "ms",
        scale=1e3,
        note="what an installer that already loaded them pays",
    )
    if cli:
        hit = times["wheelcache build SDIST (warm hit)"]
        report.ratio(SECTION, "wheelcache build SDIST (warm) / python -c pass", hit, base)
        report.ratio(
            SECTION,
            "wheelcache build PROJECT (warm) / python -c pass",
            times["wheelcache build PROJECT (warm hit)"],
            base,
        )
        pip_key = "pip wheel --no-deps 'name @ file://SDIST' (warm cache)"
        if pip_key in times:
            report.ratio(
                SECTION, "pip wheel (warm cache) / wheelcache build (warm)", times[pip_key], hit
            )
            report.ratio(
                SECTION,
                "pip wheel (bare path) / wheelcache build (warm)",
                times["pip wheel --no-deps SDIST (bare path: rebuilds)"],
                hit,
            )
    report.ratio(
        SECTION,
        "python -c 'import wheelcache' / python -c pass",
        times["python -c 'import wheelcache'"],
        base,
    )
    details = {
        "import profile": "; ".join(import_profile(ctx, 8)),
        "STDLIB": " ".join(stdlib),
    }
    if cli:
        details["wheelcache command"] = " ".join(
            Path(a).name if os.sep in a else a for a in wheelcache
        )
    report.sections.setdefault(SECTION, {"state": "ran", "detail": "", "details": {}})
    report.sections[SECTION]["details"].update(details)
