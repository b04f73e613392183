"""``wheelcache prune``, ``remove`` and ``clean`` as users run them: a separate process each.

What the commands promise: a limit frees what the grace contract allows in
one run and says what must wait, and until when; ``remove PATTERN`` forgets
the sources a glob matches (exit 1 when none does); ``clean`` says what it
emptied; ``--dry-run`` changes nothing; ``--json`` prints one object.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING

import pytest

from ondisk import DAY, HOUR, age, flip_a_byte
from procs import run_command
from wheelcache import Source, WheelCache
from wheelcache._cli.units import format_clock
from wheelcache._layout import Layout
from wheelfactory import make_wheel

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("hermetic_children")

DEADLINE = 60.0


def wheelcache(*argv: str) -> subprocess.CompletedProcess[str]:
    return run_command([sys.executable, "-m", "wheelcache", *argv], DEADLINE)


@pytest.fixture
def cache(tmp_path: Path) -> WheelCache:
    return WheelCache(tmp_path / "cache")  # the hermetic children's $WHEELCACHE_DIR


def add(cache: WheelCache, tmp_path: Path, source: Source, seed: int, used: float) -> Path:
    """Add a ~20 kB wheel for *source*, last used and freshened *used* seconds ago."""
    name = source.name or "demo"
    wheel = make_wheel(tmp_path / f"w{seed}", name, "1.0", seed=seed, payload_size=20_000)
    added = cache.add(source, wheel)
    age(added.path, used)
    age(Layout(cache.root).pointer_file(source.digest), used)
    return added.path


def test_prune_max_size_frees_idle_sources_now_and_says_when_the_rest_can_go(
    cache: WheelCache, tmp_path: Path
) -> None:
    idle = add(cache, tmp_path, Source("/p/idle", "", "idle"), 1, DAY)
    recent = add(cache, tmp_path, Source("/p/recent", "", "recent"), 2, HOUR / 2)
    kept = add(cache, tmp_path, Source("/p/kept", "", "kept"), 3, 60)

    before = time.time()
    result = wheelcache("prune", "--max-size", "25K")
    after = time.time()

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Removed 1 wheel (")
    assert "Retired 2 sources." in lines
    size = recent.stat().st_size / 1000
    assert lines[-1] in {
        f"{size:.1f} kB more becomes removable after {clock(moment + HOUR)} (grace 1h)."
        for moment in (before, after)
    }
    assert not idle.exists()
    assert recent.exists()
    assert kept.exists()


def clock(moment: float) -> str:
    """How the command shows *moment*, an hour from now (it adds the date after midnight)."""
    return format_clock(moment, now=moment - HOUR)


def test_prune_json_reports_what_waits_and_until_when(cache: WheelCache, tmp_path: Path) -> None:
    recent = add(cache, tmp_path, Source("/p/recent", "", "recent"), 2, HOUR / 2)

    result = wheelcache("prune", "--max-age", "1m", "--json")

    report = json.loads(result.stdout)
    assert report["retired_sources"] == ["/p/recent"]
    assert (report["waiting_entries"], report["waiting_bytes"]) == (1, recent.stat().st_size)
    assert report["waiting_until_timestamp"] == pytest.approx(time.time() + HOUR, abs=120)
    assert report["waiting_until"].endswith("Z")
    assert report["grace"] == HOUR


def test_remove_forgets_sources_by_project_name_sdist_file_or_directory(
    cache: WheelCache, tmp_path: Path
) -> None:
    by_name = add(cache, tmp_path, Source("/p/a", "", "Django_Extras"), 1, DAY)
    by_file = add(
        cache, tmp_path, Source("sha256:" + "1" * 64, "", "six", "six-1.17.0.tar.gz"), 2, DAY
    )
    project = tmp_path / "proj"
    by_directory = add(cache, tmp_path, Source(str(project), "", "proj"), 3, DAY)
    other = add(cache, tmp_path, Source("/p/other", "", "other"), 4, DAY)

    size = sum(p.stat().st_size for p in (by_name, by_file, by_directory))

    result = wheelcache("remove", "django-*", "six-1.17*.tar.gz", str(project))

    assert result.returncode == 0, result.stderr
    retired, removed = result.stdout.splitlines()[:2]
    assert retired.startswith("Retired 3 sources: ")
    assert set(retired[len("Retired 3 sources: ") : -1].split(", ")) == {
        "/p/a",
        "sha256:" + "1" * 12 + "...",
        str(project),
    }
    assert removed == f"Removed 3 wheels ({size / 1000:.1f} kB)."
    assert not any(p.exists() for p in (by_name, by_file, by_directory))
    assert other.exists()
    assert [r.key for r in cache.sources()] == ["/p/other"]


def test_remove_matches_a_relative_directory(
    cache: WheelCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    add(cache, tmp_path, Source(str(project), "", "proj"), 1, DAY)
    monkeypatch.chdir(project)

    result = wheelcache("remove", ".")

    assert result.returncode == 0, result.stderr
    assert list(cache.sources()) == []


def test_remove_of_a_recently_used_source_keeps_its_wheel_for_grace_and_says_so(
    cache: WheelCache, tmp_path: Path
) -> None:
    recent = add(cache, tmp_path, Source("/p/recent", "", "recent"), 1, 60)

    result = wheelcache("remove", "recent", "--json")

    report = json.loads(result.stdout)
    assert result.returncode == 0
    assert (report["retired_sources"], report["removed_entries"]) == (["/p/recent"], 0)
    assert report["waiting_entries"] == 1
    assert recent.exists()


def test_remove_keeps_a_wheel_another_source_names(cache: WheelCache, tmp_path: Path) -> None:
    shared = add(cache, tmp_path, Source("/p/one", "", "demo"), 1, DAY)
    cache.add(
        Source("/p/two", "", "other"),
        make_wheel(tmp_path / "w1", "demo", "1.0", seed=1, payload_size=20_000),
    )

    result = wheelcache("remove", "demo")

    assert result.returncode == 0, result.stderr
    assert "Kept 1 wheel other sources name" in result.stdout
    assert shared.exists()


def test_remove_dry_run_changes_nothing(cache: WheelCache, tmp_path: Path) -> None:
    wheel = add(cache, tmp_path, Source("/p/a", "", "alpha"), 1, DAY)

    result = wheelcache("remove", "alpha", "--dry-run")

    assert result.returncode == 0
    assert result.stdout.splitlines()[:2] == [
        "Would retire 1 source: /p/a.",
        f"Would remove 1 wheel ({wheel.stat().st_size / 1000:.1f} kB).",
    ]
    assert wheel.exists()
    assert [r.key for r in cache.sources()] == ["/p/a"]


def test_remove_exits_1_when_nothing_matches(cache: WheelCache, tmp_path: Path) -> None:
    add(cache, tmp_path, Source("/p/a", "", "alpha"), 1, DAY)

    result = wheelcache("remove", "beta*")

    assert (result.returncode, result.stdout) == (1, "No cached source matches 'beta*'.\n")
    assert [r.key for r in cache.sources()] == ["/p/a"]


def test_clean_reports_what_it_emptied_quarantine_included(
    cache: WheelCache, tmp_path: Path
) -> None:
    first = add(cache, tmp_path, Source("/p/a", "", "alpha"), 1, 0)
    second = add(cache, tmp_path, Source("/p/b", "", "beta"), 2, 0)
    quarantine = Layout(cache.root).quarantine
    quarantine.mkdir()
    (quarantine / "pointer-x.json").write_bytes(b"{")
    size = first.stat().st_size + second.stat().st_size

    dry = wheelcache("clean", "--dry-run", "--json")
    assert first.exists()
    real = wheelcache("clean", "--json")

    for result in (dry, real):
        report = json.loads(result.stdout)
        assert (report["removed_entries"], report["removed_sources"]) == (2, 2)
        assert report["removed_quarantine"] == 1
        assert report["freed_bytes"] > size
    assert json.loads(dry.stdout)["dry_run"] is True
    assert not first.exists()
    assert not quarantine.exists()


def test_clean_text_says_what_went(cache: WheelCache, tmp_path: Path) -> None:
    add(cache, tmp_path, Source("/p/a", "", "alpha"), 1, 0)

    result = wheelcache("clean", "--dry-run")

    assert result.returncode == 0
    assert result.stdout.startswith("Would remove 1 wheel, 1 source and 0 quarantined items (")
    assert os.listdir(Layout(cache.root).wheels)


def test_verify_reports_a_corrupt_wheel_once_naming_the_sources_that_point_at_it(
    cache: WheelCache, tmp_path: Path
) -> None:
    wheel = add(cache, tmp_path, Source("/p/a", "", "alpha"), 1, 0)
    flip_a_byte(wheel)

    result = wheelcache("verify")

    assert result.returncode == 1
    problem, summary, advice = result.stdout.splitlines()
    assert problem.startswith(f"corrupt wheel: {wheel.parent}: content hashes to ")
    assert problem.endswith(", not to its name (named by 1 source: /p/a)")
    assert summary.endswith(": 1 problem found.")
    assert advice.startswith("Run 'wheelcache verify --repair'")
    assert json.loads(wheelcache("verify", "--json").stdout)["corrupt"][0]["sources"] == ["/p/a"]


# -- list ----------------------------------------------------------------------------------


def add_sdist_wheel(cache: WheelCache, tmp_path: Path) -> Path:
    """six 1.17.0, added from its sdist; the cached wheel's path."""
    archive = tmp_path / "six-1.17.0.tar.gz"
    archive.write_bytes(b"not really an sdist, but hashed as one")
    wheel = make_wheel(tmp_path / "w", "six", "1.17.0", "py2.py3-none-any")
    return cache.add(Source.from_archive(archive), wheel).path


