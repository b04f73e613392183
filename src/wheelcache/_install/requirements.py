"""Which of a distribution's ``Requires-Dist`` the environment does not satisfy.

Installing never resolves dependencies (like ``pip install --no-deps``); this
only says what is missing. Markers are judged against the target
interpreter's marker environment, with no extra selected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .uninstall import canonical_name, dist_infos

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .scheme import Target

__all__ = ["unsatisfied"]


def installed_versions(site_dirs: Iterable[str]) -> dict[str, str]:
    """Canonical project name to version, from the ``.dist-info`` names in *site_dirs*."""
    found: dict[str, str] = {}
    for _site, name in dist_infos(site_dirs):
        stem = name[: -len(".dist-info")]
        if stem.count("-") == 1:
            project, version = stem.split("-")
            found.setdefault(canonical_name(project), version)
    return found


def requires_dist(metadata: bytes) -> list[str]:
    """The ``Requires-Dist`` values of METADATA's header (field names match in any case).

    A plain line scan: parsing the whole message with :mod:`email` would cost
    an install more than everything else it reads.
    """
    found: list[str] = []
    folding = False  # whether a continuation line belongs to a Requires-Dist
    for raw in metadata.decode("utf-8", "replace").splitlines():
        if not raw.strip():
            break  # the end of the header; the description follows
        if raw[:1] in (" ", "\t"):
            if folding:
                found[-1] += " " + raw.strip()
            continue
        field, colon, value = raw.partition(":")
        folding = bool(colon) and field.strip().lower() == "requires-dist"
        if folding:
            found.append(value.strip())
    return found


def unsatisfied(metadata: bytes, target: Target) -> tuple[str, ...]:
    """The ``Requires-Dist`` lines of *metadata* that nothing installed in *target* satisfies.

    The target's marker environment is asked for only when there are some.
    """
    requires = requires_dist(metadata)
    if not requires:
        return ()
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    installed = installed_versions(target.site_dirs)
    environment = {**target.markers, "extra": ""}
    missing = []
    for line in requires:
        try:
            requirement = Requirement(str(line))
        except InvalidRequirement:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        version = installed.get(canonical_name(requirement.name))
        try:
            ok = version is not None and requirement.specifier.contains(
                Version(version), prereleases=True
            )
        except InvalidVersion:
            ok = False
        if not ok:
            missing.append(str(requirement))
    return tuple(missing)
