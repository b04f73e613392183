"""Real processes fingerprinting one tree through one stat cache while another edits it.

Two children fingerprint the same tree in a loop, through the same stat cache
(each rewrites it when it reads a settled file), while a third rewrites files
in place -- same size, mtime put back, so only the ctime tells -- one after the
other. Every scan reports when it started and ended (``time.monotonic_ns``, one
clock for all processes). The children narrow the racy window to
:data:`WINDOW_NS` so files settle within the test; the parent never sleeps for
them, it only waits (bounded) for what it needs.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import procs
from wheelcache._tree.fingerprint import fingerprint_tree

WINDOW_NS = 200_000_000
"""The racy window of the children: far above the ctime tick of any Linux filesystem."""

EDITED = [f"pkg/m{index:03}.py" for index in (7, 93, 150)]


def _make_tree(root: Path) -> None:
    (root / "pyproject.toml").parent.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\n')
    for index in range(200):
        path = root / "pkg" / f"m{index:03}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"VALUE_{index:03} = 'original'\n")


def _edits(root: Path) -> list[list[str]]:
    return [
        [str(root / name), (root / name).read_text().replace("original", "edited!!")]
        for name in EDITED
    ]


def _expected_tokens(tmp_path: Path, edits: list[list[str]], tree: Path) -> list[str]:
    """The token of the tree after 0, 1, 2... edits: fingerprints of a copy, no stat cache."""
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)
    tokens = [fingerprint_tree(copy)]
    for path, text in edits:
        (copy / Path(path).relative_to(tree)).write_text(text)
        tokens.append(fingerprint_tree(copy))
    assert len(set(tokens)) == len(tokens)
    return tokens


def test_no_scan_that_starts_after_an_edit_returns_the_unedited_token(tmp_path: Path) -> None:
    tree, root = tmp_path / "tree", tmp_path / "cache"
    _make_tree(tree)
    edits = _edits(tree)
    expected = _expected_tokens(tmp_path, edits, tree)
    newest = max(p.stat().st_ctime_ns for p in tree.rglob("*"))
    procs.wait_until(lambda: time.time_ns() > newest + 2 * WINDOW_NS, "the tree settling")
    stop = tmp_path / "stop"
    scanners = [
        procs.start(
            {
                "op": "fingerprint_loop",
                "root": str(root),
                "tree": str(tree),
                "stop_file": str(stop),
                "ready_file": str(tmp_path / f"ready{index}"),
                "racy_window_ns": WINDOW_NS,
            }
        )
        for index in range(2)
    ]
    for index in range(2):
        procs.wait_for_file(tmp_path / f"ready{index}")
    editor = procs.start({"op": "edit_in_place", "edits": edits, "pause": 4 * WINDOW_NS / 1e9})
    done = editor.result()["edits"]
    last_done = done[-1][1]
    # Let each scanner finish a few scans that start once the last edit has settled.
    after = tmp_path / "after"
    procs.wait_until(lambda: time.monotonic_ns() > last_done + 2 * WINDOW_NS, "settling")
    after.touch()
    time_after = time.monotonic_ns()
    stop_when = [time_after]

    def enough() -> bool:
        return time.monotonic_ns() > stop_when[0] + WINDOW_NS

    procs.wait_until(enough, "a few more scans")
    stop.touch()
    scans = [scan for child in scanners for scan in child.result()["scans"]]

    starts = [edit[0] for edit in done]
    for started, ended, token, _reads in scans:
        completed = sum(1 for edit in done if edit[1] < started)  # edits complete before it
        assert token not in expected[:completed], "a scan after an edit saw the tree before it"
        begun = sum(1 for edit_start in starts if edit_start < ended)  # edits begun by its end
        if begun == completed:  # no edit overlapped the scan: the tree was still
            assert token == expected[completed]
    # The stat cache was in play: scans that read no file, and scans from the cache after
    # each edit had settled (the ones that a stale entry would have fooled).
    assert any(reads == 0 for *_, reads in scans)
    for index, (_, finished) in enumerate(done):
        assert any(
            started > finished + WINDOW_NS and reads < 200 and token == expected[index + 1]
            for started, _, token, reads in scans
            if index + 1 == len(done) or started < starts[index + 1]
        ), f"no scan from the stat cache between edit {index + 1} and the next"