def test_list_shows_the_sdist_file_name_of_a_source_added_from_an_archive(
    cache: WheelCache, tmp_path: Path
) -> None:
    add_sdist_wheel(cache, tmp_path)

    result = wheelcache("list")
    as_json = json.loads(wheelcache("list", "--json").stdout)

    assert result.stdout.splitlines()[1].endswith("  six-1.17.0.tar.gz")
    assert as_json["wheels"][0]["source_file"] == "six-1.17.0.tar.gz"
    assert as_json["wheels"][0]["source"].startswith("sha256:")


@pytest.mark.parametrize(
    "pattern",
    ["six", "SIX", "six-1.17.0", "1.17.*", "six-1.17.0-py2.py3-none-any.whl", "six-*.tar.gz"],
)
def test_list_pattern_matches_name_version_and_file_names(
    cache: WheelCache, tmp_path: Path, pattern: str
) -> None:
    add_sdist_wheel(cache, tmp_path)
    add(cache, tmp_path, Source("/p/other", "", "other"), 1, 0)

    result = wheelcache("list", pattern, "--json")

    assert [w["name"] for w in json.loads(result.stdout)["wheels"]] == ["six"]


def test_list_format_path_prints_one_wheel_path_per_line(cache: WheelCache, tmp_path: Path) -> None:
    six = add_sdist_wheel(cache, tmp_path)
    other = add(cache, tmp_path, Source("/p/other", "", "other"), 1, 0)
    cache.add(
        Source("/p/again", "", "other"),
        make_wheel(tmp_path / "w1", "other", "1.0", seed=1, payload_size=20_000),
    )

    result = wheelcache("list", "--format", "path")

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [str(other), str(six)], "each wheel once"
