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

import contextlib
import errno
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

RIG = Path(__file__).resolve().parent / "two_mounts.sh"


class Hosts(NamedTuple):
    """One shared directory as host A and as host B see it."""

    a: Path
    b: Path


class UserHosts(NamedTuple):
    """One directory shared by two users of one group, each logged in on its own host."""

    a: Path
    """The directory as user ``uid_a`` sees it on host A."""
    b: Path
    """The directory as user ``uid_b`` sees it on host B."""
    export: Path
    """The directory on the server (to set the group up, as its administrator would)."""
    uid_a: int
    uid_b: int
    gid: int


USERS = ("_apt", "nobody")
"""Two users of one group (nogroup) that every Debian system has; the server acts as them."""


def _cannot_run(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@contextlib.contextmanager
def _rig(state: Path, *users: str) -> Iterator[tuple[Path, Path]]:
    check = subprocess.run(["bash", str(RIG), "check"], capture_output=True, text=True)
    if check.returncode != 0:
        _cannot_run(f"no two-mount rig here: {check.stderr.strip() or check.stdout.strip()}")
    up = subprocess.run(
        ["bash", str(RIG), "up", str(state), *users], capture_output=True, text=True, timeout=120
    )
    try:
        if up.returncode != 0:
            _cannot_run(f"the two-mount rig did not start: {up.stderr.strip()}")
        a, b = up.stdout.split()
        yield Path(a), Path(b)
    finally:
        subprocess.run(["bash", str(RIG), "down", str(state)], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def mounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    with _rig(tmp_path_factory.mktemp("two-hosts")) as (a, b):
        yield Hosts(a, b)


@pytest.fixture(scope="session")
def user_mounts() -> Iterator[UserHosts]:
    """Host A logged in as ``_apt``, host B as ``nobody``: both of group ``nogroup``."""
    try:
        first, second = (pwd.getpwnam(name) for name in USERS)
    except KeyError:
        _cannot_run(f"the users {USERS} are not on this system")
    if first.pw_gid != second.pw_gid:
        _cannot_run(f"the users {USERS} are not of one group here")
    # pytest's temporary directories are root's alone; the users must reach this one.
    base = Path(tempfile.mkdtemp(prefix="wheelcache-two-users-"))
    try:
        os.chmod(base, 0o755)
        with _rig(base / "rig", *USERS) as (a, b):
            yield UserHosts(
                a, b, base / "rig" / "export", first.pw_uid, second.pw_uid, first.pw_gid
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def shared(mounts: Hosts) -> Hosts:
    """A fresh directory on the shared export, as host A and host B see it."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    (mounts.a / name).mkdir()
    return Hosts(mounts.a / name, mounts.b / name)


@pytest.fixture
def shared_by_users(user_mounts: UserHosts) -> UserHosts:
    """A fresh cache directory set up for the group (setgid, ``2775``), as each user sees it."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    directory = user_mounts.export / name
    directory.mkdir()
    os.chown(directory, 0, user_mounts.gid)
    os.chmod(directory, 0o2775)
    return user_mounts._replace(a=user_mounts.a / name, b=user_mounts.b / name, export=directory)


def removed_before_fstat(
    module: ModuleType, other_host: Path, monkeypatch: pytest.MonkeyPatch, call: str = "fstat"
) -> None:
    """Make *module*'s ``os.fstat`` (or ``os.<call>``) remove *other_host* first.

    The file is removed through the other mount, as another host would,
    between the module's open and its ``fstat``: sshfs answers that ``fstat``
    by path, so it fails with ENOENT. With ``call="unlink"``, the module's own
    removal finds the file gone.
    """
    real = getattr(os, call)

    def removing_first(*args: object, **kwargs: object) -> object:
        if other_host.exists():
            other_host.unlink()
        return real(*args, **kwargs)

    class RemovedOnTheOtherHost:
        """The os module, except that the other host removes the file just before one call."""

        def __getattr__(self, name: str) -> object:
            return removing_first if name == call else getattr(os, name)

    monkeypatch.setattr(module, "os", RemovedOnTheOtherHost())


def created_and_removed_during_create(
    module: ModuleType, other_host: Path, monkeypatch: pytest.MonkeyPatch, times: int = 1
) -> None:
    """Make *module*'s next *times* exclusive ``os.open`` calls lose a race the other host ends.

    The other host creates the file (through its mount) just before this
    host's create reaches the server, and removes it again before this host
    looks: sshfs refuses the create with EPERM (SFTP has no "exists" status;
    two mounts racing creates see it in about a third of their races), and
    the file is gone by the time this host asks whether it exists. The race
    happens inside one system call, so the refusal is played here; the
    other host's create and removal, and every later call, are real.
    """

    class LostTheRace:
        """The os module, except that the next exclusive open loses a race to the other host."""

        races = times

        def __getattr__(self, name: str) -> object:
            return getattr(os, name)

        def open(self, path: os.PathLike[str], flags: int, mode: int = 0o777) -> int:
            if flags & os.O_EXCL and self.races:
                self.races -= 1
                os.close(os.open(other_host, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                os.unlink(other_host)
                raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), os.fspath(path))
            return os.open(path, flags, mode)

    monkeypatch.setattr(module, "os", LostTheRace())
