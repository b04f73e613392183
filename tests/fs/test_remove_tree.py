"""Deleting a tree that another process is deleting at the same time.

Two prunes on two hosts (whose prune locks do not exclude each other) can
reclaim the same dead workspace at once; each must finish without an error,
and the tree must be gone.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import TYPE_CHECKING

from procs import DEADLINE, SRC

if TYPE_CHECKING:
    from pathlib import Path

_REMOVER = """
import sys, time
from pathlib import Path
from wheelcache._fs.fsutil import remove_tree
tree, go = Path(sys.argv[1]), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
remove_tree(tree)
"""


def _tree(root: Path) -> Path:
    tree = root / "workspace"
    for number in range(200):
        directory = tree / f"d{number}" / "entry"
        directory.mkdir(parents=True)
        (directory / "file").write_bytes(b"x")
    return tree


def test_two_processes_removing_one_tree_both_succeed(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(SRC)}
    for round_ in range(3):
        tree = _tree(tmp_path / str(round_))
        go = tmp_path / f"go-{round_}"
        removers = [
            subprocess.Popen(
                [sys.executable, "-c", _REMOVER, str(tree), str(go)],
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(2)
        ]
        time.sleep(0.2)  # both started and polling
        go.touch()
        for remover in removers:
            _, err = remover.communicate(timeout=DEADLINE)
            assert remover.returncode == 0, err
        assert not tree.exists()
