"""Judging what a publisher finds: its input before copying, and an entry already in place.

A publisher whose rename fails finds something at the entry's path. An entry
is named by its bytes alone, so what is there is either the same entry
(*intact*, possibly under another valid wheel file name), something that
must be moved aside (*damaged*), or nothing any more (*absent*: garbage
collection took it between the rename and the look).
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Literal

from .._errors import InvalidWheelError
from .._fs.fsutil import file_sha256
from .._fs.nofollow import is_link, list_real_dir

if TYPE_CHECKING:
    from pathlib import Path

    from .._wheels.names import WheelInfo

__all__ = ["EntryState", "exists", "judge_existing", "precheck", "wheel_filename"]

EntryState = Literal["intact", "damaged", "absent"]
"""What a publisher finds at an entry's path when its rename fails."""


def judge_existing(target: Path, filename: str, sha256: str, size: int) -> tuple[EntryState, str]:
    """Judge a present target, and say the wheel's name in it.

    An entry is named by its bytes alone: identical bytes under another
    valid wheel file name (a renamed copy) are the same entry, intact. A link
    at *target* or at its wheel is damaged: nothing there is followed.
    """
    if is_link(target):
        return "damaged", filename
    if not exists(target / filename):
        other = wheel_filename(target)
        if other is not None and _valid_name(other):
            filename = other
    try:
        info = os.lstat(target / filename)
    except FileNotFoundError:
        return ("damaged" if exists(target) else "absent"), filename
    except OSError:
        return "damaged", filename
    if not stat.S_ISREG(info.st_mode) or info.st_size != size:
        return "damaged", filename
    try:
        actual = file_sha256(target / filename, follow=False)
    except FileNotFoundError:
        return "absent", filename
    except OSError:
        return "damaged", filename
    return ("intact" if actual == sha256 else "damaged"), filename


def wheel_filename(entry: Path) -> str | None:
    """The name of the wheel inside an entry directory, or None if there is not exactly one.

    None as well when the entry is a link: it is not followed.
    """
    names = [item.name for item in list_real_dir(entry)]
    wheels = [name for name in names if name.endswith(".whl")]
    return wheels[0] if len(wheels) == 1 else None


def precheck(wheel: Path) -> WheelInfo:
    """Cheap checks before any copying: a parseable name and a regular file."""
    from .._wheels.names import parse_wheel_name

    try:
        info = parse_wheel_name(wheel.name)
    except InvalidWheelError as exc:
        raise InvalidWheelError(wheel, exc.problem) from None
    try:
        mode = os.stat(wheel).st_mode
    except FileNotFoundError:
        raise InvalidWheelError(wheel, "no such file") from None
    except OSError as exc:
        raise InvalidWheelError(wheel, f"cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise InvalidWheelError(wheel, "is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise InvalidWheelError(wheel, "is not a regular file")
    return info


def _valid_name(filename: str) -> bool:
    from .._wheels.names import parse_wheel_name

    try:
        parse_wheel_name(filename)
    except InvalidWheelError:
        return False
    return True


def exists(path: Path) -> bool:
    try:
        os.lstat(path)
    except OSError:
        return False
    return True
