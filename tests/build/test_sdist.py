"""Unpacking sdists safely: the project directory found, nothing written outside the destination."""

from __future__ import annotations

import io
import tarfile
import zipfile
from typing import TYPE_CHECKING

import pytest

from wheelcache import InvalidSourceError
from wheelcache._build.sdist import extract_sdist
from wheelfactory import make_sdist

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(params=["data-filter", "manual-checks"])
def extraction(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run tar tests with the standard library's filter and with the fallback checks."""
    if request.param == "data-filter" and not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile extraction filters")
    if request.param == "manual-checks":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return str(request.param)


def tar_with(path: Path, *members: tarfile.TarInfo, data: bytes = b"") -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for member in members:
            archive.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


def tar_member(
    name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = mode
    info.size = 0
    return info


def test_extract_sdist_finds_the_project_directory(extraction: str, tmp_path: Path) -> None:
    archive = make_sdist(
        tmp_path / "demo-1.0.tar.gz",
        {"demo-1.0/pyproject.toml": b"[project]\n", "demo-1.0/demo/__init__.py": b"X = 1\n"},
    )
    destination = tmp_path / "out"
    destination.mkdir()

    project = extract_sdist(archive, destination)

    assert project == destination / "demo-1.0"
    assert (project / "demo" / "__init__.py").read_bytes() == b"X = 1\n"


@pytest.mark.parametrize(
    "member",
    [
        tar_member("../evil.py"),
        tar_member("demo-1.0/../../evil.py"),
        tar_member("/tmp/evil.py"),
        tar_member("demo-1.0/link", tarfile.SYMTYPE, "../../outside"),
        tar_member("demo-1.0/link", tarfile.SYMTYPE, "/etc/passwd"),
        tar_member("demo-1.0/hard", tarfile.LNKTYPE, "/etc/passwd"),
        tar_member("demo-1.0/dev", tarfile.CHRTYPE),
    ],
    ids=[
        "parent",
        "nested-parent",
        "absolute",
        "symlink-out",
        "symlink-absolute",
        "hardlink",
        "device",
    ],
)
def test_extract_sdist_refuses_members_that_escape(
    extraction: str, tmp_path: Path, member: tarfile.TarInfo
) -> None:
    archive = tar_with(tmp_path / "evil-1.0.tar.gz", tar_member("demo-1.0/pyproject.toml"), member)
    destination = tmp_path / "deep" / "out"
    destination.mkdir(parents=True)

    with pytest.raises(InvalidSourceError) as caught:
        extract_sdist(archive, destination)

    assert caught.value.path == str(archive)
    assert not (tmp_path / "deep" / "evil.py").exists()
    assert not (tmp_path / "evil.py").exists()


def test_extract_sdist_manual_checks_keep_only_the_executable_bit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    archive = tar_with(
        tmp_path / "demo-1.0.tar.gz",
        tar_member("demo-1.0/pyproject.toml", mode=0o4777),
        tar_member("demo-1.0/run.sh", mode=0o775),
    )
    destination = tmp_path / "out"
    destination.mkdir()

    project = extract_sdist(archive, destination)

    assert (project / "pyproject.toml").stat().st_mode & 0o7777 == 0o755
    assert (project / "run.sh").stat().st_mode & 0o7777 == 0o755


def test_extract_sdist_zip(tmp_path: Path) -> None:
    archive = tmp_path / "demo-1.0.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("demo-1.0/setup.py", "from setuptools import setup\nsetup()\n")
        bundle.writestr("demo-1.0/demo/", "")
    destination = tmp_path / "out"
    destination.mkdir()

    project = extract_sdist(archive, destination)

    assert (project / "setup.py").is_file()
    assert (project / "demo").is_dir()


@pytest.mark.parametrize(
    "name", ["../evil.py", "/evil.py", "demo-1.0/..\\..\\evil.py", "C:/evil.py"]
)
def test_extract_sdist_zip_refuses_paths_that_escape(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "evil-1.0.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("demo-1.0/pyproject.toml", "")
        bundle.writestr(zipfile.ZipInfo(name), "boom")
    destination = tmp_path / "deep" / "out"
    destination.mkdir(parents=True)

    with pytest.raises(InvalidSourceError, match="unsafe path"):
        extract_sdist(archive, destination)

    assert not list(tmp_path.rglob("evil.py"))


def test_extract_sdist_zip_refuses_symlinks(tmp_path: Path) -> None:
    archive = tmp_path / "evil-1.0.zip"
    link = zipfile.ZipInfo("demo-1.0/link")
    link.external_attr = (0o120777) << 16
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("demo-1.0/pyproject.toml", "")
        bundle.writestr(link, "/etc/passwd")
    destination = tmp_path / "out"
    destination.mkdir()

    with pytest.raises(InvalidSourceError, match="link"):
        extract_sdist(archive, destination)


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
def test_extract_sdist_refuses_damaged_archives(tmp_path: Path, suffix: str) -> None:
    archive = tmp_path / f"demo-1.0{suffix}"
    archive.write_bytes(b"\x1f\x8b this is not really compressed")
    destination = tmp_path / "out"
    destination.mkdir()

    with pytest.raises(InvalidSourceError, match="cannot unpack the sdist"):
        extract_sdist(archive, destination)


def test_extract_sdist_refuses_an_archive_without_a_project(tmp_path: Path) -> None:
    archive = make_sdist(tmp_path / "demo-1.0.tar.gz", {"demo-1.0/README": b"hi"})
    destination = tmp_path / "out"
    destination.mkdir()

    with pytest.raises(InvalidSourceError, match=r"no pyproject\.toml or setup\.py"):
        extract_sdist(archive, destination)
