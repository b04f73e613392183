"""What a tree's freshness covers: the entries both fingerprints skip.

One set of rules for :func:`~wheelcache._tree.fingerprint.fingerprint_tree`
(the local freshness, from the tree's bytes) and
:func:`~wheelcache._tree.gitfresh.git_freshness` (the remote freshness, from
git's blob ids): VCS data, caches, tool environments and metadata are
skipped at any depth, build outputs beside a project file, virtualenvs under
any name, and compiled ``.pyc``/``.pyo`` files. What is skipped, and why, is
listed in the fingerprint module's docstring.
"""

from __future__ import annotations

import os

__all__ = [
    "BUILD_OUTPUT_DIR_NAMES",
    "IGNORED_DIR_NAMES",
    "PROJECT_FILES",
    "VENV_MARKER",
    "skipped_dir",
    "skipped_file",
]

#: Directory names skipped at any depth: VCS data (.git .hg .svn .bzr .jj),
#: caches (__pycache__ .mypy_cache .pytest_cache .ruff_cache .hypothesis),
#: tool environments (.tox .nox .venv .eggs node_modules). Also skipped: names
#: ending in ".egg-info" and any directory containing a ``pyvenv.cfg``, which
#: is how a virtualenv named ``venv`` (a valid package name) is recognised.
IGNORED_DIR_NAMES: frozenset[str] = frozenset(
    {
        ".git", ".hg", ".svn", ".bzr", ".jj",
        "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis",
        ".tox", ".nox", ".venv", ".eggs", "node_modules",
    }
)  # fmt: skip

#: Build output directories, skipped in the root and beside a project file.
BUILD_OUTPUT_DIR_NAMES: frozenset[str] = frozenset({"build", "dist"})

#: A directory holding one of these is a project: its build outputs are skipped.
PROJECT_FILES = frozenset({b"pyproject.toml", b"setup.py", b"setup.cfg"})

#: A directory holding this file is a virtualenv, skipped whatever its name.
VENV_MARKER = b"pyvenv.cfg"

_IGNORED = frozenset(os.fsencode(name) for name in IGNORED_DIR_NAMES)
_BUILD_OUTPUTS = frozenset(os.fsencode(name) for name in BUILD_OUTPUT_DIR_NAMES)


def skipped_dir(name: bytes, is_project: bool) -> bool:
    """Tell whether a directory called name is ignored (in a project directory or not)."""
    if name in _IGNORED or name.endswith(b".egg-info"):
        return True
    return is_project and name in _BUILD_OUTPUTS


def skipped_file(name: bytes) -> bool:
    """Tell whether a file (or symlink) called name is ignored: compiled bytecode."""
    return name.endswith((b".pyc", b".pyo"))
