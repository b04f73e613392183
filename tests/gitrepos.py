"""Git checkouts for the tests of portable tree identities: a repository and its clones."""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["clone", "commit_all", "git", "make_repo"]

_IDENTITY = ("-c", "user.name=wheelcache tests", "-c", "user.email=tests@wheelcache.invalid")


def git(cwd: Path, *arguments: str) -> str:
    """Run git in cwd (the test fails if it does) and return its standard output."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    done = subprocess.run(
        ["git", *_IDENTITY, *arguments], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(arguments)}: {done.stderr}"
    return done.stdout


def commit_all(repo: Path, message: str = "commit") -> None:
    """Commit everything in the checkout at repo (ignored files stay out, as usual)."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)


def make_repo(repo: Path) -> Path:
    """Make repo (its files already written) a git repository with one commit."""
    git(repo, "init", "-q", "-b", "main", ".")
    commit_all(repo, "first")
    return repo


def clone(repo: Path, destination: Path) -> Path:
    """A clone of repo at destination: another checkout of the same commit."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    git(destination.parent, "clone", "-q", "--no-hardlinks", str(repo), destination.name)
    return destination
