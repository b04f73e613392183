"""Where everything lives below the cache root.

::

    <root>/
      CACHEDIR.TAG                      backup tools skip the cache
      wheelcache-layout.json            the newest layout version that wrote here
      wheels-v1/<aa>/<sha256>/<file>.whl  immutable entries, named by the wheel's SHA-256
      trees-v1/<aa>/<sha256>/           an entry's wheel unpacked (files/ + manifest.json)
      sources-v1/<bb>/<key digest>.json   one pointer per source distribution
      locks-v1/                         flock locks: two per source, one for prune
      staging-v1/<token>/ + <token>.lock  entries being published, and their owners' locks
      trash-v1/                         entries being deleted by prune or clean
      quarantine-v1/                    corrupt entries moved aside by verify/add
      statcache-v1/<bb>/<key digest>.stat  stat caches of tree sources (an accelerator only)

Every bucket carries the layout version in its name. A future wheelcache with
an incompatible format uses new bucket names (``wheels-v2``), so an older
reader sharing the cache never meets a file it cannot parse: it sees misses.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ._errors import CacheError, cache_error
from ._fs.fsutil import make_directories, write_file_atomic
from ._paths import LAYOUT_VERSION, Paths, is_digest, source_digest, unique_token

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "LAYOUT_VERSION",
    "Layout",
    "default_root",
    "is_digest",
    "source_digest",
    "unique_token",
]

ENVIRONMENT_VARIABLE = "WHEELCACHE_DIR"
"""Where the cache lives when no root is given."""

_CACHEDIR_TAG = (
    b"Signature: 8a477f597d28d172789f06886806bc55\n"
    b"# This file is a cache directory tag created by wheelcache.\n"
    b"# For information about cache directory tags, see https://bford.info/cachedir/\n"
)


def default_root() -> Path:
    """``$WHEELCACHE_DIR`` if set, else the platform's user cache directory."""
    configured = os.environ.get(ENVIRONMENT_VARIABLE)
    if configured:
        return Path(os.path.abspath(Path(configured).expanduser()))
    from platformdirs import user_cache_path

    return Path(os.path.abspath(user_cache_path("wheelcache", appauthor=False)))


