"""The cache root: absolute from construction, and a directory or nothing (issue 12, item 8)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from wheelcache import CacheError, Source, WheelCache
from wheelcache._cli.main import main

if TYPE_CHECKING:
    from pathlib import Path


def test_a_relative_root_is_made_absolute_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: Source, wheel: Path
) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    cache = WheelCache("relative/cache")
    assert cache.root == tmp_path / "relative" / "cache"

    monkeypatch.chdir(tmp_path / "elsewhere")
    added = cache.add(source, wheel)

    assert added.path.is_absolute()
    assert added.path.is_relative_to(tmp_path / "relative" / "cache")
    assert cache.get(source) == added
    assert not (tmp_path / "elsewhere" / "relative").exists()


def test_a_relative_WHEELCACHE_DIR_is_made_absolute_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: Source, wheel: Path
) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WHEELCACHE_DIR", "from-env")
    cache = WheelCache()

    monkeypatch.chdir(tmp_path / "elsewhere")
    added = cache.add(source, wheel)

    assert cache.root == tmp_path / "from-env"
    assert added.path.is_relative_to(tmp_path / "from-env")


def test_a_root_that_is_a_file_is_an_error_for_the_library(tmp_path: Path) -> None:
    root = tmp_path / "a-file"
    root.write_text("not a cache")

    with pytest.raises(CacheError, match="exists and is not a directory"):
        WheelCache(root)


def test_a_root_that_becomes_a_file_is_an_error_for_every_scan(
    tmp_path: Path, source: Source, wheel: Path
) -> None:
    cache = WheelCache(tmp_path / "cache")
    (tmp_path / "cache").write_text("not a cache")

    for operation in (
        lambda: list(cache.sources()),
        lambda: list(cache.wheels()),
        cache.stats,
        cache.verify,
        cache.prune,
        cache.clean,
    ):
        with pytest.raises(CacheError, match="exists and is not a directory"):
            operation()
    assert cache.get(source) is None  # a lookup is a miss, as ever
    with pytest.raises(CacheError):
        cache.add(source, wheel)


@pytest.mark.parametrize(
    "command", [["info"], ["list"], ["verify"], ["prune"], ["clean"], ["dir"], ["info", "--json"]]
)
def test_a_root_that_is_a_file_is_an_error_for_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    root = tmp_path / "a-file"
    root.write_text("not a cache")

    status = main(["--cache-dir", str(root), *command])

    out, err = capsys.readouterr()
    assert status == 1
    assert "exists and is not a directory" in err
    assert out == ""
    assert root.read_text() == "not a cache"


def test_a_root_below_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")

    with pytest.raises(CacheError, match="a directory above it is a file"):
        WheelCache(tmp_path / "a-file" / "cache")
    assert os.path.isfile(tmp_path / "a-file")
