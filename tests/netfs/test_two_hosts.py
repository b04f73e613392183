"""Two hosts, one cache directory: every promise holds where a local disk's assumptions fail.

Host A and host B are two sshfs mounts of one directory (see conftest.py).
What differs from a local disk, and what each test pins down:

* ``flock`` excludes within a mount and not across mounts;
* renaming a directory onto a non-empty one fails with ``EPERM``, not
  ``ENOTEMPTY``;
* the link count of an open file that another host replaced stays 1;
* deleting a file that is still open renames it to ``.fuse_hidden*`` (NFS:
  ``.nfs*``), which keeps its directory from being removed until it closes.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ondisk import DAY, age
from procs import DEADLINE, SyncPoints, build_on_every_host, start
from wheelcache import Source, WheelCache
from wheelcache._layout import Layout
from wheelcache._pointers.pointer import read_open_pointer
from wheelfactory import make_wheel

if TYPE_CHECKING:
    from netfs.rig import Hosts


pytestmark = [pytest.mark.netfs, pytest.mark.timeout(300)]


def _forget(root: Path, source: Source) -> None:
    """Remove *source*'s pointer, so nothing names its entries any more."""
    os.unlink(Layout(root).pointer_file(source.digest))


def test_the_rig_behaves_like_two_hosts(shared: Hosts) -> None:
    """The premises of this module: if sshfs changes, the tests below mean something else."""
    lock_a = os.open(shared.a / "lock", os.O_RDWR | os.O_CREAT)
    lock_b = os.open(shared.b / "lock", os.O_RDWR | os.O_CREAT)
    other_a = os.open(shared.a / "lock", os.O_RDWR)
    try:
        fcntl.flock(lock_a, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(lock_b, fcntl.LOCK_EX | fcntl.LOCK_NB)  # not excluded: another "host"
        with pytest.raises(BlockingIOError):
            fcntl.flock(other_a, fcntl.LOCK_EX | fcntl.LOCK_NB)  # excluded within a mount
    finally:
        for fd in (lock_a, lock_b, other_a):
            os.close(fd)
    for name in ("one", "two"):
        (shared.a / name).mkdir()
        (shared.a / name / "file").write_text(name)
    with pytest.raises(PermissionError) as refused:
        os.rename(shared.b / "one", shared.b / "two")
    assert refused.value.errno == errno.EPERM


def test_an_entry_the_other_host_published_is_reused_not_refused(
    shared: Hosts, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, "demo", "1.0")
    on_a = WheelCache(shared.a / "cache").add(Source("first"), wheel)
    cache_b = WheelCache(shared.b / "cache")
    on_b = cache_b.add(Source("second"), wheel)  # its rename onto A's entry fails with EPERM
    assert on_b.sha256 == on_a.sha256
    hit = cache_b.get(Source("second"))
    assert hit is not None
    assert hashlib.sha256(hit.path.read_bytes()).hexdigest() == on_a.sha256


def test_a_publish_refused_with_eperm_whose_target_then_vanishes_publishes_its_own(
    shared: Hosts, tmp_path: Path
) -> None:
    """EPERM from a rename means "the target may exist": judged by looking, then retried."""
    wheel = make_wheel(tmp_path, "demo", "1.0")
    root_a, root_b = shared.a / "cache", shared.b / "cache"
    first = Source("first")
    published = WheelCache(root_a).add(first, wheel)
    _forget(root_a, first)
    points = SyncPoints(tmp_path / "sync")
    points.arm("publish.rename-failed")
    child = start(
        {"op": "add", "root": str(root_b), "key": "second", "wheel": str(wheel)}, points.env
    )
    points.wait_reached("publish.rename-failed")
    # Garbage collection on the child's host takes the entry the rename ran into.
    age(Path(published.path), DAY)
    report = WheelCache(root_b).prune(grace=0)
    assert report.removed_entries == 1
    points.release("publish.rename-failed")
    result = child.result()
    assert result["sha256"] == published.sha256
    hit = WheelCache(root_a).get(Source("second"))
    assert hit is not None
    assert hashlib.sha256(hit.path.read_bytes()).hexdigest() == published.sha256


def test_a_lookup_notices_a_pointer_the_other_host_replaced(shared: Hosts, tmp_path: Path) -> None:
    """The link count of a replaced pointer stays 1 here, so get() reads the pointer again."""
    root_a, root_b = shared.a / "cache", shared.b / "cache"
    cache_a = WheelCache(root_a)
    source = Source("s", "one")
    old = cache_a.add(source, make_wheel(tmp_path / "1", "demo", "1.0", seed=1))
    pointer_path = Layout(root_a).pointer_file_str(source.digest)
    fd = os.open(pointer_path, os.O_RDONLY)
    try:
        pointer = read_open_pointer(fd)
        assert pointer is not None
        WheelCache(root_b).add(Source("s", "two"), make_wheel(tmp_path / "2", "demo", "2.0"))
        assert os.fstat(fd).st_nlink == 1  # what makes the link count useless here
        age(Path(old.path), DAY)
        (ref,) = pointer.wheels
        cache_a._handed_out(fd, pointer_path, ref, pointer)
    finally:
        os.close(fd)
    assert time.time() - os.stat(old.path).st_mtime < DEADLINE  # freshened at hand-out


def test_single_flight_degrades_to_one_build_per_host(shared: Hosts, tmp_path: Path) -> None:
    """flock is not shared across hosts: concurrent callers build at most once per host."""
    per_host, sha256s = build_on_every_host(
        {"a": shared.a / "cache", "b": shared.b / "cache"}, 3, tmp_path
    )
    assert 1 <= sum(per_host.values()) <= 2, per_host
    assert all(count <= 1 for count in per_host.values()), per_host
    assert len(sha256s) == 1


def test_a_trash_directory_kept_busy_by_an_open_file_waits_for_the_next_prune(
    shared: Hosts, tmp_path: Path
) -> None:
    """Deleting an open file leaves a hidden file behind; its directory waits in the trash."""
    root = shared.a / "cache"
    cache = WheelCache(root)
    source = Source("s")
    added = cache.add(source, make_wheel(tmp_path, "demo", "1.0"))
    _forget(root, source)
    age(Path(added.path), DAY)
    with open(added.path, "rb"):
        first = cache.prune(grace=0)  # must not fail
        left = list((root / "trash-v1").iterdir())
        assert left, "the open file did not keep its directory: the rig no longer shows this"
    second = cache.prune(grace=0)
    assert list((root / "trash-v1").iterdir()) == []
    assert (first.reclaimed_trash, second.reclaimed_trash) == (0, 1)


_SKEWED = """
import sys, time
offset = float(sys.argv[1])
real_time, real_time_ns = time.time, time.time_ns
time.time = lambda: real_time() + offset
time.time_ns = lambda: real_time_ns() + int(offset * 1e9)
from wheelcache import WheelCache
report = WheelCache(sys.argv[2]).prune(grace=float(sys.argv[3]))
print(report.removed_entries)
"""


def test_grace_holds_when_the_hosts_disagree_about_the_time(shared: Hosts, tmp_path: Path) -> None:
    """Prune reads the filesystem's clock: a host whose clock runs hours ahead deletes nothing."""
    root_a = shared.a / "cache"
    cache_a = WheelCache(root_a)
    source = Source("s")
    added = cache_a.add(source, make_wheel(tmp_path, "demo", "1.0"))
    _forget(root_a, source)
    assert cache_a.find(added.sha256) is not None  # handed out on host A just now
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    removed = subprocess.run(
        [sys.executable, "-c", _SKEWED, str(3 * 3600), str(shared.b / "cache"), "600"],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env=env,
        check=True,
    ).stdout.split()
    assert removed == ["0"]
    assert hashlib.sha256(Path(added.path).read_bytes()).hexdigest() == added.sha256


def test_the_cache_knows_it_is_on_a_network_filesystem(shared: Hosts) -> None:
    from wheelcache._fs.mounts import filesystem_type, is_network_filesystem

    assert filesystem_type(str(shared.a / "cache")) == "fuse.sshfs"
    assert is_network_filesystem(str(shared.b / "cache" / "not-yet"))


def test_prune_on_one_host_keeps_the_live_workspace_of_the_other(
    shared: Hosts, tmp_path: Path
) -> None:
    """flock is invisible across hosts; the owner lock's heartbeat says "alive" instead."""
    builds = tmp_path / "builds"
    builds.mkdir()
    points = SyncPoints(tmp_path / "sync")
    points.arm("build.locked")
    op = {"op": "get_or_build", "root": str(shared.b / "cache"), "builds_dir": str(builds)}
    child = start(op, points.env)
    points.wait_reached("build.locked")
    staging = shared.a / "cache" / "staging-v1"
    points.release("build.locked")
    deadline = time.monotonic() + DEADLINE
    while not (builds / "count").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    # The build runs in its workspace now; host A prunes as hard as it can.
    report = WheelCache(shared.a / "cache").prune(grace=0)
    assert report.reclaimed_staging == 0, sorted(p.name for p in staging.iterdir())
    assert child.result()["sha256"]


def test_a_dead_workspace_of_the_other_host_is_reclaimed_once_its_heartbeat_stops(
    shared: Hosts, tmp_path: Path
) -> None:
    points = SyncPoints(tmp_path / "sync")
    points.arm("build.locked")
    op = {"op": "get_or_build", "root": str(shared.b / "cache"), "builds_dir": str(tmp_path)}
    child = start(op, points.env)
    points.wait_reached("build.locked")
    child.kill()  # leaves its build lock; no workspace yet
    points.release("build.locked")
    stale = shared.a / "cache" / "staging-v1"
    stale.mkdir(parents=True, exist_ok=True)
    (stale / "build-1-dead").mkdir()
    (stale / "build-1-dead.lock").touch()
    cache_a = WheelCache(shared.a / "cache")
    assert cache_a.prune(grace=0).reclaimed_staging == 0  # beat recently: maybe alive
    age(stale / "build-1-dead.lock", DAY)
    assert cache_a.prune(grace=0).reclaimed_staging == 1
    assert sorted(p.name for p in stale.iterdir()) == []


_REPLACER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from wheelfactory import make_wheel
from wheelcache import Source, WheelCache
cache = WheelCache(sys.argv[1])
wheels = [make_wheel(Path(sys.argv[2]) / str(i), "demo", "1.0", seed=i) for i in range(3)]
stop, end = Path(sys.argv[4]), time.monotonic() + 300
n = 0
while n < 50 or not stop.exists():  # at least 50 replacements, however busy the machine
    cache.add(Source("k", "rev-" + "x" * (n % 7)), wheels[n % 3])
    n += 1
    if time.monotonic() > end:
        break
print(n)
"""


def test_prune_never_reads_a_pointer_the_other_host_is_replacing_as_naming_nothing(
    shared: Hosts, tmp_path: Path
) -> None:
    """sshfs cuts a replaced file's bytes to the size it cached; prune must read it again.

    Pointers of different lengths replace each other on host A while host B
    scans them as prune does. Every scan must see what the pointer names: a
    pointer read as naming nothing would leave its entries to be deleted.
    """
    from wheelcache._gc.retire import scan_sources

    stop = tmp_path / "stop"
    replacer = subprocess.Popen(
        [
            sys.executable, "-c", _REPLACER, str(shared.a / "cache"), str(tmp_path),
            str(Path(__file__).resolve().parent.parent), str(stop),
        ],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    layout = Layout(shared.b / "cache")
    scans = empty = 0
    try:
        # Counts, not a fixed time, decide when enough was seen: on a busy
        # machine 8 s held fewer than 50 replacements.
        least, end = time.monotonic() + 7.0, time.monotonic() + DEADLINE
        while (time.monotonic() < least or scans <= 50) and time.monotonic() < end:
            for scanned in scan_sources(layout):
                scans += 1
                empty += not scanned.references
    finally:
        stop.touch()
        out, _ = replacer.communicate(timeout=DEADLINE)
    assert replacer.returncode == 0
    assert int(out) >= 50, out
    assert scans > 50, scans
    assert empty == 0, f"{empty} of {scans} scans read a pointer as naming nothing"
