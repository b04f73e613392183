"""Which remote, if any, a cache uses, and how: the URL, the mode, the signing key.

Read from the arguments of :class:`~wheelcache.WheelCache` or, when they are
None, from the environment. Parsing imports nothing heavy: a cache without a
remote never loads the object-store client.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from .._errors import CacheError

__all__ = [
    "KEY_VARIABLE",
    "MODES",
    "MODE_VARIABLE",
    "REMOTE_VARIABLE",
    "TIMEOUT_VARIABLE",
    "InvalidRemoteError",
    "RemoteConfig",
    "remote_config",
]

REMOTE_VARIABLE = "WHEELCACHE_REMOTE"
MODE_VARIABLE = "WHEELCACHE_REMOTE_MODE"
KEY_VARIABLE = "WHEELCACHE_REMOTE_KEY"
TIMEOUT_VARIABLE = "WHEELCACHE_REMOTE_TIMEOUT"

MODES = ("read", "write")
"""``read``: pull, never write anything remote. ``write`` (the default): pull and push."""

SCHEMES = frozenset(
    {"s3", "s3a", "gs", "az", "adl", "azure", "abfs", "abfss", "file", "memory", "http", "https"}
)


class InvalidRemoteError(CacheError, ValueError):
    """The remote URL, mode or timeout is not usable."""


class RemoteConfig(NamedTuple):
    """A validated remote configuration."""

    url: str
    mode: str
    key: bytes | None
    """The shared secret records are signed and verified with, if any."""
    timeout: float | None
    """Overrides the connect and read timeouts (seconds) when set."""

    @property
    def writable(self) -> bool:
        """False in read-only mode: nothing is ever written to the remote."""
        return self.mode == "write"


def remote_config(url: str | None, mode: str | None) -> RemoteConfig | None:
    """The remote configuration from the arguments, else the environment; None for none.

    An empty URL (argument or variable) means no remote. Raises
    :class:`InvalidRemoteError` for an unknown scheme, mode or timeout.
    """
    if url is None:
        url = os.environ.get(REMOTE_VARIABLE, "")
    if not url:
        return None
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in SCHEMES:
        raise InvalidRemoteError(
            f"remote {url!r}: expected a URL such as s3://bucket/prefix or file:///directory"
        )
    if mode is None:
        mode = os.environ.get(MODE_VARIABLE) or "write"
    if mode not in MODES:
        raise InvalidRemoteError(f"remote mode {mode!r}: expected one of {', '.join(MODES)}")
    secret = os.environ.get(KEY_VARIABLE)
    timeout_text = os.environ.get(TIMEOUT_VARIABLE)
    try:
        timeout = float(timeout_text) if timeout_text else None
    except ValueError:
        timeout = -1.0
    if timeout is not None and not timeout > 0:
        raise InvalidRemoteError(f"${TIMEOUT_VARIABLE}={timeout_text!r}: expected seconds > 0")
    return RemoteConfig(url, mode, secret.encode() if secret else None, timeout)