class Layout(Paths):
    """Maps cache concepts to paths below one root. Creates nothing by itself."""

    __slots__ = (
        "layout_file",
        "locks",
        "pointers",
        "quarantine",
        "root",
        "staging",
        "statcache",
        "trash",
        "trees",
        "wheels",
    )

    def __init__(self, root: Path) -> None:
        self.root = root
        self.wheels = root / f"wheels-v{LAYOUT_VERSION}"
        self.pointers = root / f"sources-v{LAYOUT_VERSION}"
        self.trees = root / f"trees-v{LAYOUT_VERSION}"
        self.locks = root / f"locks-v{LAYOUT_VERSION}"
        self.staging = root / f"staging-v{LAYOUT_VERSION}"
        self.trash = root / f"trash-v{LAYOUT_VERSION}"
        self.quarantine = root / f"quarantine-v{LAYOUT_VERSION}"
        self.statcache = root / f"statcache-v{LAYOUT_VERSION}"
        self.layout_file = root / "wheelcache-layout.json"
        super().__init__(root)  # the strings of the lookup path (pathlib costs more)

    # -- entries -----------------------------------------------------------

    def entry_dir(self, sha256: str) -> Path:
        """The immutable directory of the entry whose wheel has this SHA-256."""
        return self.wheels / sha256[:2] / sha256

    def entry_file(self, sha256: str, filename: str) -> Path:
        """The wheel file inside an entry."""
        return self.wheels / sha256[:2] / sha256 / filename

    def tree_dir(self, sha256: str) -> Path:
        """The unpacked tree of the entry whose wheel has this SHA-256."""
        return self.trees / sha256[:2] / sha256

    # -- pointers and locks ------------------------------------------------

    def pointer_file(self, digest: str) -> Path:
        """The pointer file of the source whose key has this digest."""
        return self.pointers / digest[:2] / f"{digest}.json"

    def build_lock(self, digest: str) -> Path:
        """The lock that lets one ``get_or_build`` at a time build a source."""
        return self.locks / digest[:2] / f"{digest}.build"

    def pointer_lock(self, digest: str) -> Path:
        """The lock serialising read-modify-writes of one source's pointer."""
        return self.locks / digest[:2] / f"{digest}.pointer"

    def stat_cache_file(self, digest: str) -> Path:
        """The stat cache of the tree source whose key has this digest."""
        return self.statcache / digest[:2] / f"{digest}.stat"

    @property
    def prune_lock(self) -> Path:
        """The lock that keeps two prunes from running at once."""
        return self.locks / "prune.lock"

    def buckets(self) -> tuple[Path, ...]:
        """Every directory this layout version owns below the root."""
        return (
            self.wheels,
            self.trees,
            self.pointers,
            self.locks,
            self.staging,
            self.trash,
            self.quarantine,
            self.statcache,
        )

    def pointer_files(
        self, on_error: Callable[[str, OSError], None] | None = None
    ) -> Iterator[tuple[str, str]]:
        """Every pointer file as ``(digest, path)``, in no particular order.

        The one listing of pointers that lookups, listing, statistics, verify
        and garbage collection share, so they agree on what exists: a pointer
        is a file ``<digest>.json`` in a shard directory; writers' temp files
        (``.<digest>.<token>.tmp``) and anything else are not pointers, and a
        shard that is not a real directory (a symlink) is not followed. A
        directory that cannot be listed is skipped, or passed with the error
        to *on_error* (which may raise); a missing one is simply empty. Nothing
        is followed (:mod:`wheelcache._fs.nofollow`): a linked bucket, shard or
        pointer file is not there.
        """
        try:
            if stat.S_ISLNK(os.lstat(self.pointers).st_mode):
                return  # a linked bucket is not followed either
            with os.scandir(self.pointers) as listing:
                shards = [s.path for s in listing if s.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            return
        except OSError as exc:
            if on_error is not None:
                on_error(os.fspath(self.pointers), exc)
            return
        for shard in sorted(shards):
            try:
                with os.scandir(shard) as listing:
                    names = [item.name for item in listing if not item.is_symlink()]
            except FileNotFoundError:
                continue
            except OSError as exc:
                if on_error is not None:
                    on_error(shard, exc)
                continue
            for name in sorted(names):
                if name.endswith(".json") and is_digest(name[: -len(".json")]):
                    yield name[: -len(".json")], os.path.join(shard, name)

    # -- creation ------------------------------------------------------------

    def require_directory(self) -> None:
        """Raise :class:`CacheError` when the root exists and is not a directory.

        Every operation that scans calls this, so ``info``, ``list`` and
        ``verify`` never report an empty, healthy cache where a file stands.
        """
        try:
            info = os.stat(self.root)
        except FileNotFoundError:
            return  # created on first write
        except NotADirectoryError:
            raise CacheError(
                f"the cache root {self.root} cannot exist: a directory above it is a file"
            ) from None
        except OSError:
            return  # reported by the operation that needs it, naming the permission
        if not stat.S_ISDIR(info.st_mode):
            raise CacheError(f"the cache root {self.root} exists and is not a directory")

    def ensure_root(self) -> None:
        """Create the root, its CACHEDIR.TAG and layout record if missing.

        Safe to run concurrently: every file is written whole by an atomic
        replace, and a layout record of a newer version is left alone.
        """
        try:
            make_directories(self.root)
            tag = self.root / "CACHEDIR.TAG"
            if not tag.exists():
                write_file_atomic(tag, _CACHEDIR_TAG, temp_name=f".CACHEDIR.TAG.{unique_token()}")
            if _recorded_layout(self.layout_file) < LAYOUT_VERSION:
                import json

                record = {"format": "wheelcache", "layout": LAYOUT_VERSION}
                write_file_atomic(
                    self.layout_file,
                    json.dumps(record, indent=2).encode() + b"\n",
                    temp_name=f".{self.layout_file.name}.{unique_token()}",
                )
        except OSError as exc:
            raise cache_error(self.root, "create the cache directory", exc) from exc


def _recorded_layout(path: Path) -> int:
    import json

    try:
        record = json.loads(path.read_bytes())
        version = record["layout"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0
    return version if isinstance(version, int) else 0
