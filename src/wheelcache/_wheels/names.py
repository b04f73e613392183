"""Wheel file names: what a name says about its wheel, parsed once.

Kept apart from :mod:`wheelcache._wheels.wheelfile` (which opens archives and
pulls in :mod:`zipfile` and :mod:`email`) so that code which only needs a
name's tags or version imports nothing heavier than :mod:`packaging`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from packaging.tags import Tag  # noqa: TC002
from packaging.utils import BuildTag, NormalizedName, parse_wheel_filename
from packaging.version import Version  # noqa: TC002

from .._errors import InvalidWheelError

__all__ = ["WheelInfo", "describe", "parse_wheel_name"]

_WHEEL_FILENAME_DETAIL = re.compile(r"^Invalid wheel filename \((.*)\)$")


@dataclass(frozen=True)
class WheelInfo:
    """What a wheel's file name says about it.

    ``name`` is the canonical project name, ``build`` the parsed build tag (``()``
    when the name has none) and ``tags`` every tag the compressed tag set expands to.
    """

    filename: str
    name: NormalizedName
    version: Version
    build: BuildTag
    tags: frozenset[Tag]


def parse_wheel_name(filename: str) -> WheelInfo:
    """Parse a wheel's base file name, such as ``foo_bar-1.0-py3-none-any.whl``.

    Raises :class:`InvalidWheelError` (a :class:`ValueError`) naming *filename*
    when it is not a valid wheel file name. Results are memoised.
    """
    return _parse_wheel_name(filename)


@functools.lru_cache(maxsize=4096)
def _parse_wheel_name(filename: str) -> WheelInfo:
    try:
        name, version, build, tags = parse_wheel_filename(filename)
    except ValueError as exc:
        # InvalidWheelFilename, and (packaging < 23.2) a bare InvalidVersion.
        raise InvalidWheelError(filename, _name_problem(filename, exc)) from exc
    return WheelInfo(filename, name, version, build, tags)


def _name_problem(filename: str, exc: ValueError) -> str:
    """Say why *filename* was refused, without packaging's echo of the name."""
    detail = str(exc)
    stem = filename.removesuffix(".whl")
    for echo in (f": {filename!r}", f": {stem!r}", f" in {stem!r}"):
        detail = detail.removesuffix(echo)
    detail = _WHEEL_FILENAME_DETAIL.sub(r"\1", detail)
    return f"bad file name: {describe(ValueError(detail))}"


def describe(exc: BaseException) -> str:
    """An exception as the end of a sentence: lower-case, without the errno."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = str(exc)
    return f"{text[:1].lower()}{text[1:]}" if text else type(exc).__name__
