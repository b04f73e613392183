"""10. Locks: what an uncontended acquire + release costs, ``flock`` against a lease.

``WheelCache(lock_mode="lease")`` replaces the build and prune locks' ``flock``
with a lease file (``wheelcache._fs.lease``) so that one build runs across
hosts. Both are taken here through the same call the cache makes
(``_fs.locking.hold``), back to back on a lock nobody else holds, in
interleaved rounds:

* on the scratch directory's filesystem (a local disk, normally);
* on an sshfs mount served by an sshd on 127.0.0.1 (``tests/netfs/two_mounts.sh``),
  where every file operation is an SFTP round trip; skipped, with the reason,
  where the rig cannot start (it needs root, sshd, sshfs and FUSE).

On a network filesystem both modes also start a heartbeat for the held lock
(one ``utime``), as they do in the cache.
"""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

from _harness import interleaved

if TYPE_CHECKING:
    from pathlib import Path

    from _harness import Context

SECTION = "10. locks (µs per uncontended acquire + release)"


def _cycle(lock: Path, mode: str) -> None:
    from wheelcache._fs.locking import hold

    with hold(lock, timeout=None, purpose="benchmarking", mode=mode):
        pass


def _measure(context: Context, directory: Path, where: str, calls: int) -> None:
    lock = directory / "locks-v1" / "ab" / "demo.build"
    lock.parent.mkdir(parents=True)
    cases = {
        f"flock, {where}": (lambda: _cycle(lock, "flock"), calls),
        f"lease, {where}": (lambda: _cycle(lock, "lease"), calls),
    }
    rounds = context.pick(3, 9)
    results = interleaved(cases, rounds=rounds)
    for name, values in results.items():
        context.report.figure(SECTION, name, values, "µs", scale=1e6)
    context.report.ratio(
        SECTION, f"lease / flock, {where}", results[f"lease, {where}"], results[f"flock, {where}"]
    )


def run(context: Context) -> None:
    local = context.scratch("locks-local")
    _measure(context, local, "local", context.pick(200, 2000))
    rig = context.repo / "tests" / "netfs" / "two_mounts.sh"
    check = subprocess.run(["bash", str(rig), "check"], capture_output=True, text=True)
    if check.returncode != 0:
        context.report.status(
            SECTION, "ran", f"local only; no sshfs rig here: {check.stdout.strip()}"
        )
        return
    state = context.scratch("locks-sshfs")
    up = subprocess.run(
        ["bash", str(rig), "up", str(state)], capture_output=True, text=True, timeout=120
    )
    try:
        if up.returncode != 0:
            context.report.status(SECTION, "ran", f"local only; rig failed: {up.stderr.strip()}")
            return
        mount = state / "host-a"
        (mount / "cache").mkdir()
        _measure(context, mount / "cache", "sshfs", context.pick(20, 200))
        context.report.status(SECTION, "ran", load_average=os.getloadavg()[0])
    finally:
        subprocess.run(["bash", str(rig), "down", str(state)], capture_output=True, timeout=120)
