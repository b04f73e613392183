"""Which kind of filesystem a cache lives on: a local disk, or one shared over a network.

A lookup decides whether the pointer it read was replaced meanwhile (docs/design.md
§6.3). On a local filesystem the link count of the open file says so for free;
on NFS, SMB and FUSE filesystems such as sshfs the link count of a file that
another host replaced stays 1, and even a fresh ``stat`` of the path can show
the old file's attributes for a while, so a lookup there re-reads the pointer
instead (docs/design.md, "Network filesystems").

The kind is read from ``/proc/self/mountinfo`` on Linux, once per directory
asked about and process. ``$WHEELCACHE_NETWORK_FS`` overrides it: ``1`` treats the cache as
shared over a network wherever it is (for systems where it cannot be told,
such as NFS on macOS), ``0`` as local.
"""

from __future__ import annotations

import functools
import os

__all__ = ["ENVIRONMENT_VARIABLE", "filesystem_type", "is_network_filesystem"]

ENVIRONMENT_VARIABLE = "WHEELCACHE_NETWORK_FS"

_NETWORK_TYPES = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs",
        "lustre", "gpfs", "beegfs", "ncpfs", "coda", "davfs", "ocfs2", "gfs2",
    }
)  # fmt: skip


def is_network_filesystem(path: str) -> bool:
    """True when *path* is (or would be created) on a network or FUSE filesystem."""
    forced = os.environ.get(ENVIRONMENT_VARIABLE)
    if forced in ("0", "1"):
        return forced == "1"
    return _detected(path)


@functools.lru_cache(maxsize=128)
def _detected(path: str) -> bool:
    """Remembered per path: a lock's directory is asked about on every acquisition."""
    kind = filesystem_type(path)
    return kind is not None and (kind in _NETWORK_TYPES or kind.split(".")[0] == "fuse")


def filesystem_type(path: str) -> str | None:
    """The type of the filesystem holding *path* (``ext4``, ``nfs4``, ``fuse.sshfs``...).

    None where it cannot be told (not Linux, no ``/proc``). A path that does
    not exist yet is judged by its nearest existing parent.
    """
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as table:
            mounts = table.read().splitlines()
    except OSError:
        return None
    target = _existing(os.path.realpath(path))
    best, kind = -1, None
    for line in mounts:
        fields = line.split(" ")
        try:
            separator = fields.index("-")
        except ValueError:
            continue
        point = _unescape(fields[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > best and separator + 1 < len(fields):
            best, kind = len(point), fields[separator + 1]
    return kind


def _existing(path: str) -> str:
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def _unescape(field: str) -> str:
    """Mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field
