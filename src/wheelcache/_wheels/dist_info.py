"""Check a wheel's ``.dist-info`` directory: it is there, and it agrees with the file name.

A wheel describes itself in exactly one top-level ``{name}-{version}.dist-info``
directory, which must hold ``METADATA`` and ``WHEEL``. The directory's name and
METADATA's ``Name`` and ``Version`` must name the project and version the file
name does (names compared canonicalised, versions compared as versions), and
WHEEL must declare a ``Wheel-Version`` 1.x, the only major version this cache
(like installers) understands. Each check returns a list of problems (empty when all is well), for
:func:`wheelcache._wheels.wheelfile.validate_wheel` to report together.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    import zipfile
    from collections.abc import Sequence

    from .names import WheelInfo

__all__ = [
    "dist_info_name_problems",
    "find_dist_info",
    "metadata_problems",
    "wheel_file_problems",
]

_WHEEL_VERSION = re.compile(r"([0-9]+)(\.[0-9]+)*")
_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def find_dist_info(members: Sequence[zipfile.ZipInfo]) -> tuple[str | None, list[str]]:
    """Find the one top-level ``.dist-info`` directory and check it has the files it must."""
    names = {member.filename for member in members}
    tops = sorted(
        {
            top
            for top, slash, _ in (name.partition("/") for name in names)
            if slash and top.endswith(".dist-info")
        }
    )
    if not tops:
        return None, ["there is no top-level .dist-info directory"]
    if len(tops) > 1:
        listed = ", ".join(repr(top) for top in tops)
        return None, [f"there are {len(tops)} top-level .dist-info directories ({listed}), not one"]
    dist_info = tops[0]
    missing = [
        f"{dist_info}/{required} is missing"
        for required in ("METADATA", "WHEEL")
        if f"{dist_info}/{required}" not in names
    ]
    return dist_info, missing


def dist_info_name_problems(dist_info: str, info: WheelInfo) -> list[str]:
    """Check the ``{name}-{version}.dist-info`` directory against the file name."""
    project, dash, version = dist_info.removesuffix(".dist-info").partition("-")
    if not project or not dash or "-" in version:
        return [
            f"the .dist-info directory {dist_info!r} is not named '{{name}}-{{version}}.dist-info'"
        ]
    return _identity_problems("the .dist-info directory", project, version, info)


def metadata_problems(data: bytes, info: WheelInfo | None) -> list[str]:
    """Check METADATA names the project and version the file name does."""
    name, version = _fields(data, "Name", "Version")
    problems = [
        f"METADATA lacks a {field} field"
        for field, value in (("Name", name), ("Version", version))
        if not value
    ]
    if info is not None:
        problems += _identity_problems("METADATA", name, version, info)
    return problems


def _identity_problems(
    source: str, project: str | None, version: str | None, info: WheelInfo
) -> list[str]:
    """Compare the project and version *source* names with the file name's."""
    file_project, file_version = info.filename.split("-")[:2]
    problems = []
    if project and canonicalize_name(project) != info.name:
        problems.append(
            f"{source} names project {project!r} but the file name says {file_project!r}"
        )
    if version and not _same_version(version, info.version):
        problems.append(
            f"{source} names version {version!r} but the file name says {file_version!r}"
        )
    return problems


def _same_version(text: str, version: Version) -> bool:
    try:
        return Version(text) == version
    except InvalidVersion:
        return False


def wheel_file_problems(data: bytes) -> list[str]:
    """Check WHEEL declares a Wheel-Version this cache (like installers) understands."""
    (wheel_version,) = _fields(data, "Wheel-Version")
    if not wheel_version:
        return ["WHEEL lacks a Wheel-Version field"]
    match = _WHEEL_VERSION.fullmatch(wheel_version)
    if match is None:
        return [f"WHEEL has an unreadable Wheel-Version {wheel_version!r}"]
    if int(match.group(1)) != 1:
        return [f"WHEEL says Wheel-Version {wheel_version!r}, but only version 1 is supported"]
    return []


def _fields(data: bytes, *names: str) -> tuple[str | None, ...]:
    """Read fields from email-style ``Field: value`` headers (METADATA, WHEEL).

    Field names match case-insensitively; the first of a repeated field wins.
    """
    headers = _HEADER_PARSER.parsebytes(data)
    values = (headers.get(name) for name in names)
    # compat32 hands back a Header object for undecodable bytes; str() flattens it.
    return tuple(None if value is None else str(value).strip() for value in values)
