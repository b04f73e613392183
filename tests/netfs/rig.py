"""Two hosts sharing one cache directory: one directory mounted twice with sshfs.

The rig (``two_mounts.sh``) starts an sshd on 127.0.0.1 with throwaway keys
and mounts one directory at ``host-a`` and ``host-b``. Each mount is its own
SFTP client, so it behaves like another host: ``flock`` excludes only within
a mount, attributes are cached per mount, renames are judged by the server.

Where the rig cannot run (not root, no FUSE, no sshd or sshfs) the tests skip
with the reason; under CI (``CI=true``), where ``.ci/run`` installs sshd and
sshfs, they fail instead, so a broken rig can never pass silently.

The fixtures are a plugin of the whole suite (``tests/conftest.py``), so the
torture suite's stress run can spread its workers over the two hosts too.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

RIG = Path(__file__).resolve().parent / "two_mounts.sh"


class Hosts(NamedTuple):
    """One shared directory as host A and as host B see it."""

    a: Path
    b: Path


@pytest.fixture(scope="session")
def mounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    check = subprocess.run(["bash", str(RIG), "check"], capture_output=True, text=True)
    if check.returncode != 0:
        reason = f"no two-mount rig here: {check.stderr.strip() or check.stdout.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("two-hosts")
    up = subprocess.run(
        ["bash", str(RIG), "up", str(state)], capture_output=True, text=True, timeout=120
    )
    try:
        if up.returncode != 0:
            reason = f"the two-mount rig did not start: {up.stderr.strip()}"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        a, b = up.stdout.split()
        yield Hosts(Path(a), Path(b))
    finally:
        subprocess.run(["bash", str(RIG), "down", str(state)], capture_output=True, timeout=120)


@pytest.fixture
def shared(mounts: Hosts) -> Hosts:
    """A fresh directory on the shared export, as host A and host B see it."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    (mounts.a / name).mkdir()
    return Hosts(mounts.a / name, mounts.b / name)
