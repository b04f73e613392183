"""Sweeping entries through the trash: how an entry leaves, and comes back if still wanted.

An entry leaves its place by one rename into the trash and only then is
deleted, so a reader sees the whole entry or a miss. After the rename prune
looks at the entry's modification time again and puts it back if a
publisher or lookup freshened it meanwhile. Each item in the trash belongs to
the run that moved it there (:mod:`wheelcache._gc.trashrun`); what belongs to
a run that is over (died, or could not delete it) is taken over by
:func:`finish_trash`, which restores the complete entries still wanted and
deletes the rest.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import cache_error
from .._fs import syncpoints as _syncpoints
from .._fs.fsutil import (
    EXISTS_ERRNOS,
    MAY_EXIST_ERRNOS,
    fsync_dir,
    remove_tree,
    retry_transient,
    tree_size,
    unlink_quietly,
)
from .._fs.nofollow import allow_owner_write, list_real_dir, refuse_links
from .._layout import is_digest

if TYPE_CHECKING:
    from .._layout import Layout
    from .._store.store import Store
    from .reports import Progress, Tally
    from .trashrun import TrashRun

__all__ = [
    "delete_or_warn",
    "empty_quarantine",
    "finish_trash",
    "move_to_trash",
    "restore",
    "sweep_entries",
]

logger = logging.getLogger("wheelcache")


def _wheel_state(entry: Path) -> tuple[float, int] | None:
    """(when last freshened, size) of the entry's wheel if it is a complete entry, else None.

    Freshened is the later of the wheel's and the entry directory's
    modification times (``Store._touch_entry``).

    Complete means: exactly one ``.whl`` file, and it is a regular file (not
    a link). Only a complete entry is ever put back from the trash; an emptied
    or damaged one (a prune killed inside its delete leaves an empty
    directory) never is.
    """
    names = [item.name for item in list_real_dir(entry) if item.name.endswith(".whl")]
    if len(names) != 1:
        return None
    try:
        info = os.lstat(os.path.join(entry, names[0]))
        directory = os.lstat(entry)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    # A user who does not own the wheel freshens its directory instead.
    return max(info.st_mtime, directory.st_mtime), info.st_size


def _entry_state(entry: Path) -> tuple[float, int] | None:
    """(when last freshened, wheel size) of an entry in place; None if it is gone.

    The time is the wheel's modification time, or, for a damaged entry
    without one, the directory's: the later of the two is never older than
    the entry's last freshening, so keeping by it errs on the safe side.
    """
    state = _wheel_state(entry)
    if state is not None:
        return state
    try:
        return os.lstat(entry).st_mtime, 0
    except OSError:
        return None


def sweep_entries(
    layout: Layout,
    run: TrashRun,
    store: Store,
    referenced: frozenset[str],
    protected: frozenset[str],
    window: tuple[float, float],
    tally: Tally,
    dry_run: bool,
    progress: Progress | None,
    *,
    only: frozenset[str] | None = None,
) -> None:
    """Delete the entries no pointer names, last freshened before the horizon.

    *window* is ``(horizon, grace)``. An entry kept only for its grace counts
    as waiting (:meth:`Tally.wait`), until its freshening plus the grace; a
    protected one not yet freshened (a dry run) until a grace from now.
    With *only*, just the entries of those digests are looked at.
    """
    horizon, grace = window
    if only is None:
        entries = list(store.entries())
    else:
        entries = [(sha256, layout.entry_dir(sha256)) for sha256 in sorted(only)]
    for done, (sha256, entry) in enumerate(entries, 1):
        if progress is not None and done % 256 == 0:
            progress("prune", done, len(entries))
        state = _entry_state(entry)
        if state is None:
            continue  # vanished under us
        freshened, size = state
        if sha256 in referenced:
            tally.keep(size)
            tally.referenced += 1
            tally.referenced_bytes += size
            continue
        if sha256 in protected or freshened >= horizon:
            tally.keep(size)
            tally.wait(size, max(freshened, horizon + grace if sha256 in protected else 0) + grace)
            continue
        if dry_run:
            tally.removed += 1
            tally.freed += size
            continue
        _syncpoints.reach("prune.before-trash")
        trashed = move_to_trash(run, entry, sha256)
        if trashed is None:
            continue
        _syncpoints.reach("prune.after-trash")
        again = _wheel_state(trashed)
        if again is not None and again[0] >= horizon:
            # Freshened between our look and the rename: it is wanted.
            if restore(trashed, entry):
                tally.restored += 1
            else:
                delete_or_warn(trashed)  # an identical copy was published meanwhile
            tally.keep(size)
            tally.wait(size, again[0] + grace)
            continue
        _syncpoints.reach("prune.before-delete")
        if delete_or_warn(trashed):
            tally.removed += 1
            tally.freed += size
    if progress is not None:
        progress("prune", len(entries), len(entries))


def move_to_trash(run: TrashRun, entry: Path, name: str) -> Path | None:
    """Rename an entry into *run*'s share of the trash; None if it is gone or cannot be moved.

    *name* is the entry's SHA-256, or ``tree-<sha256>`` for a tree (which
    :func:`finish_trash` never restores: a tree is unpacked again on need).

    An entry directory without write permission (damaged, or chmod-ed by
    hand) cannot be renamed to another directory; it is made writable and
    the rename tried again. An entry that still cannot be moved is left in
    place with a warning: one bad entry does not stop the prune.
    """
    destination = run.destination(name)
    try:
        run.layout.trash.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cache_error(run.layout.trash, "create", exc) from exc
    for attempt in range(2):
        try:
            retry_transient(lambda: os.rename(entry, destination))
        except FileNotFoundError:
            return None
        except PermissionError:
            if attempt == 0 and allow_owner_write(entry):
                continue
            logger.warning("cannot move %s to the trash; leaving it", entry, exc_info=True)
            return None
        except OSError:
            logger.warning("cannot move %s to the trash; leaving it", entry, exc_info=True)
            return None
        return destination
    return None


def delete_or_warn(path: Path) -> bool:
    """Delete a trashed or dead staging directory; on failure warn, leave it to the next prune."""
    try:
        remove_tree(path)
    except OSError:
        logger.warning("cannot delete %s; the next prune tries again", path, exc_info=True)
        return False
    return True


def restore(trashed: Path, entry: Path) -> bool:
    """Put a trashed entry (or tree) back; False if its place was filled meanwhile.

    A link where the entry's shard belongs is refused (CacheError): the entry
    stays in the trash, and the next prune restores it once that is repaired.
    """
    refuse_links(entry.parents[2], entry.parent)  # <root>/wheels-v1/<aa>/<sha256>
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        retry_transient(lambda: os.rename(trashed, entry))
    except OSError as exc:
        filled = exc.errno in MAY_EXIST_ERRNOS and os.path.lexists(entry)
        if exc.errno in EXISTS_ERRNOS or filled:
            return False  # re-published meanwhile: the identical copy in place wins
        raise cache_error(entry, "restore", exc) from exc
    try:
        fsync_dir(entry.parent)
    except OSError as exc:
        raise cache_error(entry.parent, "sync", exc) from exc
    logger.info("restored entry %s, which is still wanted", entry.name)
    return True


def finish_trash(
    layout: Layout,
    run: TrashRun,
    referenced: frozenset[str],
    protected: frozenset[str],
    window: tuple[float, float, float],
    tally: Tally,
) -> None:
    """Finish what runs that are over (a killed prune or clean) left in the trash.

    Each such item is first taken over by *run* (:meth:`TrashRun.adopt_finished`),
    so no other prune handles it meanwhile. A complete entry that a scanned
    pointer names (*protected*) or that was freshened since the horizon goes
    back in place; the rest is deleted. *window* is ``(horizon, grace, now)``.
    """
    horizon, grace, now = window
    dry_run = run.dry_run
    for path in run.adopt_finished(now):
        sha256 = path.name.split(".", 1)[0]
        is_dir = path.is_dir() and not path.is_symlink()
        if is_digest(sha256) and is_dir:
            state = _wheel_state(path)  # None for an emptied or damaged entry
            wanted = state is not None and (sha256 in protected or state[0] >= horizon)
            place = layout.entry_dir(sha256)
            if wanted and not os.path.lexists(place) and (dry_run or restore(path, place)):
                tally.restored += 1
                if dry_run and state is not None:  # a real prune's sweep counts it once back
                    tally.keep(state[1])
                    if sha256 not in referenced:
                        # a protected entry is freshened by then
                        since = horizon + grace if sha256 in protected else state[0]
                        tally.wait(state[1], max(state[0], since) + grace)
                continue
        size = tree_size(path)
        if dry_run or (delete_or_warn(path) if is_dir else unlink_quietly(path)):
            tally.trash += 1
            tally.freed += size


def empty_quarantine(layout: Layout, horizon: float, tally: Tally, dry_run: bool) -> None:
    """Delete what verify or a publisher moved to the quarantine before the horizon.

    An item's time is the later of its modification and status-change
    times: the move into the quarantine sets the latter, so nothing moved
    aside within the grace period goes.
    """
    try:
        items = list(os.scandir(layout.quarantine))
    except OSError:
        return
    for item in items:
        try:
            info = item.stat(follow_symlinks=False)
        except OSError:
            continue
        if max(info.st_mtime, info.st_ctime) >= horizon:
            continue
        path = Path(item.path)
        size = tree_size(path)
        if item.is_dir(follow_symlinks=False):
            gone = dry_run or delete_or_warn(path)
        else:
            gone = dry_run or unlink_quietly(path)
        if gone:
            tally.quarantine += 1
            tally.freed += size
