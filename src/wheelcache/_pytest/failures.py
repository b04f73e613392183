"""The failure record: a build that failed in this test run is not run again in it.

With pytest-xdist every worker asks for the same wheels. Successful builds are
shared through the cache (``get_or_build`` is single-flight across
processes), but a failed build leaves nothing in the cache, so each waiting
worker would take the build lock in turn and run the failing backend again.
Instead, the worker whose build fails writes a record, *before it releases the
build lock*, and every build callback reads the record first, *after it
acquired the lock*: the lock orders the two, so a worker that waited for the
failing build always sees its record and raises the same error without
building.

A record names its test run (xdist gives every worker of one run the same
``testrunuid``; without xdist, a fresh id per session), the source's key and
freshness, and the isolation, so the next test run, an edited source or a
build with other options tries again. Records live in a directory every
worker of the run shares (the parent of the workers' basetemps, under
pytest's temporary root), never in the cache, and go with pytest's own clean-up
of old temporary directories. Each record is written to a temporary file and
renamed into place, so a reader sees a whole record or none.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from typing import TYPE_CHECKING

from .._errors import BuildFailedError

if TYPE_CHECKING:
    from pathlib import Path

    from .._source import Source

__all__ = ["FailureRecord", "FailureRecords"]

logger = logging.getLogger("wheelcache")


class FailureRecords:
    """The failure records of one test run, in a directory its workers share."""

    def __init__(self, directory: Path, run_id: str) -> None:
        self.directory = directory
        self.run_id = run_id

    def record_for(self, source: Source, *, isolation: bool) -> FailureRecord:
        """The record of building *source* (at its current freshness) in this run."""
        identity = json.dumps([self.run_id, source.key, source.freshness, isolation])
        name = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()
        return FailureRecord(self.directory / f"{name}.json", source.name or source.key)


class FailureRecord:
    """Whether one build already failed in this test run, and how."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label

    def raise_if_recorded(self) -> None:
        """Raise the recorded :class:`~wheelcache.BuildFailedError`, if there is one."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            logger.debug("unreadable failure record %s", self.path, exc_info=True)
            return
        logger.info("building %s failed earlier in this test run; not building again", self.label)
        raise BuildFailedError(str(data["message"]), tuple(str(s) for s in data["output"]))

    def write(self, error: BuildFailedError) -> None:
        """Record *error* for the other workers of this test run (best effort)."""
        document = json.dumps({"message": error.message, "output": list(error.output)})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, staged = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(document)
                os.replace(staged, self.path)
            except BaseException:
                os.unlink(staged)
                raise
        except OSError:
            # Without the record, the other workers build again: slower, still right.
            logger.warning("could not record the failed build of %s", self.label, exc_info=True)
