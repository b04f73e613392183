"""Prune's clock: the filesystem's time, and a check that it has not jumped forward.

Entry ages are modification times written by the filesystem (coarse clocks,
or a file server's clock), so prune compares them with a time taken from
the same source: the mtime of the prune stamp ``locks-v1/prune.stamp``,
touched now (docs/design.md, A2).

A forward jump of that clock larger than the grace period makes every entry
look old, so a prune right after it could delete a wheel handed out a
moment before it. Prune cannot see a jump from the wall clock alone, so the
stamp also records, on Linux, the machine's boot id and the seconds since
boot (``CLOCK_BOOTTIME``, which never jumps and counts suspend). The next
prune on the same boot compares how far the stamp's mtime moved with how
much time really passed; a difference of more than a minute (plus 0.1% of
the interval, for drift between a file server's clock and ours) is a jump.
After one, prune deletes no entry and retires nothing by age until a full
grace period of real time has passed since the jump. Across a reboot, or
where there is no boot clock, a jump cannot be detected (A2).
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import TYPE_CHECKING, NamedTuple

from .._fs.nofollow import O_NOFOLLOW

if TYPE_CHECKING:
    from .._layout import Layout

__all__ = ["JUMP_TOLERANCE", "Reading", "read_clock"]

logger = logging.getLogger("wheelcache")

JUMP_TOLERANCE = 60.0
"""Seconds the filesystem clock may move ahead of real time between two prunes."""

_DRIFT = 0.001  # a file server's clock may also drift from ours by this fraction
_BOOT_ID = "/proc/sys/kernel/random/boot_id"


class Reading(NamedTuple):
    """The filesystem's time now, and whether prune must not trust entry ages."""

    now: float
    jump: float
    """Seconds the clock jumped forward (0.0: none seen)."""
    distrust: bool
    """True while less than a grace period of real time has passed since a jump."""


def read_clock(layout: Layout, grace: float) -> Reading:
    """Touch the prune stamp; return the time and what it says about jumps.

    Called under the prune lock, so no other prune writes the stamp meanwhile.
    The stamp is opened with ``O_NOFOLLOW``: a link there is never followed.
    """
    stamp = layout.locks / "prune.stamp"
    try:
        fd = os.open(stamp, os.O_RDWR | os.O_CREAT | O_NOFOLLOW, 0o666)
    except OSError:
        return Reading(time.time(), 0.0, False)
    try:
        try:
            before = os.fstat(fd)
            previous = _parse(os.read(fd, 4096)) if before.st_size else {}
            _touch(fd, stamp)
            now = os.fstat(fd).st_mtime
        except OSError:
            return Reading(time.time(), 0.0, False)
        boot, uptime = _boot_clock()
        jump = 0.0
        jumped_at = previous.get("jumped_at")
        if boot is not None and previous.get("boot") == boot:
            last_uptime = previous.get("uptime")
            if isinstance(last_uptime, (int, float)) and before.st_size:
                real = uptime - last_uptime
                seen = now - before.st_mtime
                if seen - real > JUMP_TOLERANCE + _DRIFT * max(real, 0.0):
                    jump = seen - real
                    jumped_at = uptime
        else:
            jumped_at = None  # another boot: nothing to compare with
        distrust = isinstance(jumped_at, (int, float)) and uptime - jumped_at < grace
        if jump:
            logger.warning(
                "the clock jumped %.0fs forward since the last prune; no entry is deleted"
                " and no source retired by age until %.0fs of real time have passed",
                jump,
                grace,
            )
        _record(fd, {"boot": boot, "uptime": uptime, "jumped_at": jumped_at if distrust else None})
        return Reading(now, jump, distrust)
    finally:
        os.close(fd)


def _touch(fd: int, stamp: os.PathLike[str]) -> None:
    if os.utime in os.supports_fd:
        os.utime(fd)
    else:  # pragma: no cover - Windows: the stamp was just opened, not followed
        os.utime(stamp)


def _boot_clock() -> tuple[str | None, float]:
    """The boot's id and the seconds since it (never jumps); (None, 0) where unknown."""
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    if clock is None:
        return None, 0.0
    try:
        with open(_BOOT_ID, encoding="ascii") as handle:
            boot = handle.read().strip()
    except OSError:
        return None, 0.0
    return boot, time.clock_gettime(clock)


def _parse(data: bytes) -> dict[str, object]:
    try:
        document = json.loads(data)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _record(fd: int, state: dict[str, object]) -> None:
    """Write *state* into the stamp, keeping the mtime just set (the write changes it)."""
    try:
        info = os.fstat(fd)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(state).encode())
        if os.utime in os.supports_fd:
            os.utime(fd, ns=(info.st_atime_ns, info.st_mtime_ns))
    except OSError:
        logger.debug("could not record the prune clock", exc_info=True)
