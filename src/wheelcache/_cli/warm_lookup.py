"""What both warm paths of the command share: the cache root, and a source's hit.

:func:`cache_root` is the root ``WheelCache(cache_dir)`` would use, worked out
without platformdirs where its answer is known; :func:`hit` looks a project
directory or sdist up as ``wheelcache build`` does on a hit, and
:func:`has_wheel` a wheel by its SHA-256 as ``WheelCache.find`` does, without
the :class:`~wheelcache.WheelCache` facade. :mod:`wheelcache._cli.warm` (``build``)
and :mod:`wheelcache._cli.warm_install` (``install``) use them; see those for
what falls through to the full command.
"""

from __future__ import annotations

import os
import sys
from stat import S_ISDIR, S_ISREG

__all__ = ["cache_root", "has_wheel", "hit", "warm_root", "writable", "xdg_cache_root"]


def warm_root(cache_dir: str | None) -> str | None:
    """The cache root, if it is a directory the warm paths may use; None: the full command's.

    Not with a remote, a lock mode it refuses, or a root that is not a
    directory: the full command judges those, with its messages.
    """
    root = cache_root(cache_dir)
    if (
        root is None
        or os.environ.get("WHEELCACHE_REMOTE")
        or os.environ.get("WHEELCACHE_LOCK_MODE", "") not in ("", "flock", "lease")
    ):
        return None
    try:
        return root if S_ISDIR(os.stat(root).st_mode) else None
    except OSError:
        return None


def hit(cache_dir: str | None, given: str) -> tuple[str, str] | None:
    """The path and file name of SOURCE *given*'s cached wheel; None for all but a plain hit."""
    root = warm_root(cache_dir)
    if root is None:
        return None
    try:
        # Path(SOURCE).absolute(): joined, not normalised ("link/.." is physical).
        path = os.path.join(os.getcwd(), given)
        mode = os.stat(path).st_mode
    except OSError:
        return None
    from .._paths import Paths
    from .._source import PROJECT_FILES, SDIST_SUFFIXES, Source
    from .._store.lookup import Finder
    from .._tags import ranks_for

    paths = Paths(root)
    if S_ISDIR(mode):  # Source.from_tree, less the project name a hit does not need
        if not any(os.path.isfile(os.path.join(path, name)) for name in PROJECT_FILES):
            return None
        from .._tree.fingerprint import fingerprint_tree
        from .._tree.statcache import StatCache

        tree = os.path.realpath(path)
        source = Source(tree, fingerprint_tree(tree, None, StatCache(paths)))
    elif S_ISREG(mode) and os.path.basename(path).lower().endswith(SDIST_SUFFIXES):
        from .._fs.hashing import file_sha256

        source = Source(f"sha256:{file_sha256(path)}")  # Source.from_archive's key
    else:
        return None
    found = Finder(paths, None).find(source.key, source.freshness, source.digest, ranks_for(None))
    return None if found is None else (found[0], found[1].filename)


def has_wheel(root: str, sha256: str) -> bool:
    """Whether the cache at *root* holds the wheel *sha256*; freshened as ``WheelCache.find`` does.

    The lookup of ``wheelcache install WHEEL``; the entry's wheel name is not
    parsed (the store published it under a valid one).
    """
    from .._paths import Paths
    from .._store.freshness import freshen_entry

    return freshen_entry(Paths(root), sha256)


def cache_root(cache_dir: str | None) -> str | None:
    """The cache root ``WheelCache(cache_dir)`` would use, as a string; None: ask it."""
    chosen = cache_dir or os.environ.get("WHEELCACHE_DIR")
    if not chosen:
        quick = xdg_cache_root()
        if quick is not None:
            return quick
        from .._layout import default_root  # platformdirs: pathlib, typing, ...

        return str(default_root())
    expanded = os.path.expanduser(chosen)
    if expanded.startswith("~"):
        return None  # no such user: Path.expanduser raises, and the full command says so
    return os.path.abspath(expanded)


def writable(stream: object, text: str) -> bool:
    """Whether *text* can be written to *stream* without an encoding error."""
    if stream is None:
        return False
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding, getattr(stream, "errors", None) or "strict")
    except (UnicodeError, LookupError):
        return False
    return True


def xdg_cache_root() -> str | None:
    """``platformdirs.user_cache_path("wheelcache")`` where its versions all agree; else None.

    On Linux with an absolute ``$HOME`` and ``$XDG_CACHE_HOME`` either unset,
    empty or an absolute path, every platformdirs release this package
    accepts gives the XDG Base Directory answer (``$XDG_CACHE_HOME``, else
    ``~/.cache``, plus the application name); importing platformdirs would
    cost a warm build about twice ``python -c pass``. Anything else — a
    relative or padded value, another platform — is platformdirs' to judge
    (``tests/cli/test_cli_warm.py`` compares both on each case).
    """
    if sys.platform != "linux":
        return None
    configured = os.environ.get("XDG_CACHE_HOME", "")
    if configured:
        if not configured.startswith("/") or configured != configured.strip():
            return None
        return os.path.abspath(os.path.join(configured, "wheelcache"))
    home = os.environ.get("HOME", "")
    if not home.startswith("/"):
        return None
    return os.path.abspath(os.path.join(home, ".cache", "wheelcache"))
