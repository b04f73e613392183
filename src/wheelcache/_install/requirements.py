"""Which of a distribution's ``Requires-Dist`` the environment does not satisfy.

Installing never resolves dependencies (like ``pip install --no-deps``); this
only says what is missing. Markers are judged against the target
interpreter's marker environment, with no extra selected.
"""

from __future__ import annotations

import email.parser
import email.policy
from typing import TYPE_CHECKING

from .uninstall import dist_infos

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["unsatisfied"]


def installed_versions(site_dirs: Iterable[str]) -> dict[str, str]:
    """Canonical project name to version, from the ``.dist-info`` names in *site_dirs*."""
    from packaging.utils import canonicalize_name

    found: dict[str, str] = {}
    for _site, name in dist_infos(site_dirs):
        stem = name[: -len(".dist-info")]
        if stem.count("-") == 1:
            project, version = stem.split("-")
            found.setdefault(canonicalize_name(project), version)
    return found


def unsatisfied(
    metadata: bytes, site_dirs: Iterable[str], markers: Mapping[str, str]
) -> tuple[str, ...]:
    """The ``Requires-Dist`` lines of *metadata* that no installed distribution satisfies."""
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    requires = parser.parsebytes(metadata).get_all("Requires-Dist") or []
    if not requires:
        return ()
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    installed = installed_versions(site_dirs)
    environment = {**markers, "extra": ""}
    missing = []
    for line in requires:
        try:
            requirement = Requirement(str(line))
        except InvalidRequirement:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        version = installed.get(canonicalize_name(requirement.name))
        try:
            ok = version is not None and requirement.specifier.contains(
                Version(version), prereleases=True
            )
        except InvalidVersion:
            ok = False
        if not ok:
            missing.append(str(requirement))
    return tuple(missing)
